"""The one declaration of the pure core: which modules never import Keras.

A module (or every module of a package) named here imports only the standard
library, NumPy, pandas and (lazily, for plots) matplotlib, and other modules
named here: no Keras, TensorFlow, KerasTuner, TensorBoard, JAX or torch, not even
through a package `__init__` or inside a function. Everything else is a Keras
adapter or an integration (`docs/architecture.md`).

`tests/test_layers.py` derives its checks from this tuple alone: every module
it covers imports only pure modules (read from the source, function-level
imports included), each one imports in a process that refuses the heavy
packages, and no module of the package imports itself back in a circle.
"""

PURE = (
    "keras_bestpractice",  # the top-level package itself (lazy re-exports only)
    "keras_bestpractice._core",
    "keras_bestpractice._atomic",
    "keras_bestpractice._internals",
    "keras_bestpractice._layers",
    "keras_bestpractice._lazy",
    "keras_bestpractice._optional",
    "keras_bestpractice._plotting",
    "keras_bestpractice._validation",
    "keras_bestpractice._warnings",
    "keras_bestpractice.cli",
    "keras_bestpractice.diagnostics",
    "keras_bestpractice.data.split",
    "keras_bestpractice.data.plan",
    "keras_bestpractice.checkpointing.retention",
    "keras_bestpractice.tuning.results",
    "keras_bestpractice.tuning.lr_analysis",
    "keras_bestpractice.tuning.planning",
    "keras_bestpractice.tuning.pruners",
    "keras_bestpractice.transfer.group_rules",
)

# Packages whose `__init__` only re-exports lazily: importing one runs no module of it.
LAZY_PACKAGES = (
    "keras_bestpractice.callbacks",
    "keras_bestpractice.checkpointing",
    "keras_bestpractice.data",
    "keras_bestpractice.deploy",
    "keras_bestpractice.hparams",
    "keras_bestpractice.metrics",
    "keras_bestpractice.transfer",
    "keras_bestpractice.tuning",
)


def is_pure(module: str) -> bool:
    """True when `module` is declared pure (itself, or a package above it)."""
    if module in LAZY_PACKAGES:
        return True
    return any(module == p or (module.startswith(p + ".") and p != "keras_bestpractice")
               for p in PURE)
