"""Serving cost (issue #25): the exported model against a hand-written NumPy/PIL pipeline.

1. Served images per second: `Predictor.predict` on encoded PNG bytes of mixed sizes
   (decoding, channel conversion, padding, area/bicubic resize, standardisation and the
   model, all in the SavedModel) against a hand-written pipeline doing the same steps
   with PIL and NumPy, then the Keras model's `predict_on_batch` on the stacked batch.
   Target: the served path at least as fast (ratio served time / hand-written <= 1).
2. The skew check's cost: `Predictor.predict` with its running statistics and skew
   comparison against the same Predictor with that bookkeeping switched off.
   Target: <= 1.05.

    python benchmarks/bench_deploy.py [--images 256] [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np

import _harness  # noqa: F401  (sets up sys.path and the TensorFlow log level)


def build(size: int):
    import keras
    import tensorflow as tf

    from keras_bestpractice.deploy import ImagePreprocessing

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 48, 40, 3), dtype=np.uint8)
    prep = ImagePreprocessing((size, size)).fit(x)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
        keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(tf.data.Dataset.from_tensor_slices((x, rng.integers(0, 10, 64)))
              .map(prep.map_fn()).batch(32), epochs=1, verbose=0)
    return prep, model


def incoming(count: int) -> list[bytes]:
    """PNG files of mixed sizes (smaller and larger than the model's input) and kinds."""
    from PIL import Image

    rng = np.random.default_rng(1)
    out = []
    for i in range(count):
        h, w = int(rng.integers(40, 400)), int(rng.integers(40, 400))
        mode = ("RGB", "L", "RGBA")[i % 3]
        channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
        pixels = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def hand_written(prep, model, files: list[bytes], batch: int = 32) -> np.ndarray:
    """The same steps with PIL and NumPy: decode, RGB, pad to the target's aspect ratio,
    resize (box filter = area when shrinking, bicubic when enlarging), standardise."""
    from PIL import Image

    th, tw = prep.image_size
    mean, std = prep.mean, prep.std
    outputs = []
    for start in range(0, len(files), batch):
        inputs = []
        for data in files[start:start + batch]:
            image = Image.open(io.BytesIO(data)).convert("RGB")
            w, h = image.size
            full_h, full_w = max(h, -(-w * th // tw)), max(w, -(-h * tw // th))
            canvas = Image.new("RGB", (full_w, full_h))
            canvas.paste(image, ((full_w - w) // 2, (full_h - h) // 2))
            shrink = full_h > th or full_w > tw
            resized = canvas.resize((tw, th), Image.BOX if shrink else Image.BICUBIC)
            inputs.append((np.asarray(resized, np.float32) - mean) / std)
        outputs.append(np.asarray(model.predict_on_batch(np.stack(inputs))))
    return np.concatenate(outputs)


def main(argv=None) -> int:
    from keras_bestpractice.deploy import Predictor, export_for_serving

    from _harness import compare

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    prep, model = build(args.size)
    files = incoming(args.images)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_for_serving(model, prep, Path(tmp) / "served")
        predictor = Predictor(path, batch_size=32)
        served = predictor.predict(files)
        manual = hand_written(prep, model, files)
        agree = float((served.argmax(1) == manual.argmax(1)).mean())
        print(f"top class agreement served vs hand-written PIL: {agree:.3f} "
              f"(PIL's box/bicubic filters are not TensorFlow's; max |diff| "
              f"{np.abs(served - manual).max():.3g})")
        r1 = compare(f"(1) {args.images} PNGs of mixed sizes: served vs hand-written PIL/NumPy",
                     lambda: predictor.predict(files),
                     lambda: hand_written(prep, model, files),
                     repeats=args.repeats, names=("served", "hand-written"),
                     per=args.images)
        print(f"RESULT served / hand-written time: {r1.ratio:.3f} (target <= 1); "
              f"{args.images / r1.candidate.median:.0f} vs "
              f"{args.images / r1.baseline.median:.0f} images/s")
        quiet = Predictor(path, batch_size=32)
        quiet._observe = lambda results: None  # the skew bookkeeping switched off
        r2 = compare("(2) Predictor.predict with vs without the skew check",
                     lambda: predictor.predict(files), lambda: quiet.predict(files),
                     repeats=args.repeats, names=("with skew check", "without"))
        print(f"RESULT skew check: {r2.ratio:.3f} (target <= 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
