import numpy as np
import pandas as pd
import pytest

from keras_bestpractice.data import from_file_listing
from keras_bestpractice.data.sources import list_files


@pytest.mark.parametrize("name", ["listing.csv", "listing.json", "by_class"])
def test_listing_forms_give_stratified_decoded_batches(image_listing, name):
    ds = from_file_listing(image_listing / name, image_size=(8, 8), batch_size=9, seed=1)
    assert ds.class_names == ["cat", "dog", "fox"]
    assert int(ds.cardinality()) == 10
    total = 0
    for xb, yb in ds:
        assert xb.shape[1:] == (8, 8, 3) and xb.dtype.name == "float32"
        if len(yb) == 9:
            assert np.bincount(yb.numpy(), minlength=3).tolist() == [2, 5, 2]
        total += len(yb)
    assert total == 90


def test_pixels_match_their_labels(image_listing):
    ds = from_file_listing(image_listing / "listing.csv", image_size=(10, 12), batch_size=30)
    for xb, yb in ds:
        ids = xb.numpy()[:, 5, 5, 0].round().astype(int)  # each image is filled with its id
        expected = np.where(ids < 20, 0, np.where(ids < 70, 1, 2))
        np.testing.assert_array_equal(expected, yb.numpy())


def test_grey_channels_and_dataframe_with_root(image_listing):
    frame = pd.read_csv(image_listing / "listing.csv")
    ds = from_file_listing(frame, image_size=(4, 4), channels=1, batch_size=16,
                           root=image_listing)
    xb, _ = next(iter(ds))
    assert xb.shape == (16, 4, 4, 1)


def test_listing_errors(image_listing, tmp_path):
    with pytest.raises(ValueError, match="label_column"):
        list_files(image_listing / "listing.csv", label_column="class")
    with pytest.raises(FileNotFoundError):
        list_files(tmp_path / "nope.csv")
    bad = pd.read_csv(image_listing / "listing.csv")
    bad.loc[3, "path"] = "missing.png"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="do not exist"):
        list_files(tmp_path / "bad.csv", root=image_listing)
    with pytest.raises(ValueError, match="image_size"):
        from_file_listing(image_listing / "listing.csv", image_size=(0, 4))
    with pytest.raises(ValueError, match="channels"):
        from_file_listing(image_listing / "listing.csv", channels=2)
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        list_files(empty)


def test_integer_labels_keep_integer_ids_and_gaps_are_mapped_in_integer_order(tmp_path):
    import pandas as pd

    from keras_bestpractice.data.sources import list_files

    for i in range(26):
        (tmp_path / f"{i}.png").write_bytes(b"")
    frame = pd.DataFrame({"path": [f"{i}.png" for i in range(26)],
                          "label": [i % 13 for i in range(26)]})
    frame.to_csv(tmp_path / "l.csv", index=False)
    _, ids, names = list_files(tmp_path / "l.csv")
    assert names == [str(i) for i in range(13)]
    np.testing.assert_array_equal(ids, np.arange(26) % 13)  # id = the integer
    # Integers with gaps: ids in integer order (2 < 10), the mapping in class_names.
    frame["label"] = [[2, 10, 30][i % 3] for i in range(26)]
    _, ids, names = list_files(frame.assign(path=[str(tmp_path / p) for p in frame["path"]]))
    assert names == ["2", "10", "30"]
    np.testing.assert_array_equal(ids, np.arange(26) % 3)
    # An explicit mapping wins; a label outside it is an error naming it.
    _, ids, names = list_files(tmp_path / "l.csv", class_names=[str(i) for i in range(12, -1, -1)])
    np.testing.assert_array_equal(ids, 12 - np.arange(26) % 13)
    with pytest.raises(ValueError, match="'12'.*class_names"):
        list_files(tmp_path / "l.csv", class_names=[str(i) for i in range(12)])
