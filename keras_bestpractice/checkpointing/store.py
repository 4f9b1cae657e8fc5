"""Crash-safe checkpoint directories: atomic commit, a manifest that cannot lie, retention.

Layout of a checkpoint directory `<root>/ckpt-epoch0003-batch0002-step0000000012/`
(names count what Keras prints: the 3rd epoch, 2 batches into it; an end-of-epoch
checkpoint is `ckpt-epoch0003-end-step...`):

- `arrays.bin`: every array (groups weights, optimizer, seeds, metrics) back to
  back, raw bytes; the manifest says where each array starts.
- `state.json`: small JSON state (RNG states, callback states, feeder state).
- `manifest.json`, written last: an envelope `{"format": 4, "manifest_sha256": h,
  "manifest": {...}}` whose hash covers the manifest itself (canonical JSON), and
  whose manifest holds the epoch, step, monitored values, the layout of every
  array, the size of each file and its checksum (`state.json`: a sha256;
  `arrays.bin`: one CRC-32 per 64 MiB chunk, as TensorFlow's own checkpoints keep a
  CRC-32C per tensor: a restore checks them on every core at once, 2.3x faster than
  sha256 per core), the run identity and package versions. Formats 2 (one sha256 for
  the whole `arrays.bin`) and 3 (one sha256 per chunk) still load.

Reading trusts nothing: the envelope's hash, then a schema (types, required keys,
file names that are plain names of this checkpoint, every array inside
`arrays.bin` and laid out back to back), then each file's size and checksum. Any
failure of any kind makes the checkpoint *bad*: it is skipped for the previous
one with a warning naming the cause; no exception ever comes from a bad file.

A checkpoint is written into `<root>/.tmp-<name>-<pid>-<token>/`, every file is
fsynced, then the directory is renamed into place and the parent fsynced: a
reader sees a whole checkpoint or none. One process writes a root at a time
(`WriterLock`, an `fcntl` lock on `<root>/.lock` holding the writer's pid).
`<root>/latest` (a one-line pointer) is a hint for people and tools; readers
scan the checkpoints themselves, and a failed pointer write only warns.
Retention counts verified checkpoints only, never deletes the one just written
or the newest verified one, and runs only after a successful save.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import hashlib
import json
import math
import os
import re
import shutil
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keras_bestpractice._atomic import atomic_write_text, commit_dir
from keras_bestpractice._core.compare import Direction
from keras_bestpractice._warnings import warn
from keras_bestpractice.checkpointing.retention import Entry, best_entry, select_retained

FORMAT_VERSION = 4
READABLE_FORMATS = (2, 3, 4)
PREFIX = "ckpt-"
MANIFEST = "manifest.json"
ARRAYS = "arrays.bin"
STATE = "state.json"
FILES = (ARRAYS, STATE)
POINTER = "latest"
LOCK = ".lock"
TMP = ".tmp-"
CHUNK = 16 * 1024 * 1024
READ_CHUNK = 4 * 1024 * 1024
#: How much of a file is written before it is flushed and dropped from the page cache
#: (`_write_buffers`).
WRITEBACK_CHUNK = 32 * 1024 * 1024
# `arrays.bin` is checksummed in chunks of this size (formats 3 and 4): a restore checks
# them on several cores at once (issue #24: one sha256 over a 1 GiB file took 0.64 s,
# twice as long as Keras's whole `load_weights`; per chunk on two cores 0.33 s, still
# 1.44x `load_weights` for a full restore; CRC-32 per chunk, format 4, 0.13 s).
HASH_CHUNK = 64 * 1024 * 1024
VERIFY_THREADS = max(1, min(4, os.cpu_count() or 1))
GROUPS = ("weights", "optimizer", "seeds", "metrics")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX8 = re.compile(r"[0-9a-f]{8}")


class _Crc32:
    """`zlib.crc32` with hashlib's `update`/`hexdigest` (it releases the GIL for large
    buffers, as `sha256.update` does)."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data) -> None:
        self.value = zlib.crc32(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value:08x}"


# The per-chunk checksums `arrays.bin` may carry: manifest key -> (new checksum, its form).
CHUNK_CHECKSUMS = {"chunk_crc32": (_Crc32, _HEX8),     # format 4 (written)
                   "chunk_sha256": (hashlib.sha256, _HEX64)}  # format 3 (read)
CHUNK_CHECKSUM = "chunk_crc32"
_TMP_PID = re.compile(r"-(\d+)-[0-9a-f]{6,8}$")


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the previous good checkpoint is intact."""


class CheckpointLockedError(RuntimeError):
    """Another process is writing checkpoints to the same directory."""


def checkpoint_name(epoch: int, step: int, batch: int | None = None) -> str:
    """The directory name: the epoch as Keras prints it (1-based), where in it, the step.

    `epoch` is Keras's 0-based index; `batch` is the number of batches done in
    that epoch (`None` for the end of the epoch).
    """
    where = "end" if batch is None else f"batch{int(batch):04d}"
    return f"{PREFIX}epoch{int(epoch) + 1:04d}-{where}-step{int(step):010d}"


def canonical(manifest: Mapping[str, Any]) -> bytes:
    """The bytes the manifest hash covers (sorted keys, no spaces)."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"),
                      default=_json_default).encode()


# ---------------------------------------------------------------- the schema
def _is_int(value: Any, minimum: int | None = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and (
        minimum is None or value >= minimum)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(float(value))


def check_manifest(manifest: Any) -> str | None:
    """`None` when `manifest` has the shape of a format-2 manifest, else what is wrong.

    Checks types and required keys, that `resume_at` follows from where the
    checkpoint was saved, that the files are exactly this format's plain file
    names with a sha256 and a size, and that every array is a plain dtype whose
    bytes are where the layout says, back to back inside `arrays.bin`.
    """
    if not isinstance(manifest, dict):
        return "the manifest is not a JSON object"
    required = {"epoch": int, "global_step": int, "epoch_boundary": bool, "resume_at": dict,
                "files": dict, "arrays": dict, "sequence": int, "monitor": str, "mode": str}
    for key, kind in required.items():
        if key not in manifest:
            return f"the manifest lacks `{key}`"
        value = manifest[key]
        if kind is int and not _is_int(value):
            return f"`{key}` is not a non-negative integer ({value!r})"
        if kind is not int and not isinstance(value, kind):
            return f"`{key}` is not a {kind.__name__}"
    if manifest["mode"] not in ("min", "max"):
        return f"`mode` is {manifest['mode']!r}"
    batch = manifest.get("batch")
    if manifest["epoch_boundary"]:
        expected = {"epoch": manifest["epoch"] + 1, "batch": 0}
        if batch is not None:
            return "an end-of-epoch checkpoint names a batch"
    else:
        if not _is_int(batch):
            return f"a mid-epoch checkpoint has batch {batch!r}"
        expected = {"epoch": manifest["epoch"], "batch": batch + 1}
    if manifest["resume_at"] != expected:
        return f"`resume_at` {manifest['resume_at']!r} does not follow from where it was " \
               f"saved ({expected!r})"
    value = manifest.get("monitor_value")
    if value is not None and not _is_number(value):
        return f"`monitor_value` is {value!r}"
    files = manifest["files"]
    if set(files) != set(FILES):
        return f"the manifest lists files {sorted(files)!r}, not {list(FILES)!r}"
    for name, info in files.items():
        if not isinstance(info, dict) or not _is_int(info.get("size")):
            return f"the entry of {name} is not a sha256 and a size"
        kind = _chunk_kind(info) if name == ARRAYS else None
        if kind is not None:
            chunk, digests, form = info.get("chunk_size"), info[kind], CHUNK_CHECKSUMS[kind][1]
            if not _is_int(chunk, 1) or not isinstance(digests, list) or \
                    len(digests) != math.ceil(info["size"] / chunk) or \
                    not all(form.fullmatch(str(d)) for d in digests):
                return (f"the entry of {name} is not a chunk size and one "
                        f"{kind[len('chunk_'):]} per chunk")
        elif not _HEX64.fullmatch(str(info.get("sha256"))):
            return f"the entry of {name} is not a sha256 and a size"
    items = []
    for group, layout in manifest["arrays"].items():
        if group not in GROUPS or not isinstance(layout, list):
            return f"unknown array group {group!r}"
        for item in layout:
            if not isinstance(item, dict) or not _is_int(item.get("offset")):
                return f"array group {group!r}: an entry without an offset"
            items.append((item["offset"], group, item))
    end = 0
    # Every array where the layout says, back to back (groups in any order).
    for _, group, item in sorted(items, key=lambda t: (t[0], t[2].get("nbytes", 0) != 0)):
        problem = _check_array(item, end)
        if problem is not None:
            return f"array group {group!r}: {problem}"
        end += item["nbytes"]
    if end != files[ARRAYS]["size"]:
        return f"the arrays take {end} bytes but {ARRAYS} has {files[ARRAYS]['size']}"
    if "weights" not in manifest["arrays"]:
        return "the manifest has no weights"
    return None


def _chunk_kind(info: Mapping[str, Any]) -> str | None:
    """Which per-chunk checksum a file entry carries (`None`: one sha256 for the file)."""
    return next((kind for kind in CHUNK_CHECKSUMS if kind in info), None)


def _check_array(item: Any, offset: int) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return "an array entry without a name"
    try:
        dtype = np.dtype(item.get("dtype"))
    except (TypeError, ValueError):
        return f"{item['name']}: dtype {item.get('dtype')!r} is not a dtype"
    if dtype.hasobject or dtype.fields is not None or dtype.itemsize == 0:
        return f"{item['name']}: dtype {dtype} is not a plain numeric dtype"
    if dtype.byteorder not in ("=", "|", "<" if sys.byteorder == "little" else ">"):
        return f"{item['name']}: dtype {item['dtype']!r} is not this machine's byte order"
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(_is_int(d) for d in shape):
        return f"{item['name']}: shape {shape!r}"
    if not _is_int(item.get("offset")) or item["offset"] != offset:
        return f"{item['name']}: offset {item.get('offset')!r} (expected {offset})"
    if not _is_int(item.get("nbytes")) or \
            item["nbytes"] != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        return f"{item['name']}: {item.get('nbytes')!r} bytes for shape {shape} of {dtype}"
    return None


@dataclass
class Checkpoint:
    """A committed checkpoint directory and its manifest (checked on open)."""

    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def step(self) -> int:
        return int(self.manifest["global_step"])

    @property
    def epoch(self) -> int:
        """Keras's 0-based index of the epoch the checkpoint was saved in."""
        return int(self.manifest["epoch"])

    @property
    def sequence(self) -> int:
        """Position among the checkpoints of its directory (newest is highest)."""
        return int(self.manifest["sequence"])

    @property
    def epoch_boundary(self) -> bool:
        return bool(self.manifest["epoch_boundary"])

    @property
    def value(self) -> float | None:
        value = self.manifest.get("monitor_value")
        return None if value is None else float(value)

    def entry(self) -> Entry:
        return Entry(self.name, self.step, self.value, self.epoch_boundary, self.sequence)

    @classmethod
    def open(cls, path: Path) -> tuple[Checkpoint | None, str | None]:
        """`(checkpoint, None)`, or `(None, what is wrong)` for a manifest that cannot be
        read, fails its hash or its schema. Never raises for a bad file."""
        try:
            envelope = json.loads((path / MANIFEST).read_bytes())
        except (OSError, ValueError) as exc:
            return None, f"{MANIFEST} cannot be read ({type(exc).__name__})"
        if not isinstance(envelope, dict) or envelope.get("format") not in READABLE_FORMATS:
            kind = envelope.get("format") if isinstance(envelope, dict) else None
            readable = " or ".join(str(f) for f in READABLE_FORMATS)
            return None, (f"{MANIFEST} is not a format-{readable} envelope (format "
                          f"{kind!r}: an older development version, or damage)")
        manifest, digest = envelope.get("manifest"), envelope.get("manifest_sha256")
        if not isinstance(manifest, dict) or not isinstance(digest, str) or \
                hashlib.sha256(canonical(manifest)).hexdigest() != digest:
            return None, f"{MANIFEST} does not match its own sha256 (damaged)"
        problem = check_manifest(manifest)
        if problem is not None:
            return None, f"{MANIFEST}: {problem}"
        return cls(path, manifest, digest), None

    # ------------------------------------------------------------------ reading
    def verify(self) -> str | None:
        """`None` when every file has its size and checksum, else what is wrong."""
        for name, info in self.manifest["files"].items():
            path = self.path / name
            try:
                if path.is_symlink() or not path.is_file():
                    return f"{name} is missing"
                if path.stat().st_size != info["size"]:
                    return f"{name} has {path.stat().st_size} bytes, not {info['size']} " \
                           "(truncated or replaced)"
                kind = _chunk_kind(info)
                if kind is not None:
                    bad = _bad_chunk(path, info["size"], info["chunk_size"], info[kind],
                                     CHUNK_CHECKSUMS[kind][0])
                    if bad is not None:
                        return (f"{name} does not match its {kind[len('chunk_'):]} at chunk "
                                f"{bad} (corrupted)")
                elif _sha256_file(path) != info["sha256"]:
                    return f"{name} does not match its sha256 (corrupted)"
            except OSError as exc:
                return f"{name} cannot be read ({exc})"
        return None

    def fingerprint(self) -> tuple:
        """What the verification of this checkpoint depends on (for caching it)."""
        stats = []
        for name in FILES:
            try:
                st = (self.path / name).stat()
                stats.append((st.st_size, st.st_mtime_ns, st.st_ino))
            except OSError:
                stats.append(None)
        return (self.name, self.manifest_sha256, tuple(stats))

    def read_arrays(self, group: str) -> list[np.ndarray]:
        """The arrays of `group`, in the order they were written."""
        return list(self.iter_arrays(group))

    def array_shapes(self, group: str) -> list[tuple[int, ...]]:
        """The shapes of `group`'s arrays, from the manifest (nothing is read)."""
        return [tuple(item["shape"]) for item in self.manifest["arrays"].get(group, [])]

    def iter_arrays(self, group: str):
        """`group`'s arrays one at a time, each read from `arrays.bin` straight into its
        own new array: holding one array at a time, a restore needs the memory of the
        largest array, not of the file, and no other group's bytes are read."""
        layout = self.manifest["arrays"].get(group) or []
        if not layout:
            return
        with open(self.path / ARRAYS, "rb", buffering=0) as handle:
            for item in layout:
                dtype = np.dtype(item["dtype"])
                nbytes = int(item["nbytes"])
                arr = np.empty(item["shape"], dtype=dtype)
                if nbytes:
                    handle.seek(int(item["offset"]))
                    view = memoryview(arr.reshape(-1)).cast("B")
                    done = 0
                    while done < nbytes:
                        got = handle.readinto(view[done:])
                        if not got:
                            raise OSError(f"{ARRAYS} ends inside {item['name']!r} "
                                          "(truncated after it was verified)")
                        done += got
                    del view
                yield arr
                del arr  # before the next one is allocated: one array alive at a time

    def array_names(self, group: str) -> list[str]:
        return [item["name"] for item in self.manifest["arrays"].get(group, [])]

    def read_state(self) -> dict[str, Any]:
        state = json.loads((self.path / STATE).read_text())
        return state if isinstance(state, dict) else {}


def _sha256_file(path: Path) -> str:
    """The file's sha256, read through one reused 4 MiB buffer (memory independent of the
    file's size)."""
    digest = hashlib.sha256()
    buffer = bytearray(READ_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while True:
            got = handle.readinto(buffer)
            if not got:
                break
            digest.update(view[:got])
    return digest.hexdigest()


def _bad_chunk(path: Path, size: int, chunk: int, digests: list[str],
               checksum=_Crc32) -> int | None:
    """The index of the first `chunk`-byte piece of the file whose checksum (a new
    `checksum()` per piece) differs, or `None` when all match. The pieces are checked on
    `VERIFY_THREADS` threads at once (each with its own handle and a 4 MiB buffer:
    `readinto` and the checksum's `update` release the GIL)."""

    def matches(i: int) -> bool:
        digest = checksum()
        buffer = bytearray(min(READ_CHUNK, chunk))
        view = memoryview(buffer)
        left = min(chunk, size - i * chunk)
        with open(path, "rb", buffering=0) as handle:
            handle.seek(i * chunk)
            while left > 0:
                got = handle.readinto(view[:min(len(buffer), left)])
                if not got:
                    return False
                digest.update(view[:got])
                left -= got
            return digest.hexdigest() == digests[i]

    count = len(digests)
    if count <= 1 or VERIFY_THREADS == 1:
        return next((i for i in range(count) if not matches(i)), None)
    with concurrent.futures.ThreadPoolExecutor(max_workers=VERIFY_THREADS) as pool:
        for i, ok in enumerate(pool.map(matches, range(count))):
            if not ok:
                return i
    return None


def _chunk_digests(buffers: list[memoryview], chunk: int = HASH_CHUNK,
                   checksum=_Crc32) -> list[str]:
    """One checksum per `chunk` bytes of the buffers laid back to back (the last may be
    shorter), as `_bad_chunk` checks them."""
    digests: list[str] = []
    digest, filled = checksum(), 0
    for buf in buffers:
        pos, n = 0, len(buf)
        while pos < n:
            take = min(chunk - filled, n - pos, CHUNK)
            digest.update(buf[pos:pos + take])  # releases the GIL for large pieces
            pos += take
            filled += take
            if filled == chunk:
                digests.append(digest.hexdigest())
                digest, filled = checksum(), 0
    if filled:
        digests.append(digest.hexdigest())
    return digests


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    for module in ("tensorflow", "keras", "keras_tuner", "keras_bestpractice", "jax", "torch"):
        mod = sys.modules.get(module)
        if mod is not None and hasattr(mod, "__version__"):
            out[module] = str(mod.__version__)
    return out


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WriterLock:
    """An advisory `fcntl` lock on `<root>/.lock`: one writing process per directory.

    The lock file holds the holder's pid (for the error message). The operating
    system releases the lock when the holder dies, so a crashed run never blocks
    the next one. Where `fcntl` is missing (Windows), locking is skipped.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Raises `CheckpointLockedError` naming the holder's pid when it is held."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise CheckpointLockedError(
                f"another process (pid {holder}) is writing checkpoints to "
                f"{str(self.root)!r}; two writers would overwrite each other's checkpoints. "
                "Wait for it to finish, or give this run its own directory."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


class CheckpointStore:
    """The checkpoints under one root directory.

    Verification (reading every file) is cached per checkpoint by what it depends
    on (name, manifest hash, file sizes, modification times and inodes), so a
    checkpoint is hashed once per store however often retention looks at it.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._verified: dict[tuple, str | None] = {}
        self._warned: set[str] = set()

    # ----------------------------------------------------------------- listing
    def scan(self) -> tuple[list[Checkpoint], dict[str, str]]:
        """`(checkpoints with a sound manifest, oldest first; {name: problem} of the
        others)`; file contents are not read here."""
        good: list[Checkpoint] = []
        bad: dict[str, str] = {}
        if not self.root.is_dir():
            return good, bad
        for path in self.root.iterdir():
            if not path.name.startswith(PREFIX) or path.is_symlink() or not path.is_dir():
                continue
            ckpt, problem = Checkpoint.open(path)
            if ckpt is None:
                bad[path.name] = problem
            else:
                good.append(ckpt)
        good.sort(key=lambda c: (c.sequence, c.step, c.name))
        return good, bad

    def committed(self) -> list[Checkpoint]:
        """Checkpoints whose manifest is sound, oldest first (files not yet verified)."""
        return self.scan()[0]

    def problem(self, ckpt: Checkpoint) -> str | None:
        """`ckpt.verify()`, cached."""
        key = ckpt.fingerprint()
        if key not in self._verified:
            self._verified[key] = ckpt.verify()
        return self._verified[key]

    def _report(self, name: str, problem: str, what: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            warn(f"checkpoint {str(self.root / name)!r} is damaged ({problem}); {what}.")

    def verified(self, warn_damaged: bool = True) -> list[Checkpoint]:
        """Checkpoints that pass every check, newest first."""
        committed, bad = self.scan()
        out = []
        for ckpt in reversed(committed):
            problem = self.problem(ckpt)
            if problem is None:
                out.append(ckpt)
            else:
                bad[ckpt.name] = problem
        if warn_damaged:
            for name, problem in sorted(bad.items()):
                self._report(name, problem, "skipping it")
        return out

    def good(self, warn_corrupt: bool = True) -> list[Checkpoint]:
        """Alias of `verified` (newest first)."""
        return self.verified(warn_damaged=warn_corrupt)

    def latest(self, epoch_boundary_only: bool = False) -> Checkpoint | None:
        """The newest checkpoint that passes every check (skipping bad ones, with a warning)."""
        committed, bad = self.scan()
        for name, problem in sorted(bad.items()):
            self._report(name, problem, "using an older one")
        for ckpt in reversed(committed):
            if epoch_boundary_only and not ckpt.epoch_boundary:
                continue
            problem = self.problem(ckpt)
            if problem is None:
                return ckpt
            self._report(ckpt.name, problem, "using an older one")
        return None

    def best(self, mode: Direction) -> Checkpoint | None:
        """The verified checkpoint with the best monitored value, or `None`."""
        candidates = {c.name: c for c in self.verified()}
        entry = best_entry([c.entry() for c in candidates.values()], mode)
        return None if entry is None else candidates[entry.name]

    def next_sequence(self) -> int:
        committed, _ = self.scan()
        return 1 + max((c.sequence for c in committed), default=0)

    def clean_temporaries(self) -> list[str]:
        """Remove leftovers of interrupted writes and deletions: this process's own and
        those of processes that no longer run. Returns the removed names."""
        removed = []
        if not self.root.is_dir():
            return removed
        for path in self.root.iterdir():
            if TMP not in path.name:  # ours: `.tmp-...`, and the pointer's `.latest.tmp-...`
                continue
            match = _TMP_PID.search(path.name)
            if match is None or _pid_alive(int(match.group(1))) and \
                    int(match.group(1)) != os.getpid():
                continue  # another live process's, or not ours to judge
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
            removed.append(path.name)
        return removed

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
            CheckpointWriteError: when anything before the commit fails; nothing
                is left behind and earlier checkpoints are untouched. (The
                `latest` pointer is written after the commit; a failure there
                only warns.)
        """
        token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = self.root / f"{TMP}{name}-{token}"
        final = self.root / name
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            files: dict[str, dict[str, Any]] = {}
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
                digests = hasher.submit(_chunk_digests, buffers, HASH_CHUNK,
                                        CHUNK_CHECKSUMS[CHUNK_CHECKSUM][0])
                _write_buffers(tmp / ARRAYS, buffers)
                state_bytes = json.dumps(state, default=_json_default).encode()
                _write_buffers(tmp / STATE, [memoryview(state_bytes)])
                files[STATE] = {"sha256": hashlib.sha256(state_bytes).hexdigest(),
                                "size": len(state_bytes)}
                files[ARRAYS] = {"chunk_size": HASH_CHUNK,
                                 CHUNK_CHECKSUM: digests.result(), "size": offset}
            full = json.loads(json.dumps(dict(manifest), default=_json_default))
            full.update({"format": FORMAT_VERSION, "files": files, "arrays": layouts,
                         "versions": versions(), "saved_at": time.time()})
            problem = check_manifest(full)
            if problem is not None:
                raise ValueError(f"refusing to write an unsound manifest: {problem}")
            digest_hex = hashlib.sha256(canonical(full)).hexdigest()
            envelope = {"format": FORMAT_VERSION, "manifest_sha256": digest_hex,
                        "manifest": full}
            _write_buffers(tmp / MANIFEST, [memoryview(json.dumps(
                envelope, indent=1, sort_keys=True, default=_json_default).encode())])
            # The same name twice: the old one is moved aside (a temporary name) first.
            commit_dir(tmp, final, self.root / f"{TMP}delete-{name}-{token}")
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise CheckpointWriteError(
                f"could not write checkpoint {name!r} under {str(self.root)!r}: {exc}. The "
                "previous checkpoints are untouched."
            ) from exc
        ckpt = Checkpoint(final, full, digest_hex)
        self._verified[ckpt.fingerprint()] = None  # written and hashed by this process
        self.write_pointer(name)
        return ckpt

    def write_pointer(self, name: str) -> bool:
        """Point `latest` at `name`; a failure warns (readers do not need it)."""
        try:
            # A convenience, so replaced atomically but not fsynced.
            atomic_write_text(self.root / POINTER, name + "\n", fsync=False)
            return True
        except OSError as exc:
            warn(f"PeriodicCheckpoint: checkpoint {name} is committed, but the `latest` "
                 f"pointer could not be written ({exc}); training goes on (readers find the "
                 "newest checkpoint without it).")
            return False

    def apply_retention(self, keep_last: int, keep_best: int, mode: Direction,
                        protect: str | None = None, background: bool = True) -> list[str]:
        """Delete verified checkpoints outside the retained set; returns the deleted names.

        Only verified checkpoints count and can be deleted; damaged ones are left
        where they are (they are not counted as kept). `protect` (the checkpoint
        just written) and the newest verified checkpoint are never deleted. Each
        doomed checkpoint is first renamed to a temporary name (atomic: it stops
        being a committed checkpoint at once), then its files are removed, in a
        background thread by default.
        """
        verified = self.verified(warn_damaged=True)
        if not verified:
            return []
        keep = select_retained([c.entry() for c in verified], keep_last, keep_best, mode)
        keep.add(verified[0].name)
        if protect is not None:
            keep.add(protect)
        deleted, doomed = [], []
        for ckpt in verified:
            if ckpt.name not in keep:
                target = self.root / f"{TMP}delete-{ckpt.name}-{os.getpid()}-" \
                                     f"{uuid.uuid4().hex[:6]}"
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
    """Write the buffers back to back into a new file and make it durable.

    Every `WRITEBACK_CHUNK` bytes are flushed to disk (`fdatasync`) and dropped from the
    page cache (`POSIX_FADV_DONTNEED`) before the next are written, where the platform
    has `posix_fadvise`. Issue #24: writing a 1 GiB file into the page cache and
    fsyncing it at the end cost 2.7-4.0 s of kernel time per GiB on the 2-core machine
    (the cache grows by the whole file, and the kernel reclaims and writes it back while
    training runs); flushed and dropped in 32 MiB pieces the same write costs 0.3-0.5 s
    and finishes sooner. The file is read back only to restore, from disk either way.
    """
    drop = getattr(os, "posix_fadvise", None)
    with open(path, "wb", buffering=0) as handle:
        fd, written, synced = handle.fileno(), 0, 0
        for buf in buffers:
            for start in range(0, len(buf), CHUNK):
                piece = buf[start:start + CHUNK]
                while piece:
                    n = handle.write(piece)
                    piece = piece[n:]
                    written += n
                if drop is not None and written - synced >= WRITEBACK_CHUNK:
                    os.fdatasync(fd)
                    drop(fd, synced, written - synced, os.POSIX_FADV_DONTNEED)
                    synced = written
        os.fsync(fd)
        if drop is not None and written > synced:
            drop(fd, synced, written - synced, os.POSIX_FADV_DONTNEED)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)
