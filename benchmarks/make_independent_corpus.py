"""An independent corpus of labelled real runs, to measure `diagnose()` on runs nobody tuned for.

Issue #23: the rules were tuned on `make_diagnostics_corpus.py`'s runs; on runs made
elsewhere they were right on 84%. This generator shares no code with that one: other
data sets (scikit-learn's wine, iris, linnerud and generated blobs, Gaussian
quantiles, Hastie, Friedman #2/#3 sets), other architectures (MLPs with and without
BatchNormalization/Dropout, a BatchNorm CNN with global pooling on digits), other
optimisers (SGD with momentum, Nadam, AdamW, RMSprop, Adagrad), learning-rate
schedules (`ReduceLROnPlateau`, cosine decay, step decay), batch sizes from 8 to 256
and validation sets from 10% to 50%. Every problem type: multi-class, binary,
multi-label, regression (one and three outputs).

**A run's label comes from how it was built, never from its curves**: a scenario
builds a fault in (a rate far too high, shuffled labels, a linear model on a
non-linear target, ...) or none ("healthy"). Only the one factual label is checked
(a `nan_loss` run must hold a NaN). The corpus used while changing the rules is
`--seed 0`; a corpus made afterwards with another seed (and never looked at before
it is scored) is the held-out measure.

    python benchmarks/make_independent_corpus.py --seed 0 --out tests/fixtures/independent_runs.json
    python benchmarks/bench_diagnostics.py --corpus tests/fixtures/independent_runs.json

About 4 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "independent_runs.json"


# ----------------------------------------------------------------------------- data
def _standardise(x_tr, x_va):
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-8
    return (x_tr - mean) / std, (x_va - mean) / std


def _split(x, y, val_fraction, rng):
    order = rng.permutation(len(x))
    n_val = max(2, int(round(val_fraction * len(x))))
    va, tr = order[:n_val], order[n_val:]
    return (x[tr], y[tr]), (x[va], y[va])


def load(name: str, val_fraction: float, seed: int, n: int | None = None):
    """`((x_tr, y_tr), (x_va, y_va), info)`: `info` has the problem type, the class
    count (classifiers) and the loss to train with."""
    from sklearn import datasets

    rng = np.random.default_rng(seed)
    kind, classes = "multiclass", None
    if name == "wine":
        x, y = datasets.load_wine(return_X_y=True)
    elif name == "iris":
        x, y = datasets.load_iris(return_X_y=True)
    elif name == "blobs":
        x, y = datasets.make_blobs(n or 1200, n_features=10, centers=5, cluster_std=3.0,
                                   random_state=seed)
    elif name == "quantiles":  # concentric classes: not linearly separable
        x, y = datasets.make_gaussian_quantiles(n_samples=n or 1500, n_features=6,
                                                n_classes=3, random_state=seed)
    elif name == "imbalanced":  # 4 classes at roughly 10:3:2:1
        x, y = datasets.make_classification(n or 1600, n_features=12, n_informative=6,
                                            n_classes=4, n_clusters_per_class=1,
                                            weights=[0.62, 0.19, 0.12, 0.07],
                                            random_state=seed)
    elif name == "digits_img":
        x, y = datasets.load_digits(return_X_y=True)
        x = (x / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    elif name == "hastie":  # binary, non-linear (chi-square threshold)
        x, y = datasets.make_hastie_10_2(n or 2000, random_state=seed)
        y = (y > 0).astype("float32")
        kind = "binary"
    elif name == "multilabel":
        x, y = datasets.make_multilabel_classification(n or 1500, n_features=15, n_classes=4,
                                                       n_labels=2, random_state=seed)
        y = y.astype("float32")
        kind = "multilabel"
    elif name == "friedman2":
        x, y = datasets.make_friedman2(n or 1500, noise=5.0, random_state=seed)
        kind = "regression"
    elif name == "friedman3":
        x, y = datasets.make_friedman3(n or 1500, noise=0.05, random_state=seed)
        kind = "regression"
    elif name == "linnerud":  # 20 people, 3 targets: a small multi-target regression
        x, y = datasets.load_linnerud(return_X_y=True)
        x, y = np.repeat(x, 10, 0) + rng.normal(0, 1.0, (200, 3)), np.repeat(y, 10, 0)
        kind = "regression"
    else:  # pragma: no cover
        raise ValueError(name)
    x = np.asarray(x, dtype="float32")
    (x_tr, y_tr), (x_va, y_va) = _split(x, np.asarray(y), val_fraction, rng)
    if name != "digits_img":
        x_tr, x_va = _standardise(x_tr, x_va)
    if kind == "regression":
        mean, std = y_tr.mean(0), y_tr.std(0) + 1e-8
        y_tr, y_va = (y_tr - mean) / std, (y_va - mean) / std
    if kind == "multiclass":
        classes = int(np.max(y)) + 1
    elif kind in ("binary", "multilabel"):
        classes = 1 if y.ndim == 1 else y.shape[1]
    return (x_tr.astype("float32"), y_tr), (x_va.astype("float32"), y_va), {
        "kind": kind, "classes": classes}


# --------------------------------------------------------------------------- models
def build(arch: str, input_shape, outputs: int, kind: str, width: int = 32,
          depth: int = 1, dropout: float = 0.0, batchnorm: bool = False):
    import keras

    activation = {"multiclass": "softmax", "binary": "sigmoid", "multilabel": "sigmoid",
                  "regression": None}[kind]
    inputs = keras.Input(input_shape)
    h = inputs
    if arch == "cnn":
        for filters in (8, 16):
            h = keras.layers.Conv2D(filters, 3, padding="same", use_bias=not batchnorm)(h)
            if batchnorm:
                h = keras.layers.BatchNormalization()(h)
            h = keras.layers.Activation("relu")(h)
            h = keras.layers.MaxPooling2D()(h)
        h = keras.layers.Flatten()(h)
    elif arch == "mlp":
        for _ in range(depth):
            h = keras.layers.Dense(width, use_bias=not batchnorm)(h)
            if batchnorm:
                h = keras.layers.BatchNormalization()(h)
            h = keras.layers.Activation("relu")(h)
            if dropout:
                h = keras.layers.Dropout(dropout)(h)
    elif arch != "linear":  # pragma: no cover
        raise ValueError(arch)
    out = keras.layers.Dense(outputs, activation=activation)(h)
    return keras.Model(inputs, out)


def make_optimizer(name: str, lr: Any):
    import keras

    return {"sgd": lambda: keras.optimizers.SGD(lr),
            "momentum": lambda: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
            "nadam": lambda: keras.optimizers.Nadam(lr),
            "adamw": lambda: keras.optimizers.AdamW(lr, weight_decay=1e-3),
            "rmsprop": lambda: keras.optimizers.RMSprop(lr),
            "adagrad": lambda: keras.optimizers.Adagrad(lr),
            "adam": lambda: keras.optimizers.Adam(lr)}[name]()


def schedule(kind: str | None, lr: float, steps_per_epoch: int, epochs: int,
             drop_at: int = 3, spike: float = 1000.0):
    """A learning rate or schedule. `step`: x0.5 every 5 epochs; `collapse`: x1e-5 at
    epoch `drop_at` (a schedule bug: the rate falls to ~0 long before convergence);
    `spike`: the first epoch at `spike` times the rate (a warm-up set the wrong way
    round); `explode`: x1.6 per epoch (`ExponentialDecay` with a rate above 1)."""
    import keras

    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, steps_per_epoch * epochs, alpha=0.01)
    if kind == "step":
        bounds = [steps_per_epoch * e for e in range(5, epochs, 5)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            bounds, [lr * 0.5 ** i for i in range(len(bounds) + 1)])
    if kind == "collapse":
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            [steps_per_epoch * drop_at], [lr, lr * 1e-5])
    if kind == "spike":  # a warm-up misconfigured: epoch 1 at `spike`x the rate
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            [steps_per_epoch], [lr * spike, lr])
    if kind == "explode":  # ExponentialDecay misconfigured with decay_rate > 1
        return keras.optimizers.schedules.ExponentialDecay(lr, steps_per_epoch, 1.6)
    return float(lr)


# ------------------------------------------------------------------------ scenarios
@dataclass
class Scenario:
    name: str
    label: str  # the fault built in; "healthy" for none
    data: str
    arch: str = "mlp"
    opt: str = "adam"
    lr: float = 1e-3
    epochs: int = 25
    batch: int = 32
    val: float = 0.25
    width: int = 32
    depth: int = 1
    dropout: float = 0.0
    batchnorm: bool = False
    sched: str | None = None  # "cosine", "step", "collapse", "plateau" (ReduceLROnPlateau)
    n: int | None = None  # samples generated (generated sets)
    train_subset: int | None = None  # keep only this many training samples
    fault: str | None = None  # "shuffle_labels", "shuffle_val_labels", "nan_input"
    extra: dict = field(default_factory=dict)


def scenarios() -> list[Scenario]:
    S = Scenario
    return [
        # ----------------------------------------------------------------- healthy
        S("wine_mlp_adam", "healthy", "wine", epochs=30, batch=16),
        S("iris_mlp_nadam_bn", "healthy", "iris", opt="nadam", lr=3e-3, batchnorm=True,
          batch=16, epochs=30),
        S("blobs_mlp_momentum_step", "healthy", "blobs", opt="momentum", lr=0.01,
          sched="step", epochs=20),
        S("blobs_mlp_rlrop", "healthy", "blobs", lr=3e-3, sched="plateau", epochs=30),
        S("quantiles_deep_adamw_cosine", "healthy", "quantiles", opt="adamw", lr=3e-3,
          width=64, depth=2, sched="cosine", epochs=30, batch=64),
        S("digits_cnn_bn_adam", "healthy", "digits_img", arch="cnn", batchnorm=True,
          lr=1e-3, epochs=15, batch=32),
        S("digits_cnn_rmsprop_rlrop", "healthy", "digits_img", arch="cnn", opt="rmsprop",
          lr=1e-3, sched="plateau", epochs=20, batch=32),
        S("hastie_mlp_dropout", "healthy", "hastie", width=64, dropout=0.3, epochs=25,
          batch=64),
        S("multilabel_mlp_adam", "healthy", "multilabel", width=64, epochs=20),
        S("friedman2_mlp_rlrop", "healthy", "friedman2", width=64, depth=2, lr=3e-3,
          sched="plateau", epochs=40, batch=64),
        S("friedman3_mlp_cosine_bigval", "healthy", "friedman3", width=64, depth=2,
          sched="cosine", lr=3e-3, val=0.5, epochs=30),
        S("linnerud_mlp_small_val", "healthy", "linnerud", width=16, val=0.1, epochs=25,
          batch=8, lr=3e-3),
        S("imbalanced_mlp_momentum", "healthy", "imbalanced", opt="momentum", lr=0.01,
          width=64, epochs=20, batch=64),
        # ------------------------------------------------------------- overfitting
        S("wine_tiny_train_wide", "overfitting", "wine", width=256, depth=2, lr=3e-3,
          val=0.5, train_subset=24, epochs=80, batch=8),
        S("quantiles_small_deep", "overfitting", "quantiles", width=256, depth=3,
          lr=3e-3, train_subset=120, n=1500, epochs=80, batch=16),
        S("friedman3_small_deep", "overfitting", "friedman3", width=256, depth=3,
          lr=3e-3, train_subset=60, epochs=150, batch=16),
        S("digits_cnn_small_train", "overfitting", "digits_img", arch="cnn", lr=3e-3,
          train_subset=60, epochs=120, batch=16, val=0.4),
        # ------------------------------------------------------------ underfitting
        S("quantiles_linear", "underfitting", "quantiles", arch="linear", lr=0.01,
          epochs=25),
        S("hastie_linear", "underfitting", "hastie", arch="linear", lr=0.01, epochs=25),
        S("friedman2_linear", "underfitting", "friedman2", arch="linear", lr=0.01,
          epochs=30),
        S("friedman3_linear", "underfitting", "friedman3", arch="linear", lr=0.01,
          epochs=30),
        S("quantiles_two_units", "underfitting", "quantiles", width=2, lr=0.01, epochs=30),
        # ---------------------------------------------- not learning (dead, random)
        # A rate far too high for SGD: a blow-up, then a dead ReLU network.
        S("wine_sgd_dead_after_spike", "not_learning", "wine", opt="sgd", lr=4.0, depth=2,
          epochs=20, batch=16),
        S("iris_momentum_dead", "not_learning", "iris", opt="momentum", lr=1.5, depth=2,
          epochs=20, batch=16),
        S("hastie_sgd_dead", "not_learning", "hastie", opt="sgd", lr=15.0, depth=2,
          epochs=15, batch=64),
        S("friedman2_sgd_dead", "not_learning", "friedman2", opt="sgd", lr=0.5, epochs=20,
          width=64, depth=2, batch=16),
        # One NaN input sample: NaN weights, which ReLU turns into zeros: a constant model.
        S("wine_nan_input_kills_relu", "not_learning", "wine", fault="nan_input", epochs=15,
          batch=16),
        S("friedman2_nan_input_kills_relu", "not_learning", "friedman2", fault="nan_input",
          epochs=15),
        S("blobs_shuffled_labels", "not_learning", "blobs", fault="shuffle_labels",
          epochs=20),
        S("imbalanced_majority_collapse", "not_learning", "imbalanced", opt="sgd", lr=3.0,
          depth=2, epochs=20, batch=32),
        S("multilabel_shuffled", "not_learning", "multilabel", fault="shuffle_labels",
          width=16, epochs=20),
        # -------------------------------------------------------------------- NaN
        # A NaN input through a linear model (no ReLU to hide it).
        S("hastie_linear_nan_input", "nan_loss", "hastie", arch="linear", fault="nan_input",
          epochs=10),
        S("multilabel_linear_nan_input", "nan_loss", "multilabel", arch="linear",
          fault="nan_input", opt="rmsprop", epochs=10),
        # --------------------------------------------------------- slow (lr too low)
        S("blobs_sgd_tiny_lr", "slow_convergence", "blobs", opt="sgd", lr=1e-4,
          epochs=20),
        S("digits_cnn_adagrad_tiny", "slow_convergence", "digits_img", arch="cnn",
          opt="adagrad", lr=2e-4, epochs=15, batch=64),
        S("friedman3_sgd_tiny_lr", "slow_convergence", "friedman3", opt="sgd", lr=2e-4,
          width=64, epochs=20),
        # ----------------------------------------------- plateau (a stall, far above)
        S("blobs_collapsed_schedule", "plateau", "blobs", opt="sgd", lr=0.01,
          sched="collapse", extra={"drop_at": 3}, epochs=20),
        S("quantiles_collapsed_schedule", "plateau", "quantiles", opt="momentum",
          lr=0.003, sched="collapse", extra={"drop_at": 2}, width=64, epochs=20),
        S("friedman2_collapsed_schedule", "plateau", "friedman2", opt="sgd", lr=0.003,
          sched="collapse", extra={"drop_at": 3}, width=64, epochs=20),
        # ------------------------------------------------- validation oscillates
        # A rate too high for tiny batches, judged on a small validation set.
        S("quantiles_sgd_high_lr_small_val", "val_oscillation", "quantiles", opt="sgd",
          lr=1.0, batch=8, val=0.05, epochs=20, width=64),
        S("hastie_momentum_high_lr_small_val", "val_oscillation", "hastie", opt="momentum",
          lr=0.2, batch=8, val=0.05, epochs=20, width=64),
        S("wine_adam_high_lr_dropout", "val_oscillation", "wine", lr=0.05, batch=4,
          val=0.15, epochs=20, width=64, dropout=0.5),
        # ------------------------------------------------ validation at chance
        S("blobs_val_labels_shuffled", "val_at_chance", "blobs",
          fault="shuffle_val_labels", epochs=20, width=64),
        S("quantiles_val_labels_shuffled", "val_at_chance", "quantiles",
          fault="shuffle_val_labels", epochs=25, width=64, depth=2),
        # -------------------------------------------- diverging (rises, stays finite)
        # ExponentialDecay with decay_rate 1.6: the rate grows every epoch.
        S("blobs_adam_rate_grows", "diverging", "blobs", sched="explode", epochs=14),
        S("friedman3_momentum_rate_grows", "diverging", "friedman3", opt="momentum",
          sched="explode", width=64, epochs=12),
        S("quantiles_rmsprop_rate_grows", "diverging", "quantiles", opt="rmsprop",
          sched="explode", lr=3e-4, width=64, epochs=14),
    ]


def issue_scenarios() -> list[Scenario]:
    """The classes of miss issue #23 names, each built as the issue describes it (the
    test suite's fixture `tests/fixtures/issue23_runs.json`, `--set issue23`)."""
    S = Scenario
    return [
        # A dead network after a spike: SGD far too fast for a 2-layer ReLU net.
        S("dead_3class_after_spike", "not_learning", "wine", opt="sgd", lr=4.0, depth=2,
          epochs=15, batch=16),
        S("dead_binary_after_spike", "not_learning", "hastie", opt="sgd", lr=15.0, depth=2,
          epochs=12, batch=64),
        S("dead_regression_sgd_0_5", "not_learning", "friedman2", opt="sgd", lr=0.5,
          epochs=15, width=64, depth=2, batch=16),
        # Converged with ReduceLROnPlateau: reductions logged, flat at its best.
        S("converged_rlrop", "healthy", "blobs", opt="adam", lr=0.03, sched="plateau",
          epochs=40, batch=64, width=64),
        S("converged_rlrop_regression", "healthy", "friedman3", opt="adam", lr=0.01,
          sched="plateau", epochs=60, batch=64, width=64, depth=2),
        # Regression underfitting: a linear model on a non-linear target.
        S("linear_on_nonlinear_target", "underfitting", "friedman3", arch="linear",
          lr=0.01, epochs=30),
    ]


# ----------------------------------------------------------------------- training
def facts_of(model, first_rate: float | None) -> dict:
    """The model facts diagnose(model=...) reads, as TrainingDiagnostics passes them."""
    from keras_bestpractice.diagnostics.model_facts import ModelFacts

    facts = ModelFacts.from_any(model).to_dict()
    if first_rate is not None:
        facts["learning_rate"] = max(first_rate, facts["learning_rate"] or 0.0)
    return facts


class RateLog:
    """Records the optimizer's learning rate at the start and at each epoch end."""

    def __new__(cls):
        import keras

        from keras_bestpractice.diagnostics.model_facts import current_rate

        class _RateLog(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.rates, self.first = [], None

            def on_train_begin(self, logs=None):
                self.first = current_rate(self.model.optimizer)

            def on_epoch_end(self, epoch, logs=None):
                self.rates.append(current_rate(self.model.optimizer))

        return _RateLog()


def train(s: Scenario, seed: int) -> dict:
    import keras

    from keras_bestpractice._core.reference import target_summary

    (x_tr, y_tr), (x_va, y_va), info = load(s.data, s.val, seed, s.n)
    rng = np.random.default_rng(seed + 1)
    if s.train_subset:
        keep = rng.permutation(len(x_tr))[: s.train_subset]
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    if s.fault == "shuffle_labels":
        y_tr = y_tr[rng.permutation(len(y_tr))]
    elif s.fault == "shuffle_val_labels":
        y_va = y_va[rng.permutation(len(y_va))]
    elif s.fault == "nan_input":
        x_tr = x_tr.copy()
        x_tr[rng.integers(0, len(x_tr))].flat[0] = np.nan
    kind, classes = info["kind"], info["classes"]
    outputs = classes if kind != "regression" else (1 if y_tr.ndim == 1 else y_tr.shape[1])
    model = build(s.arch, x_tr.shape[1:], outputs, kind, s.width, s.depth, s.dropout,
                  s.batchnorm)
    steps = math.ceil(len(x_tr) / s.batch)
    lr = schedule(s.sched, s.lr, steps, s.epochs, **s.extra)
    loss = {"multiclass": "sparse_categorical_crossentropy",
            "binary": "binary_crossentropy", "multilabel": "binary_crossentropy",
            "regression": "mse"}[kind]
    metrics = {"multiclass": ["accuracy"], "binary": ["binary_accuracy"],
               "multilabel": ["binary_accuracy"], "regression": ["mae"]}[kind]
    model.compile(make_optimizer(s.opt, lr), loss, metrics=metrics)
    rates = RateLog()
    callbacks = [rates]
    if s.sched == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.3,
                                                           patience=3, min_lr=1e-6))
    history = model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=s.epochs,
                        batch_size=s.batch, verbose=0, callbacks=callbacks)
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    if "learning_rate" not in hist:
        # What TrainingDiagnostics logs when no callback does: the rate at each epoch end.
        hist["learning_rate"] = rates.rates
    entry = {"name": s.name, "label": s.label, "loss": loss, "epoch": list(history.epoch),
             "history": hist, "kind": kind,
             "num_classes": classes if kind == "multiclass" else None,
             # What TrainingDiagnostics reads off the model (diagnose(model=...)), and the
             # classes it predicts for a probe batch of 64 training samples at the end.
             "model_facts": facts_of(model, first_rate=rates.first)}
    if kind == "multiclass":
        probs = model.predict(x_tr[:64], verbose=0)
        entry["predicted_classes"] = np.argmax(probs, axis=-1).astype(int).tolist()
    if kind != "multiclass":
        entry["targets"] = dict(target_summary(y_tr))
    else:
        entry["class_prior"] = (np.bincount(y_tr.astype(int), minlength=classes)
                                / len(y_tr)).tolist()
    return entry


def _rate_at(lr, step: int) -> float:
    """A rate or schedule's value at optimizer step `step`."""
    return float(lr) if isinstance(lr, float) else float(np.asarray(lr(step)))


def backfill(path: Path) -> int:
    """Model facts and learning-rate curves for a corpus made before they were recorded:
    both follow from the scenario (the model it builds, the optimizer and schedule it
    sets), so they are what the generator would have recorded."""
    from keras_bestpractice._atomic import atomic_write_text

    corpus = json.loads(path.read_text())
    known = {s.name: s for s in scenarios() + issue_scenarios()}
    for entry in corpus["runs"]:
        s = known[entry["name"]]
        seed = (zlib.crc32(s.name.encode()) + 104729 * corpus["seed"]) % (2**31)
        (x_tr, y_tr), _, info = load(s.data, s.val, seed, s.n)
        n_train = min(len(x_tr), s.train_subset or len(x_tr))
        kind, classes = info["kind"], info["classes"]
        outputs = classes if kind != "regression" else (1 if y_tr.ndim == 1 else y_tr.shape[1])
        model = build(s.arch, x_tr.shape[1:], outputs, kind, s.width, s.depth, s.dropout,
                      s.batchnorm)
        steps = math.ceil(n_train / s.batch)
        lr = schedule(s.sched, s.lr, steps, s.epochs, **s.extra)
        model.compile(make_optimizer(s.opt, lr), "mse")
        entry["model_facts"] = facts_of(model, first_rate=_rate_at(lr, 0))
        if "learning_rate" not in entry["history"]:
            entry["history"]["learning_rate"] = [_rate_at(lr, (e + 1) * steps)
                                                 for e in entry["epoch"]]
    atomic_write_text(path, json.dumps(corpus, indent=1, allow_nan=True))
    print(f"backfilled {len(corpus['runs'])} runs in {path}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--only", default=None, help="only the scenarios whose name has this")
    parser.add_argument("--set", choices=("corpus", "issue23"), default="corpus",
                        help="corpus: the independent corpus; issue23: the runs of the "
                             "classes issue #23 names (tests/fixtures/issue23_runs.json)")
    parser.add_argument("--backfill", default=None, metavar="CORPUS",
                        help="add to an existing corpus what a later generator records "
                             "without training again: the model facts and, where no "
                             "callback logged it, the learning rate at each epoch end (from "
                             "the run's own schedule)")
    args = parser.parse_args(argv)

    import keras

    from keras_bestpractice._atomic import atomic_write_text

    if args.backfill:
        return backfill(Path(args.backfill))

    runs, t0 = [], time.perf_counter()
    if args.set == "issue23" and args.out == str(DEFAULT_OUT):
        args.out = str(ROOT / "tests" / "fixtures" / "issue23_runs.json")
    for s in (scenarios() if args.set == "corpus" else issue_scenarios()):
        if args.only and args.only not in s.name:
            continue
        seed = (zlib.crc32(s.name.encode()) + 104729 * args.seed) % (2**31)
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        entry = train(s, seed)
        has_nan = any(not np.isfinite(v) for vals in entry["history"].values() for v in vals)
        if s.label == "nan_loss" and not has_nan:
            print(f"!! {s.name}: built to hold a NaN and holds none; left out", flush=True)
            continue
        if has_nan and s.label != "nan_loss":
            # A NaN is a fact, not a judgement: the run's label is nan_loss.
            print(f"!! {s.name}: built as {s.label}, holds a NaN: labelled nan_loss",
                  flush=True)
            entry["label"] = "nan_loss"
        runs.append(entry)
        last = {k: round(v[-1], 4) for k, v in entry["history"].items()}
        print(f"{s.name:36s} {s.label:17s} {time.perf_counter() - start:5.1f}s {last}",
              flush=True)
    corpus = {"runs": runs, "seed": args.seed, "keras_version": keras.__version__,
              "description": "Real Keras runs made by benchmarks/make_independent_corpus.py "
                             "(labels from how each run was built)"}
    atomic_write_text(Path(args.out), json.dumps(corpus, indent=1, allow_nan=True))
    print(f"wrote {len(runs)} runs to {args.out} in {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
