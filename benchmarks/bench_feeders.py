"""Throughput of the stratified feeders against the plain and the balanced baselines.

Same data, same process, interleaved runs (benchmarks/_harness.py):

1. examples/second iterating `stratified_dataset` vs
   `from_tensor_slices((x, y)).shuffle(N).batch(b).prefetch(AUTOTUNE)` (target >= 0.9x);
2. `model.fit` epoch time of a tiny model fed `stratified_dataset` vs fed NumPy arrays and
   vs the plain pipeline (target <= 1.1x the faster of the two);
3. the same with `balance=1` vs tf.data `sample_from_datasets` over per-class datasets and
   imbalanced-learn's `BalancedBatchGenerator` (target: at least 1.5x faster than both),
   and the floor: `fit` fed batches already cut and held in memory;
4. examples/second with `sample_weight`, with a dict of two inputs and with a
   multi-label target vs the plain pipeline over the same structure (target >= 0.9x).

    python benchmarks/bench_feeders.py [--samples 50000] [--repeats 5] [--sections 1,2,3,4]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_bestpractice.data import stratified_dataset  # noqa: E402

from _harness import compare, print_header  # noqa: E402


def make_data(n: int, features: int, classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    prior = np.linspace(1.0, 4.0, classes)
    prior /= prior.sum()
    y = rng.choice(classes, size=n, p=prior).astype(np.int64)
    x = (rng.random((n, features)) + y[:, None] * 0.01).astype(np.float32)
    return x, y


def iterate(ds) -> int:
    count = 0
    for _, yb in ds:
        count += int(yb.shape[0])
    return count


def _per_sample(fn, samples: int) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / samples


def tiny_model(features: int, classes: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((features,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(classes, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return model


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def fit_epoch_time(model, data, epochs=3, **kwargs) -> float:
    """Median epoch time after the first (tracing) epoch."""
    timer = EpochTimer()
    if not isinstance(data[0], np.ndarray):
        kwargs.setdefault("shuffle", False)  # datasets bring their own order
    model.fit(*data, epochs=epochs, verbose=0, callbacks=[timer], **kwargs)
    return float(np.median(timer.times[1:]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sections", default="1,2,3,4",
                        help="comma-separated sections to run (default: all)")
    args = parser.parse_args(argv)
    sections = {int(part) for part in args.sections.split(",")}
    print_header(f"stratified feeders: {args.samples} samples x {args.features} features, "
                 f"{args.classes} imbalanced classes, batch {args.batch_size}")
    x, y = make_data(args.samples, args.features, args.classes)
    b, n = args.batch_size, args.samples
    results = []

    strat = stratified_dataset(x, y, b, seed=0)
    plain = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n).batch(b).prefetch(
        tf.data.AUTOTUNE)
    if 4 in sections:
        results += structured_inputs(x, y, b, args.repeats)
    if sections <= {4}:
        return report(results)
    r = compare("(1) iterating one epoch: stratified_dataset vs shuffle+batch",
                lambda: iterate(strat), lambda: iterate(plain), repeats=args.repeats,
                names=("stratified_dataset", "from_tensor_slices.shuffle.batch"))
    print(f"  examples/second: stratified {n / r.candidate.median:,.0f}, plain "
          f"{n / r.baseline.median:,.0f}; throughput ratio {1 / r.ratio:.3f} (target >= 0.9)")
    results.append(("throughput ratio (stratified / plain)", 1 / r.ratio))

    # One model for every fit: separate model objects of the same architecture differ
    # by several percent in step time on this machine, which would swamp the feeders.
    model = tiny_model(args.features, args.classes)
    m_strat = m_numpy = m_plain = model
    r_np = compare("(2a) fit epoch time: stratified_dataset vs NumPy arrays",
                   lambda: fit_epoch_time(m_strat, (strat,)),
                   lambda: fit_epoch_time(m_numpy, (x, y), batch_size=b),
                   repeats=args.repeats, names=("stratified_dataset", "numpy arrays"),
                   timer=lambda fn: fn())
    r_pl = compare("(2b) fit epoch time: stratified_dataset vs shuffle+batch pipeline",
                   lambda: fit_epoch_time(m_strat, (strat,)),
                   lambda: fit_epoch_time(m_plain, (plain,)),
                   repeats=args.repeats, names=("stratified_dataset", "plain pipeline"),
                   timer=lambda fn: fn())
    faster = min(r_np.baseline.median, r_pl.baseline.median)
    strat_epoch = float(np.median(r_np.candidate.seconds + r_pl.candidate.seconds))
    print(f"  stratified epoch / faster baseline epoch = {strat_epoch / faster:.3f} "
          "(target <= 1.1)")
    results.append(("fit epoch ratio vs faster baseline", strat_epoch / faster))

    # (3) class-balanced feeding: the input pipeline alone, then inside fit
    balanced = stratified_dataset(x, y, b, seed=0, balance=1.0)
    per_class = [tf.data.Dataset.from_tensor_slices((x[y == c], y[y == c])).shuffle(
        int((y == c).sum())).repeat() for c in range(args.classes)]
    sampled = tf.data.Dataset.sample_from_datasets(
        per_class, weights=[1.0 / args.classes] * args.classes, seed=0).batch(b).take(
        -(-n // b)).prefetch(tf.data.AUTOTUNE)
    r = compare("(3a) iterating one epoch: stratified_dataset(balance=1) vs "
                "sample_from_datasets", lambda: iterate(balanced), lambda: iterate(sampled),
                repeats=args.repeats, names=("stratified balance=1", "sample_from_datasets"))
    results.append(("input speed-up vs sample_from_datasets", 1 / r.ratio))
    gen = None
    try:
        from imblearn.keras import BalancedBatchGenerator
        from imblearn.under_sampling import RandomUnderSampler

        # imbalanced-learn's generator is Python-side and undersamples to the smallest
        # class, so compare time per sample.
        gen = BalancedBatchGenerator(x, y, sampler=RandomUnderSampler(random_state=0),
                                     batch_size=b, random_state=0)
        gen_samples = len(gen) * b

        def iterate_gen():
            return sum(len(gen[i][1]) for i in range(len(gen)))

        r = compare("(3b) iterating, seconds per sample: stratified_dataset(balance=1) vs "
                    "imblearn BalancedBatchGenerator",
                    lambda: iterate(balanced), iterate_gen, repeats=args.repeats,
                    names=("stratified balance=1", "imblearn"),
                    timer=lambda fn: _per_sample(fn, n if fn is not iterate_gen
                                                 else gen_samples))
        results.append(("input speed-up vs imblearn (per sample)", 1 / r.ratio))
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        print(f"  imbalanced-learn not available ({exc}); install keras-bestpractice[dev]")
    m_bal = m_sample = m_imb = model
    r = compare("(3c) fit epoch time: stratified_dataset(balance=1) vs sample_from_datasets",
                lambda: fit_epoch_time(m_bal, (balanced,)),
                lambda: fit_epoch_time(m_sample, (sampled,)),
                repeats=args.repeats, names=("stratified balance=1", "sample_from_datasets"),
                timer=lambda fn: fn())
    results.append(("fit speed-up vs sample_from_datasets", 1 / r.ratio))
    if gen is not None:
        r = compare("(3d) fit, seconds per sample: stratified_dataset(balance=1) vs imblearn",
                    lambda: fit_epoch_time(m_bal, (balanced,)) / n,
                    lambda: fit_epoch_time(m_imb, (gen,)) / gen_samples,
                    repeats=args.repeats, names=("stratified balance=1", "imblearn"),
                    timer=lambda fn: fn())
        results.append(("fit speed-up vs imblearn (per sample)", 1 / r.ratio))
    # The floor of any feeder inside fit: the same number of batches already cut and
    # held in memory (no shuffling, no sampling). When the baselines above sit near it,
    # their input work is hidden behind the training step and no feeder can be much
    # faster than them inside fit, only in the input pipeline itself (3a, 3b).
    steps = n // b
    floor = tf.data.Dataset.from_tensor_slices(
        (x[: steps * b].reshape(steps, b, -1), y[: steps * b].reshape(steps, b))).prefetch(
        tf.data.AUTOTUNE)
    r = compare("(3e) fit epoch time: sample_from_datasets vs pre-batched in-memory tensors "
                "(the floor)", lambda: fit_epoch_time(model, (sampled,)),
                lambda: fit_epoch_time(model, (floor,)) * (-(-n // b)) / steps,
                repeats=args.repeats, names=("sample_from_datasets", "floor"),
                timer=lambda fn: fn())
    results.append(("sample_from_datasets fit epoch / floor", r.ratio))
    return report(results)


def structured_inputs(x, y, b, repeats):
    """(4) sample weights, two named inputs, a multi-label target: the same structure
    through `stratified_dataset` and through shuffle+batch."""
    n = len(y)
    out = []
    w = (np.arange(n) % 7 + 1).astype(np.float32)
    inputs = {"image": x[:, :48], "meta": x[:, 48:]}
    rng = np.random.default_rng(1)
    multi = (rng.random((n, 5)) < np.array([0.05, 0.1, 0.2, 0.3, 0.4])).astype(np.float32)
    cases = [
        ("sample_weight", stratified_dataset(x, y, b, seed=0, sample_weight=w), (x, y, w)),
        ("dict of two inputs", stratified_dataset(inputs, y, b, seed=0), (inputs, y)),
        ("multi-label target", stratified_dataset(x, multi, b, seed=0), (x, multi)),
    ]
    for k, (name, strat, parts) in enumerate(cases, start=1):
        plain = tf.data.Dataset.from_tensor_slices(parts).shuffle(n).batch(b).prefetch(
            tf.data.AUTOTUNE)
        r = compare(f"(4{'abc'[k - 1]}) iterating one epoch, {name}: stratified_dataset vs "
                    "shuffle+batch", lambda s=strat: count(s), lambda p=plain: count(p),
                    repeats=repeats, names=("stratified_dataset", "shuffle+batch"))
        print(f"  throughput ratio {1 / r.ratio:.3f} (target >= 0.9)")
        out.append((f"throughput ratio with {name} (stratified / plain)", 1 / r.ratio))
    return out


def count(ds) -> int:
    """Samples in one iteration of a dataset of (x, y) or (x, y, w) batches."""
    total = 0
    for batch in ds:
        total += int(tf.shape(batch[1])[0])
    return total


def report(results) -> int:
    print()
    for name, value in results:
        print(f"RESULT {name}: {value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
