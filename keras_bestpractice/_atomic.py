"""Crash-safe file writing: write under a temporary name, fsync, rename into place.

A reader never sees a partial file and a failed write never removes the previous
good file: the rename (`os.replace`) is atomic on POSIX and Windows file systems.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

TMP_MARKER = ".tmp-"


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a directory entry to disk so a rename in it survives a power cut."""
    if os.name == "nt":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_dir(tmp: Path, final: Path, aside: Path) -> None:
    """Rename the finished directory `tmp` to `final` so a reader sees all of it or none:
    `tmp` is fsynced; an existing `final` is first moved to `aside` (a name its readers
    skip) and removed only after the rename, whose parent directory is fsynced."""
    fsync_dir(tmp)
    replaced = None
    if final.exists():
        os.replace(final, aside)
        replaced = aside
    os.replace(tmp, final)
    fsync_dir(final.parent)
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)


def temp_sibling(path: str | os.PathLike) -> Path:
    """A unique hidden name next to `path` that keeps its suffix (formats key on it)."""
    path = Path(path)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return path.with_name(f".{path.stem}{TMP_MARKER}{token}{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed to `path`.

    On an exception the temporary file is removed and `path` is left untouched.

    Example:

    ```python
    with atomic_path("report.png") as tmp:
        fig.savefig(tmp)
    ```
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path)
    try:
        yield tmp
        if fsync and tmp.exists():
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
        if fsync:
            fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = True) -> Path:
    """Write `data` to `path` atomically and return the final path."""
    path = Path(path)
    with atomic_path(path, fsync=False) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    if fsync:
        fsync_dir(path.parent)
    return path


def atomic_write_text(
    path: str | os.PathLike, text: str, encoding: str = "utf-8", fsync: bool = True
) -> Path:
    """Write `text` to `path` atomically and return the final path."""
    return atomic_write_bytes(path, text.encode(encoding), fsync=fsync)


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure to `path` atomically, in the format its suffix names."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
    return path
