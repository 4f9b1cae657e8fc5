"""Export and serving (issue #25): the served prediction is the training path's, in this
process and in a fresh one that cannot import keras_bestpractice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bestpractice import KerasBestPracticeWarning
from keras_bestpractice.deploy import (
    DeploymentCheckError,
    ImagePreprocessing,
    Predictor,
    export_for_serving,
)
from keras_bestpractice.deploy.image_preprocessing import read_image

SIZE = (16, 16)
# What the Predictor and the SavedModel do is TensorFlow whatever the Keras backend: these
# run once, on the TensorFlow pass; the JAX pass checks the export itself (jax2tf).
SERVING_ONLY = pytest.mark.backend_independent


def images(seed, n, shape=(24, 20, 3)):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny classifier trained through the transform, exported once per backend pass."""
    x = images(0, 48)
    y = (x[..., 0].mean(axis=(1, 2)) > x[..., 2].mean(axis=(1, 2))).astype(int)
    prep = ImagePreprocessing(SIZE).fit(x)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((*SIZE, 3)), keras.layers.Conv2D(4, 3),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    train = tf.data.Dataset.from_tensor_slices((x, y)).map(prep.map_fn()).batch(16)
    model.fit(train, epochs=1, verbose=0)
    path = export_for_serving(model, prep, tmp_path_factory.mktemp("deploy") / "served")
    return model, prep, path


def training_path(model, prep, image):
    """What the model gave for this raw image during training: the same transform."""
    return np.asarray(model.predict(prep.batch(tf.convert_to_tensor(image[None])),
                                    verbose=0))[0]


def kinds(tmp_path):
    """Raw images of every kind, as arrays and as files."""
    rng = np.random.default_rng(3)
    landscape = rng.integers(0, 256, (30, 70, 3), dtype=np.uint8)
    portrait = rng.integers(0, 256, (70, 30, 1), dtype=np.uint8)
    rgba = rng.integers(0, 256, (12, 12, 4), dtype=np.uint8)
    deep = rng.integers(0, 65536, (40, 33, 3), dtype=np.uint16)
    files = {"landscape.png": tf.io.encode_png(landscape), "portrait.png":
             tf.io.encode_png(portrait), "rgba.png": tf.io.encode_png(rgba),
             "deep.png": tf.io.encode_png(deep), "photo.jpg": tf.io.encode_jpeg(landscape)}
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data.numpy())
        paths.append(tmp_path / name)
    arrays = [landscape, portrait, rgba, deep, landscape.astype(np.float32) / 255]
    return paths, arrays


def test_served_predictions_equal_the_training_path_for_every_kind(exported, tmp_path):
    model, prep, path = exported
    predictor = Predictor(path)
    paths, arrays = kinds(tmp_path)
    served = predictor.predict([*paths, *arrays])          # files and arrays, mixed sizes
    decoded = [read_image(p, p.name) for p in paths]        # the files' own pixels
    expected = [training_path(model, prep, img) for img in [*decoded, *arrays]]
    np.testing.assert_allclose(served, np.stack(expected), atol=1e-5)
    assert decoded[3].dtype == np.uint16                    # the 16-bit PNG kept its bits
    assert predictor.served_images == 10


@pytest.mark.backend_independent  # a fresh TensorFlow process: once, on the TensorFlow pass
def test_the_saved_model_serves_in_a_process_without_keras_bestpractice(exported, tmp_path):
    model, prep, path = exported
    image = images(5, 1, (50, 26, 3))[0]
    (tmp_path / "x.png").write_bytes(tf.io.encode_png(image).numpy())
    np.save(tmp_path / "expected.npy", training_path(model, prep, image))
    script = textwrap.dedent(f"""
        import sys
        sys.modules["keras_bestpractice"] = None   # importing it now fails
        try:
            import keras_bestpractice  # noqa: F401
        except ImportError:
            pass
        else:
            raise SystemExit("keras_bestpractice was importable")
        import numpy as np
        import tensorflow as tf
        served = tf.saved_model.load({str(path / "saved_model")!r})
        data = open({str(tmp_path / "x.png")!r}, "rb").read()
        out = served.signatures["serving_default"](images=tf.constant([data]))
        expected = np.load({str(tmp_path / "expected.npy")!r})
        assert np.abs(out["predictions"].numpy()[0] - expected).max() < 1e-5
        import json
        config = json.loads(served.preprocessing_json.numpy())
        assert config["image_size"] == [16, 16] and config["moments"]["count"] > 0
        print("SERVED-OK")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=240, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert "SERVED-OK" in done.stdout, done.stderr[-3000:]
    loaded = keras.saving.load_model(path / "model.keras")
    x = prep.batch(tf.convert_to_tensor(image[None]))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


@SERVING_ONLY
def test_a_changed_export_refuses_to_serve(exported, tmp_path):
    _, _, path = exported
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    with np.load(copy / "reference.npz") as data:
        stored = dict(data)
    stored["output_1"] = stored["output_1"] + 0.01  # as if the model had changed
    np.savez(copy / "reference.npz", **stored)
    with pytest.raises(DeploymentCheckError, match="0.01.*tolerance"):
        Predictor(copy)


@SERVING_ONLY
def test_bad_inputs_are_named_and_nothing_is_served(exported, tmp_path):
    _, _, path = exported
    predictor = Predictor(path)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    good = images(1, 1)[0]
    cases = [([good, tmp_path / "empty.png"], r"inputs\[1\].*empty.png.*empty file"),
             ([tmp_path / "broken.png", good], r"inputs\[0\].*broken.png.*not a readable"),
             ([good, np.zeros((8, 8))], r"inputs\[1\].*2-D"),
             ([np.zeros((8, 8, 5), np.uint8)], r"inputs\[0\].*5 channels"),
             ([np.full((8, 8, 3), 2.0, np.float32) * 200], r"inputs\[0\].*\[0, 1\] or"),
             ([tmp_path / "missing.png"], r"inputs\[0\].*missing.png.*cannot be read")]
    for inputs, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            predictor.predict(inputs)
    assert predictor.served_images == 0


@SERVING_ONLY
def test_served_images_unlike_the_training_images_warn_with_numbers(exported):
    _, _, path = exported
    predictor = Predictor(path, skew_after=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predictor.predict(images(7, 8))                    # like the training images
    bright = np.clip(images(8, 8).astype(int) + 120, 0, 255).astype(np.uint8)
    with pytest.warns(KerasBestPracticeWarning, match=r"channel 0: mean .* served vs"):
        predictor.predict(bright)
    assert {s.kind for s in predictor.skew()} >= {"mean"}


@SERVING_ONLY
def test_export_checks_its_arguments_and_leaves_nothing_half_written(exported, tmp_path):
    model, prep, path = exported
    with pytest.raises(ValueError, match="exists; pass overwrite=True"):
        export_for_serving(model, prep, path)
    other = ImagePreprocessing((20, 20)).fit(images(0, 4))
    with pytest.raises(ValueError, match=r"\(16, 16, 3\).*\(20, 20, 3\)"):
        export_for_serving(model, other, tmp_path / "x")
    with pytest.raises(ValueError, match="not fitted"):
        export_for_serving(model, ImagePreprocessing(SIZE), tmp_path / "x")
    assert not list(tmp_path.iterdir())  # no directory and no temporary left
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["image_size"] == list(SIZE) and manifest["export_difference"] < 1e-4


@SERVING_ONLY
def test_the_predict_command_prints_a_table_for_a_folder(exported, tmp_path, capsys):
    from keras_bestpractice.cli import main

    model, prep, path = exported
    folder = tmp_path / "incoming"
    folder.mkdir()
    for i, image in enumerate(images(9, 3, (30, 12, 3))):
        (folder / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    (folder / "notes.txt").write_text("not an image")  # not an image suffix: skipped
    table = tmp_path / "out.csv"
    assert main(["predict", str(path), str(folder), "--top", "2", "--csv", str(table)]) == 0
    printed = capsys.readouterr().out
    assert printed.count(".png") == 3 and "probability_2" in printed
    rows = table.read_text().splitlines()
    assert len(rows) == 4 and rows[0] == "file,class_1,probability_1,class_2,probability_2"
    first = training_path(model, prep, read_image(folder / "0.png", "x"))
    assert rows[1].split(",")[1] == str(int(np.argmax(first)))
    assert main(["predict", str(path), str(tmp_path / "nothing")]) == 66


@SERVING_ONLY
def test_the_running_statistics_are_those_of_every_served_image(exported):
    _, prep, path = exported
    predictor = Predictor(path)
    first, second = images(11, 5, (30, 26, 3)), images(12, 3, (12, 40, 3))
    predictor.predict(first)
    predictor.predict(list(second))
    resized = ImagePreprocessing(SIZE, normalize=None)
    pixels = np.concatenate([resized.batch(first).numpy().reshape(-1, 3),
                             resized.batch(second).numpy().reshape(-1, 3)])
    np.testing.assert_allclose(predictor._moments.mean, pixels.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(predictor._moments.std, pixels.std(axis=0), rtol=1e-4)
    assert predictor.served_images == 8


@SERVING_ONLY
def test_float_images_of_both_scales_in_one_call_are_each_read_right(exported):
    model, prep, path = exported
    image = images(13, 1)[0]
    unit, byte = image.astype(np.float32) / 255, image.astype(np.float32)
    served = Predictor(path).predict([unit, byte])
    expected = training_path(model, prep, image)
    np.testing.assert_allclose(served, np.stack([expected, expected]), atol=1e-5)
