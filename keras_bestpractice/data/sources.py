"""File listings (CSV, JSON, a folder of class sub-folders) as stratified datasets."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice.data.stratified import build_stratified, check_feeder_args

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def list_files(
    source: Any,
    label_column: str = "label",
    path_column: str = "path",
    root: str | os.PathLike | None = None,
    class_names: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a listing into `(paths, label_ids, class_names)`.

    `source` is a CSV file, a JSON file holding a list of objects, a pandas
    DataFrame, or a directory whose sub-folders are the classes (image files
    found recursively, as `keras.utils.image_dataset_from_directory` does).
    Relative paths are resolved against `root`, else the listing file's folder.

    Class ids keep the labels' meaning: integer labels `0..K-1` are their own
    ids; other integers (gaps, negatives) are numbered in integer order; other
    labels in sorted order; `class_names` (names in id order, compared as
    strings) fixes the mapping. `class_names[id]` is always the label of `id`.

    Raises:
        ValueError: for an empty listing, an unknown column, NaN labels or
            missing files.
        FileNotFoundError: if `source` does not exist.
    """
    v.check_str("label_column", label_column)
    v.check_str("path_column", path_column)
    given_names = v.check_str_list("class_names", class_names, allow_none=True)
    if given_names is not None and len(set(given_names)) != len(given_names):
        raise ValueError(f"`class_names` has duplicates: {given_names}.")
    base = v.check_dir_path("root", root, allow_none=True, must_exist=True)
    if type(source).__name__ == "DataFrame":
        frame = source
    else:
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError("`source` must be a CSV/JSON path, a directory or a DataFrame, got "
                            f"{type(source).__name__}.")
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"`source`={str(path)!r} does not exist.")
        if path.is_dir():
            # Folder names as labels: integer names in integer order ("2" before "10",
            # unlike Keras's `image_dataset_from_directory`), others sorted.
            paths, ids, names = _list_directory(path)
            return paths, *_label_ids(np.array(names)[ids], given_names, "folder")
        base = base or path.parent
        import pandas as pd

        try:
            if path.suffix.lower() == ".json":
                records = json.loads(path.read_text())
                if isinstance(records, dict):
                    records = records.get("items", records.get("data"))
                if not isinstance(records, list):
                    raise ValueError("it must hold a JSON list of objects")
                frame = pd.DataFrame.from_records(records)
            else:
                frame = pd.read_csv(path)
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            what = "empty" if isinstance(exc, pd.errors.EmptyDataError) else \
                f"not a readable {'JSON' if path.suffix.lower() == '.json' else 'CSV'} listing"
            raise ValueError(f"`source`={str(path)!r} is {what} ({exc}).") from exc
    for name, column in (("label_column", label_column), ("path_column", path_column)):
        if column not in frame.columns:
            raise ValueError(f"`{name}`={column!r} is not a column of the listing; columns: "
                             f"{', '.join(map(str, frame.columns))}.")
    if len(frame) == 0:
        raise ValueError("`source`: the listing is empty, there is nothing to feed.")
    labels = frame[label_column]
    if labels.isna().any():
        bad = np.nonzero(labels.isna().to_numpy())[0][:5].tolist()
        raise ValueError(f"`{label_column}` has missing labels at rows {bad}.")
    paths = [str(p) for p in frame[path_column]]
    if base is not None:
        paths = [p if os.path.isabs(p) else str(base / p) for p in paths]
    _check_exist(paths)
    ids, names = _label_ids(labels.to_numpy(), given_names, label_column)
    return np.array(paths), ids, names


def _label_ids(labels: np.ndarray, given: list[str] | None,
               column: str) -> tuple[np.ndarray, list[str]]:
    """Class ids and names (in id order) that keep the labels' meaning."""
    as_text = np.array([str(x) for x in labels])
    if given is not None:
        index = {name: i for i, name in enumerate(given)}
        unknown = sorted(set(as_text) - set(index))
        if unknown:
            raise ValueError(f"`{column}` has labels {unknown[:5]} that are not in "
                             f"`class_names`={given}.")
        return np.array([index[t] for t in as_text], dtype=np.int64), list(given)
    numbers = _integer_labels(labels)
    if numbers is not None:
        values = np.unique(numbers)
        if values[0] == 0 and values[-1] == values.size - 1:  # 0..K-1: the id is the label
            return numbers.astype(np.int64), [str(int(v)) for v in values]
        ids = np.searchsorted(values, numbers)
        return ids.astype(np.int64), [str(int(v)) for v in values]
    names = sorted(set(as_text.tolist()))
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[t] for t in as_text], dtype=np.int64), names


def _integer_labels(labels: np.ndarray) -> np.ndarray | None:
    """The labels as int64 when every one is an integer (7, 7.0, "7"), else `None`."""
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64)
    if labels.dtype.kind == "f":
        return labels.astype(np.int64) if np.all(labels == np.round(labels)) else None
    try:
        text = [str(x).strip() for x in labels]
        if not all(t.lstrip("-").isdigit() for t in text):
            return None
        return np.array([int(t) for t in text], dtype=np.int64)
    except (TypeError, ValueError):  # pragma: no cover
        return None


def _list_directory(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise ValueError(f"`source`={str(path)!r} has no class sub-folders.")
    paths, ids = [], []
    for i, name in enumerate(names):
        files = sorted(f for f in (path / name).rglob("*")
                       if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        paths += [str(f) for f in files]
        ids += [i] * len(files)
    if not paths:
        raise ValueError(f"`source`={str(path)!r} has no image files "
                         f"({', '.join(IMAGE_EXTENSIONS)}) in its class sub-folders.")
    return np.array(paths), np.array(ids, dtype=np.int64), names


def _check_exist(paths: Sequence[str]) -> None:
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise ValueError(f"{len(missing)} listed file(s) do not exist, e.g. {missing[0]!r}.")


def image_decoder(image_size: tuple[int, int], channels: int) -> Callable:
    """In-graph: a batch of file paths -> float32 images `[n, h, w, channels]` (0-255)."""
    import tensorflow as tf

    h, w = image_size

    def decode_one(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                                   expand_animations=False)
        image = tf.image.resize(image, (h, w))
        image.set_shape((h, w, channels))
        return image

    def decode_batch(paths):
        return tf.map_fn(decode_one, paths,
                         fn_output_signature=tf.TensorSpec((h, w, channels), tf.float32))

    return decode_batch


def check_image_size(image_size: Any) -> tuple[int, int]:
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                       for s in image_size)):
        raise ValueError(f"`image_size` must be (height, width) with positive integers, got "
                         f"{image_size!r}.")
    return int(image_size[0]), int(image_size[1])


def from_file_listing(
    source: Any,
    label_column: str = "label",
    path_column: str = "path",
    image_size: tuple[int, int] = (256, 256),
    batch_size: int = 32,
    seed: int = 0,
    balance: float = 0.0,
    channels: int = 3,
    drop_remainder: bool = False,
    augment: Callable | None = None,
    root: str | os.PathLike | None = None,
    num_parallel_calls: int | None = None,
    prefetch: bool = True,
    class_names: Sequence[str] | None = None,
):
    """A stratified dataset of decoded, resized images from a file listing.

    The listing (paths and labels) stays in memory; each stratified batch of
    paths (see `stratified_dataset`) is read, decoded and resized inside
    tf.data, batches in parallel. Labels are class ids that keep their meaning
    (integer labels 0..K-1 are their own ids, see `list_files`); the dataset
    carries the names in id order as `ds.class_names`.

    Args:
        source: a CSV file, a JSON list of objects, a DataFrame, or a directory
            of class sub-folders.
        label_column: the label column of a CSV/JSON/DataFrame. Defaults to `"label"`.
        path_column: the file-path column. Defaults to `"path"`.
        image_size: `(height, width)` after resizing. Defaults to `(256, 256)`.
        batch_size: samples per batch. Defaults to `32`.
        seed: seed of the order. Defaults to `0`.
        balance: 0 proportional, 1 class-balanced. Defaults to `0.0`.
        channels: 1 (grey), 3 (RGB) or 4. Defaults to `3`.
        drop_remainder: drop the last, smaller batch. Defaults to `False`.
        augment: as in `stratified_dataset`. Defaults to `None`.
        root: folder that relative paths are relative to (default: the listing's
            folder).
        num_parallel_calls: batch decoding parallelism (`None`: AUTOTUNE).
        prefetch: add `prefetch(AUTOTUNE)`. Defaults to `True`.
        class_names: the class names in id order (labels compared as strings);
            `None` derives them from the labels. Defaults to `None`.

    Returns:
        A `tf.data.Dataset` of `(images, label_ids)` with `.class_names`.

    Raises:
        ValueError: for an empty listing, unknown columns, missing files, bad
            sizes or channels.
        FileNotFoundError: if `source` does not exist.

    Example:

    ```python
    ds = from_file_listing("train.csv", image_size=(64, 64), batch_size=32)
    model.fit(ds, epochs=5, callbacks=[FeederEpochSync()])
    ```
    """

    size = check_image_size(image_size)
    v.check_choice("channels", channels, (1, 3, 4))
    check_feeder_args(batch_size=batch_size, seed=seed, balance=balance,
                      drop_remainder=drop_remainder, augment=augment,
                      num_parallel_calls=num_parallel_calls, prefetch=prefetch)
    paths, ids, names = list_files(source, label_column, path_column, root, class_names)
    ds = build_stratified(paths, ids, batch_size, seed=seed, balance=balance,
                          drop_remainder=drop_remainder, augment=augment,
                          num_parallel_calls=num_parallel_calls, prefetch=prefetch,
                          transform=image_decoder(size, channels), label_ids=ids)
    ds.class_names = names
    return ds
