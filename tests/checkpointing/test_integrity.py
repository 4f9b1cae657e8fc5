"""Fault injection on the checkpoint store (issue #18): nothing bad is ever loaded or raised,
retention never loses the last good state, one writer at a time, runs keep to themselves."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_bestpractice import KerasBestPracticeWarning
from keras_bestpractice.checkpointing import store as store_mod
from keras_bestpractice.checkpointing.store import (
    Checkpoint,
    CheckpointLockedError,
    CheckpointStore,
    WriterLock,
    canonical,
    checkpoint_name,
)

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent

RNG = np.random.default_rng(0)
FIRST = {"weights": [("k", RNG.random((4, 3)).astype("float32")),
                     ("b", RNG.random(3).astype("float32"))],
         "optimizer": [("iteration", np.array(5, "int64")),
                       ("m", RNG.random((4, 3)).astype("float32")),
                       ("v", RNG.random((4, 3)).astype("float32"))]}
SECOND = copy.deepcopy(FIRST)
SECOND["weights"][0] = ("k", RNG.random((4, 3)).astype("float32"))


def manifest(epoch, step, sequence, boundary=True, value=1.0):
    return {"epoch": epoch, "batch": None if boundary else 2, "global_step": step,
            "epoch_boundary": boundary,
            "resume_at": {"epoch": epoch + 1, "batch": 0} if boundary else
            {"epoch": epoch, "batch": 3},
            "sequence": sequence, "monitor": "val_loss", "mode": "min", "monitor_value": value,
            "logs": {"val_loss": value}, "training_feeders": [], "run_identity": {}}


def two_checkpoints(root: Path) -> tuple[str, str]:
    store = CheckpointStore(root)
    a = store.write(checkpoint_name(0, 5), FIRST, {"rng": {}}, manifest(0, 5, 1)).name
    b = store.write(checkpoint_name(1, 10), SECOND, {"rng": {}}, manifest(1, 10, 2)).name
    return a, b


def weights_of(ckpt):
    return ckpt.read_arrays("weights")


def same(arrays, reference):
    return all(np.array_equal(a, b[1]) for a, b in zip(arrays, reference["weights"], strict=True))


def edit_manifest(path: Path, change, resign: bool):
    envelope = json.loads((path / "manifest.json").read_text())
    body = envelope["manifest"]
    change(body)
    if resign:
        envelope["manifest_sha256"] = hashlib.sha256(canonical(body)).hexdigest()
    (path / "manifest.json").write_text(json.dumps(envelope))


def swap_moments(body):
    layout = body["arrays"]["optimizer"]
    layout[1]["offset"], layout[2]["offset"] = layout[2]["offset"], layout[1]["offset"]


DAMAGE = {
    "truncated json": lambda p: (p / "manifest.json").write_text(
        (p / "manifest.json").read_text()[:120]),
    "null": lambda p: (p / "manifest.json").write_text("null"),
    "list": lambda p: (p / "manifest.json").write_text("[]"),
    "format 1 (no envelope)": lambda p: (p / "manifest.json").write_text(json.dumps(
        json.loads((p / "manifest.json").read_text())["manifest"])),
    "no manifest file": lambda p: (p / "manifest.json").unlink(),
    "resume_at edited": lambda p: edit_manifest(
        p, lambda b: b["resume_at"].update(epoch=0), resign=False),
    "moments swapped": lambda p: edit_manifest(p, swap_moments, resign=False),
    "byte order edited": lambda p: edit_manifest(
        p, lambda b: b["arrays"]["weights"][0].update(dtype=">f4"), resign=False),
    # Re-signed edits: the hash holds, the schema must catch them.
    "resigned: resume_at edited": lambda p: edit_manifest(
        p, lambda b: b["resume_at"].update(epoch=0), resign=True),
    "resigned: no resume_at": lambda p: edit_manifest(
        p, lambda b: b.pop("resume_at"), resign=True),
    "resigned: no arrays": lambda p: edit_manifest(p, lambda b: b.pop("arrays"), resign=True),
    "resigned: files omit arrays.bin": lambda p: edit_manifest(
        p, lambda b: b["files"].pop("arrays.bin"), resign=True),
    "resigned: a path outside": lambda p: edit_manifest(
        p, lambda b: b["files"].update({"../../../etc/passwd": b["files"].pop("state.json")}),
        resign=True),
    "resigned: byte order": lambda p: edit_manifest(
        p, lambda b: b["arrays"]["weights"][0].update(dtype=">f4"), resign=True),
    "resigned: offset past the end": lambda p: edit_manifest(
        p, lambda b: b["arrays"]["weights"][1].update(offset=10**6), resign=True),
    "resigned: shape edited": lambda p: edit_manifest(
        p, lambda b: b["arrays"]["weights"][0].update(shape=[5, 3]), resign=True),
    "resigned: dtype object": lambda p: edit_manifest(
        p, lambda b: b["arrays"]["weights"][0].update(dtype="|O"), resign=True),
    "resigned: mode": lambda p: edit_manifest(p, lambda b: b.update(mode="up"), resign=True),
    "arrays.bin zeroed": lambda p: (p / "arrays.bin").write_bytes(
        bytes((p / "arrays.bin").stat().st_size)),
    "arrays.bin truncated": lambda p: (p / "arrays.bin").write_bytes(
        (p / "arrays.bin").read_bytes()[:-4]),
    "state.json replaced": lambda p: (p / "state.json").write_text('{"rng": null}'),
    "arrays.bin a symlink": lambda p: ((p / "arrays.bin").unlink(),
                                       (p / "arrays.bin").symlink_to("/dev/zero")),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_every_damaged_manifest_falls_back_to_the_previous_checkpoint(tmp_path, damage):
    older, newer = two_checkpoints(tmp_path)
    DAMAGE[damage](tmp_path / newer)
    store = CheckpointStore(tmp_path)
    with pytest.warns(KerasBestPracticeWarning, match="damaged") as caught:
        latest = store.latest()
    assert latest is not None and latest.name == older
    assert same(weights_of(latest), FIRST)
    assert newer in str(caught[0].message)  # the warning names the checkpoint and the cause
    assert [c.name for c in CheckpointStore(tmp_path).verified(warn_damaged=False)] == [older]


def test_a_sound_checkpoint_opens_and_verifies(tmp_path):
    older, newer = two_checkpoints(tmp_path)
    ckpt, problem = Checkpoint.open(tmp_path / newer)
    assert problem is None and ckpt.verify() is None
    assert same(weights_of(ckpt), SECOND)
    assert newer == "ckpt-epoch0002-end-step0000000010"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine")
    return root, two_checkpoints(root)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_bit_flips_never_load_other_weights_and_never_raise(tmp_path_factory, pristine,
                                                                   data):
    source, (older, newer) = pristine
    root = tmp_path_factory.mktemp("flip") / "ckpt"
    shutil.copytree(source, root)
    victim = data.draw(st.sampled_from(["manifest.json", "arrays.bin", "state.json"]))
    path = root / newer / victim
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        bit = data.draw(st.integers(0, len(raw) * 8 - 1))
        raw[bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KerasBestPracticeWarning)
        latest = CheckpointStore(root).latest()
        assert latest is not None
        arrays = weights_of(latest)
    if latest.name == newer:  # only an edit that changes nothing (e.g. 1e-05 -> 1E-05)
        assert same(arrays, SECOND)
        assert latest.verify() is None
    else:
        assert latest.name == older and same(arrays, FIRST)


def test_retention_counts_only_verified_checkpoints(tmp_path):
    store = CheckpointStore(tmp_path)
    names = [store.write(checkpoint_name(e, 5 * (e + 1)), FIRST, {}, manifest(
        e, 5 * (e + 1), e + 1)).name for e in range(4)]
    for name in names:  # a previous run, every checkpoint damaged
        (tmp_path / name / "arrays.bin").write_bytes(b"x")
    fresh = CheckpointStore(tmp_path)
    with pytest.warns(KerasBestPracticeWarning, match="damaged"):
        new = fresh.write(checkpoint_name(0, 2), FIRST, {}, manifest(0, 2, 5)).name
        deleted = fresh.apply_retention(keep_last=1, keep_best=0, mode="min", protect=new,
                                        background=False)
    assert deleted == []  # damaged ones are neither counted nor deleted
    assert new in {p.name for p in tmp_path.glob("ckpt-*")}
    newer = fresh.write(checkpoint_name(1, 4), FIRST, {}, manifest(1, 4, 6)).name
    assert fresh.apply_retention(1, 0, "min", protect=newer, background=False) == [new]
    assert fresh.latest().name == newer


def test_a_failed_pointer_write_warns_and_the_checkpoint_stands(tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_mod, "atomic_write_text", no_space)
    store = CheckpointStore(tmp_path)
    with pytest.warns(KerasBestPracticeWarning, match="pointer could not be written"):
        ckpt = store.write(checkpoint_name(0, 5), FIRST, {}, manifest(0, 5, 1))
    assert not (tmp_path / "latest").exists()
    assert CheckpointStore(tmp_path).latest().name == ckpt.name  # found without the pointer


HOLDER = """
import sys, time
from keras_bestpractice.checkpointing.store import WriterLock
lock = WriterLock(sys.argv[1])
lock.acquire()
print("LOCKED", flush=True)
time.sleep(60)
"""


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "LOCKED"
        with pytest.raises(CheckpointLockedError, match=f"pid {holder.pid}"):
            WriterLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    lock = WriterLock(tmp_path)  # the OS released the dead holder's lock
    lock.acquire()
    lock.release()


def test_start_up_cleans_only_its_own_or_stale_temporaries(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        live_tmp = tmp_path / f".tmp-ckpt-a-{sleeper.pid}-abcdef12"
        dead_tmp = tmp_path / f".tmp-ckpt-b-{dead.pid}-abcdef12"
        own_tmp = tmp_path / f".tmp-delete-ckpt-c-{os.getpid()}-abcdef"
        for path in (live_tmp, dead_tmp, own_tmp):
            path.mkdir()
        removed = CheckpointStore(tmp_path).clean_temporaries()
        assert sorted(removed) == sorted([dead_tmp.name, own_tmp.name])
        assert live_tmp.exists() and not dead_tmp.exists() and not own_tmp.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_same_name_twice_replaces_without_a_gap(tmp_path):
    store = CheckpointStore(tmp_path)
    store.write(checkpoint_name(0, 5), FIRST, {}, manifest(0, 5, 1))
    again = store.write(checkpoint_name(0, 5), SECOND, {}, manifest(0, 5, 2))
    assert same(weights_of(CheckpointStore(tmp_path).latest()), SECOND)
    assert [p.name for p in tmp_path.glob("ckpt-*")] == [again.name]
    time.sleep(0.01)
    assert not list(tmp_path.glob(".tmp-*"))


def test_copying_a_checkpoint_elsewhere_keeps_it_valid(tmp_path):
    older, newer = two_checkpoints(tmp_path / "a")
    shutil.copytree(tmp_path / "a" / newer, tmp_path / "b" / newer)
    assert CheckpointStore(tmp_path / "b").latest().name == newer


def test_arrays_are_checksummed_per_chunk_and_a_damaged_later_chunk_is_found(tmp_path,
                                                                            monkeypatch):
    # Format 4 (issue #24): one CRC-32 per chunk of arrays.bin, checked on several threads.
    monkeypatch.setattr(store_mod, "HASH_CHUNK", 32)
    monkeypatch.setattr(store_mod, "VERIFY_THREADS", 2)
    older, newer = two_checkpoints(tmp_path)
    ckpt, problem = Checkpoint.open(tmp_path / newer)
    info = ckpt.manifest["files"]["arrays.bin"]
    assert problem is None and "sha256" not in info and ckpt.manifest["format"] == 4
    data = (tmp_path / newer / "arrays.bin").read_bytes()
    assert info["chunk_size"] == 32 and info["chunk_crc32"] == [
        f"{zlib.crc32(data[i:i + 32]):08x}" for i in range(0, len(data), 32)]
    assert len(info["chunk_crc32"]) >= 4 and ckpt.verify() is None
    data = bytearray(data)
    data[3 * 32 + 5] ^= 0x01  # one bit in the fourth chunk
    (tmp_path / newer / "arrays.bin").write_bytes(bytes(data))
    assert ckpt.verify() == "arrays.bin does not match its crc32 at chunk 3 (corrupted)"
    with pytest.warns(KerasBestPracticeWarning, match="chunk 3"):
        latest = CheckpointStore(tmp_path).latest()
    assert latest.name == older and same(weights_of(latest), FIRST)


def reseal(path, arrays_entry, fmt):
    """Rewrite a checkpoint's manifest as an older format would have: `arrays.bin`'s entry
    and the format number replaced, the envelope's sha256 recomputed."""
    envelope = json.loads((path / "manifest.json").read_text())
    body = envelope["manifest"]
    body["files"]["arrays.bin"] = arrays_entry
    body["format"] = envelope["format"] = fmt
    envelope["manifest_sha256"] = hashlib.sha256(canonical(body)).hexdigest()
    (path / "manifest.json").write_text(json.dumps(envelope))


def test_a_format_3_checkpoint_still_loads(tmp_path, monkeypatch):
    # Checkpoints written before format 4: one sha256 per chunk of arrays.bin.
    monkeypatch.setattr(store_mod, "HASH_CHUNK", 32)
    older, newer = two_checkpoints(tmp_path)
    path = tmp_path / newer
    data = (path / "arrays.bin").read_bytes()
    entry = {"chunk_size": 32, "size": len(data),
             "chunk_sha256": [hashlib.sha256(data[i:i + 32]).hexdigest()
                              for i in range(0, len(data), 32)]}
    reseal(path, entry, 3)
    latest = CheckpointStore(tmp_path).latest()
    assert latest.name == newer and latest.verify() is None
    assert same(weights_of(latest), SECOND)
    data = bytearray(data)
    data[2 * 32] ^= 0x01  # its per-chunk sha256 is still checked
    (path / "arrays.bin").write_bytes(bytes(data))
    assert latest.verify() == "arrays.bin does not match its sha256 at chunk 2 (corrupted)"
    # A crc32 list in a sha256 entry's place is refused by the schema.
    entry["chunk_sha256"][0] = "0badc0de"
    reseal(path, entry, 3)
    assert "one sha256 per chunk" in Checkpoint.open(path)[1]


def test_a_format_2_checkpoint_still_loads(tmp_path):
    # Checkpoints written before format 3 (one sha256 for the whole arrays.bin).
    older, newer = two_checkpoints(tmp_path)
    path = tmp_path / newer
    data = (path / "arrays.bin").read_bytes()
    reseal(path, {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}, 2)
    latest = CheckpointStore(tmp_path).latest()
    assert latest.name == newer and latest.verify() is None
    assert same(weights_of(latest), SECOND)
    # ...and its whole-file digest is still checked.
    data = bytearray((path / "arrays.bin").read_bytes())
    data[-1] ^= 0x01
    (path / "arrays.bin").write_bytes(bytes(data))
    assert latest.verify() == "arrays.bin does not match its sha256 (corrupted)"



def test_a_file_is_flushed_and_dropped_from_the_page_cache_piece_by_piece(tmp_path,
                                                                           monkeypatch):
    # Issue #24: a 1 GiB file written into the page cache and fsynced once cost 3-4 s of
    # kernel time during training; the writer flushes and drops every WRITEBACK_CHUNK.
    if not hasattr(os, "posix_fadvise"):
        pytest.skip("posix_fadvise is Linux-only; elsewhere the file is fsynced once")
    monkeypatch.setattr(store_mod, "WRITEBACK_CHUNK", 40)
    monkeypatch.setattr(store_mod, "CHUNK", 24)  # pieces that straddle the writeback size
    calls = []
    real_drop, real_sync = os.posix_fadvise, os.fdatasync
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, off, n, advice: (
        calls.append(("drop", off, n, advice)), real_drop(fd, off, n, advice))[-1])
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append(("sync",)),
                                                     real_sync(fd))[-1])
    data = [np.arange(n, dtype="uint8") for n in (50, 7, 100)]
    store_mod._write_buffers(tmp_path / "f", [memoryview(a).cast("B") for a in data])
    assert (tmp_path / "f").read_bytes() == b"".join(a.tobytes() for a in data)
    # Every range is flushed before it is dropped, and the drops tile the file.
    drops = [c for c in calls if c[0] == "drop"]
    assert all(c[3] == os.POSIX_FADV_DONTNEED for c in drops) and len(drops) >= 3
    assert [c[1] for c in drops] == [0] + list(np.cumsum([c[2] for c in drops])[:-1])
    assert sum(c[2] for c in drops) == 157
    assert calls.index(drops[0]) > calls.index(("sync",))
