"""Crash-safe checkpoint directories: atomic commit, manifest with hashes, retention.

Layout of a checkpoint directory `<root>/ckpt-e000012-s0000003840/`:

- `manifest.json`: epoch, step, monitored values, the layout of every array
  group, the sha256 of every file, package versions. Written last.
- `arrays.bin`: every array (groups weights, optimizer, seeds, metrics) back to
  back, raw bytes; `manifest.json` says where each array starts.
- `state.json`: small JSON state (RNG states, callback states, feeder state).

A checkpoint is written into `<root>/.tmp-<name>-<pid>-<token>/`, every file is
fsynced, then the directory is renamed into place and the parent fsynced: a
reader sees a whole checkpoint or none. `<root>/latest` (a one-line pointer) is
replaced atomically afterwards. Old checkpoints are deleted only after the new
one is committed, so a failed write never removes the last good one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keras_bestpractice._atomic import atomic_write_text, fsync_dir
from keras_bestpractice._warnings import warn
from keras_bestpractice.checkpointing.retention import Entry, best_entry, select_retained

FORMAT_VERSION = 1
PREFIX = "ckpt-"
MANIFEST = "manifest.json"
ARRAYS = "arrays.bin"
POINTER = "latest"
CHUNK = 16 * 1024 * 1024


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the previous good checkpoint is intact."""


def checkpoint_name(epoch: int, step: int) -> str:
    return f"{PREFIX}e{int(epoch):06d}-s{int(step):010d}"


@dataclass
class Checkpoint:
    """A committed checkpoint directory and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def step(self) -> int:
        return int(self.manifest.get("global_step", 0))

    @property
    def epoch(self) -> int:
        return int(self.manifest.get("epoch", 0))

    @property
    def epoch_boundary(self) -> bool:
        return bool(self.manifest.get("epoch_boundary", False))

    @property
    def value(self) -> float | None:
        value = self.manifest.get("monitor_value")
        return None if value is None else float(value)

    def entry(self) -> Entry:
        return Entry(self.name, self.step, self.value, self.epoch_boundary)

    @classmethod
    def open(cls, path: Path) -> tuple[Checkpoint | None, str | None]:
        """`(checkpoint, None)` when `path` holds a checkpoint that passes its checks,
        else `(checkpoint or None, what is wrong)`. Never raises for a bad file."""
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            return None, f"{MANIFEST} cannot be read ({exc})"
        if not isinstance(manifest, dict):
            return None, f"{MANIFEST} is not a JSON object"
        ckpt = cls(path, manifest)
        return ckpt, ckpt.verify()

    # ------------------------------------------------------------------ reading
    def verify(self) -> str | None:
        """`None` when every file matches its sha256, else what is wrong."""
        files = self.manifest.get("files")
        if not isinstance(files, dict) or not files:
            return "manifest lists no files"
        for name, digest in files.items():
            path = self.path / name
            if not path.is_file():
                return f"{name} is missing"
            if _sha256_file(path) != digest:
                return f"{name} does not match its sha256 (truncated or corrupted)"
        return None

    def read_arrays(self, group: str) -> list[np.ndarray]:
        """The arrays of `group`, in the order they were written."""
        layout = self.manifest.get("arrays", {}).get(group)
        if layout is None:
            return []
        data = self._data()
        out = []
        for item in layout:
            dtype = np.dtype(item["dtype"])
            start, nbytes = int(item["offset"]), int(item["nbytes"])
            arr = np.frombuffer(data, dtype=dtype, count=nbytes // max(dtype.itemsize, 1),
                                offset=start) if nbytes else np.zeros(0, dtype)
            out.append(arr.reshape(item["shape"]).copy())
        return out

    def _data(self) -> bytes:
        if getattr(self, "_cached", None) is None:
            self._cached = (self.path / ARRAYS).read_bytes()
        return self._cached

    def array_names(self, group: str) -> list[str]:
        return [item["name"] for item in self.manifest.get("arrays", {}).get(group, [])]

    def read_state(self) -> dict[str, Any]:
        path = self.path / "state.json"
        return json.loads(path.read_text()) if path.exists() else {}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def _hash_buffers(buffers: list[memoryview]) -> str:
    digest = hashlib.sha256()
    for buf in buffers:
        for start in range(0, len(buf), CHUNK):
            digest.update(buf[start:start + CHUNK])  # releases the GIL for large chunks
    return digest.hexdigest()


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    for module in ("tensorflow", "keras", "keras_tuner", "keras_bestpractice"):
        mod = sys.modules.get(module)
        if mod is not None and hasattr(mod, "__version__"):
            out[module] = str(mod.__version__)
    return out


class CheckpointStore:
    """The checkpoints under one root directory."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    # ----------------------------------------------------------------- listing
    def committed(self) -> list[Checkpoint]:
        """Committed checkpoints with a readable manifest, oldest first (unverified)."""
        if not self.root.is_dir():
            return []
        out = []
        for path in self.root.iterdir():
            if not path.is_dir() or not path.name.startswith(PREFIX):
                continue
            try:
                manifest = json.loads((path / MANIFEST).read_text())
            except (OSError, ValueError):
                continue  # a checkpoint without a readable manifest was never committed
            out.append(Checkpoint(path, manifest))
        out.sort(key=lambda c: (c.step, c.epoch, c.name))
        return out

    def good(self, warn_corrupt: bool = True) -> list[Checkpoint]:
        """Committed checkpoints that pass their hash check, newest first."""
        out = []
        for ckpt in reversed(self.committed()):
            problem = ckpt.verify()
            if problem is None:
                out.append(ckpt)
            elif warn_corrupt:
                warn(f"checkpoint {str(ckpt.path)!r} is damaged ({problem}); skipping it.")
        return out

    def latest(self, epoch_boundary_only: bool = False) -> Checkpoint | None:
        """The newest checkpoint that passes its hash check."""
        for ckpt in reversed(self.committed()):
            if epoch_boundary_only and not ckpt.epoch_boundary:
                continue
            problem = ckpt.verify()
            if problem is None:
                return ckpt
            warn(f"checkpoint {str(ckpt.path)!r} is damaged ({problem}); using an older one.")
        return None

    def best(self, mode: str) -> Checkpoint | None:
        """The checkpoint with the best monitored value that passes its hash check."""
        candidates = {c.name: c for c in self.committed()}
        while candidates:
            entry = best_entry([c.entry() for c in candidates.values()], mode)
            if entry is None:
                return None
            ckpt = candidates.pop(entry.name)
            problem = ckpt.verify()
            if problem is None:
                return ckpt
            warn(f"checkpoint {str(ckpt.path)!r} is damaged ({problem}); skipping it.")
        return None

    def clean_temporaries(self) -> None:
        """Remove leftovers of writes that were interrupted (never committed)."""
        if not self.root.is_dir():
            return
        for path in self.root.iterdir():
            if path.name.startswith(".tmp-"):
                shutil.rmtree(path, ignore_errors=True)

    # ----------------------------------------------------------------- writing
    def write(
        self,
        name: str,
        arrays: Mapping[str, list[tuple[str, np.ndarray]]],
        state: Mapping[str, Any],
        manifest: Mapping[str, Any],
    ) -> Checkpoint:
        """Write and commit one checkpoint atomically; returns it.

        Raises:
            CheckpointWriteError: when anything fails; nothing is left behind and
                earlier checkpoints are untouched.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        final = self.root / name
        try:
            tmp.mkdir()
            files: dict[str, str] = {}
            layouts: dict[str, list[dict[str, Any]]] = {}
            buffers: list[memoryview] = []
            offset = 0
            for group, items in arrays.items():
                layout = []
                for array_name, value in items:
                    arr = np.asarray(value)
                    if not arr.flags.c_contiguous:
                        arr = arr.copy(order="C")  # keeps 0-d shapes, unlike ascontiguous
                    layout.append({"name": array_name, "dtype": arr.dtype.str,
                                   "shape": list(arr.shape), "offset": offset,
                                   "nbytes": arr.nbytes})
                    if arr.nbytes:
                        buffers.append(memoryview(arr.reshape(-1)).cast("B"))
                    offset += arr.nbytes
                layouts[group] = layout
            # One file for every array (one fsync), hashed in a second thread while
            # this one writes the same bytes (both release the GIL).
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as hasher:
                digest = hasher.submit(_hash_buffers, buffers)
                _write_buffers(tmp / ARRAYS, buffers)
                state_bytes = json.dumps(state, default=_json_default).encode()
                _write_buffers(tmp / "state.json", [memoryview(state_bytes)])
                files["state.json"] = hashlib.sha256(state_bytes).hexdigest()
                files[ARRAYS] = digest.result()
            full = dict(manifest)
            full.update({"format": FORMAT_VERSION, "files": files, "arrays": layouts,
                         "versions": versions(), "saved_at": time.time()})
            manifest_bytes = json.dumps(full, indent=1, default=_json_default).encode()
            _write_buffers(tmp / MANIFEST, [memoryview(manifest_bytes)])
            fsync_dir(tmp)
            if final.exists():  # the same step saved twice (e.g. SIGTERM right after a save)
                shutil.rmtree(final)
            os.replace(tmp, final)
            fsync_dir(self.root)
            # The pointer is a convenience (readers scan the committed directories),
            # so it is replaced atomically but not fsynced.
            atomic_write_text(self.root / POINTER, name + "\n", fsync=False)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise CheckpointWriteError(
                f"could not write checkpoint {name!r} under {str(self.root)!r}: {exc}. The "
                "previous checkpoints are untouched."
            ) from exc
        return Checkpoint(final, full)

    def apply_retention(self, keep_last: int, keep_best: int, mode: str,
                        background: bool = True) -> list[str]:
        """Delete checkpoints outside the retained set; returns the deleted names.

        Each one is first renamed to a temporary name (atomic: it stops being a
        committed checkpoint at once), then its files are removed, in a
        background thread by default (unlinking a large file takes time).
        """
        committed = self.committed()
        keep = select_retained([c.entry() for c in committed], keep_last, keep_best, mode)
        deleted, doomed = [], []
        for ckpt in committed:
            if ckpt.name not in keep:
                target = self.root / f".tmp-delete-{ckpt.name}-{uuid.uuid4().hex[:6]}"
                with contextlib.suppress(OSError):
                    os.replace(ckpt.path, target)
                    doomed.append(target)
                    deleted.append(ckpt.name)
        if doomed:
            if background:
                threading.Thread(target=_remove_all, args=(doomed,), daemon=True,
                                 name="checkpoint-retention").start()
            else:
                _remove_all(doomed)
        return deleted


def _remove_all(paths: list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _write_buffers(path: Path, buffers: list[memoryview]) -> None:
    with open(path, "wb") as handle:
        for buf in buffers:
            for start in range(0, len(buf), CHUNK):
                handle.write(buf[start:start + CHUNK])
        handle.flush()
        os.fsync(handle.fileno())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)
