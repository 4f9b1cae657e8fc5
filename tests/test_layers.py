"""The layers, derived from one declaration (`keras_bestpractice._layers.PURE`).

- every module declared pure imports (anywhere in its source, function-level
  imports included) only pure modules of this package and no heavy library;
- each one imports in a process whose import system refuses those libraries;
- no module imports itself back through others (annotation-only imports under
  `if TYPE_CHECKING:` excepted: they never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from keras_bestpractice import _layers

pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[1] / "keras_bestpractice"
HEAVY = {"keras", "tensorflow", "keras_tuner", "tensorboard", "jax", "torch", "tf_keras"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _runtime_nodes(tree: ast.AST):
    """Every node, leaving out `if TYPE_CHECKING:` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(module: str) -> tuple[set[str], set[str]]:
    """`(modules of this package, heavy top-level packages)` that `module` imports."""
    ours, heavy = set(), set()
    path = MODULES[module]
    for node in _runtime_nodes(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if path.name == "__init__.py" else \
                    module.split(".")[:-1]
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        for name in names:
            if name.split(".")[0] in HEAVY:
                heavy.add(name.split(".")[0])
            if name in MODULES:
                ours.add(name)
    return ours, heavy


PURE_MODULES = sorted(m for m in MODULES if _layers.is_pure(m))


def test_the_declaration_names_real_modules_and_covers_the_pure_core():
    for entry in _layers.PURE + _layers.LAZY_PACKAGES:
        assert entry in MODULES, entry
    assert "keras_bestpractice._core.pruners" in PURE_MODULES
    assert "keras_bestpractice.diagnostics.rules" in PURE_MODULES
    assert "keras_bestpractice.callbacks.divergence_guard" not in PURE_MODULES


@pytest.mark.parametrize("module", PURE_MODULES)
def test_a_pure_module_imports_only_pure_modules_and_nothing_heavy(module):
    ours, heavy = _imports(module)
    assert not heavy, f"{module} imports {sorted(heavy)}"
    impure = sorted(m for m in ours if not _layers.is_pure(m))
    assert not impure, f"{module} (declared pure) imports {impure}"


def test_every_pure_module_imports_where_keras_cannot(tmp_path):
    script = tmp_path / "refuse.py"
    script.write_text(f"""
import importlib, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {sorted(HEAVY)!r}:
            raise ImportError("refused: " + name)
        return None

sys.meta_path.insert(0, Refuse())
for name in {PURE_MODULES!r}:
    importlib.import_module(name)
print("imported", len({PURE_MODULES!r}))
""")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["imported", str(len(PURE_MODULES))]


def test_no_module_imports_itself_back():
    graph = {m: _imports(m)[0] - {m} for m in MODULES}
    # A package's own __init__ importing its modules is the lazy re-export pattern,
    # and a module importing its package runs that __init__: leave those edges out.
    for module, targets in graph.items():
        graph[module] = {t for t in targets
                         if not (t.startswith(module + ".") or module.startswith(t + "."))}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


def test_no_module_writes_another_objects_private_attributes():
    """Issue #22: what a caller needs is public or passed in; the one library hook that has
    no public form is written in `_internals` only. (`_keras_bestpractice_*` is our own
    tag on a tf.data dataset, not another package's attribute.)"""
    writes = []
    for module, path in MODULES.items():
        if module == "keras_bestpractice._internals":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if isinstance(t, ast.Attribute) and t.attr.startswith("_") and \
                            not t.attr.startswith(("__", "_keras_bestpractice_")) and \
                            not (isinstance(t.value, ast.Name) and t.value.id in ("self", "cls")):
                        writes.append(f"{module}:{node.lineno} {ast.unparse(t)}")
    assert writes == []


def test_public_diagnosis_codes_have_one_spelling():
    from keras_bestpractice.diagnostics import catalog

    codes = catalog.code_order()
    assert "generalization_gap" in codes and "inputs_not_normalized" in codes
    assert not [c for c in codes if "isation" in c or "ised" in c]
