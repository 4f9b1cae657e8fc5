"""The loss a model that learned nothing gets: one loss-aware reference level for every part.

A model that has learned nothing predicts what the targets look like overall:

- a softmax classifier (sparse/categorical cross-entropy) predicts the class prior
  p: its loss is the entropy H(p) (ln C for C balanced classes), its accuracy the
  majority share max p;
- a sigmoid output (binary cross-entropy) predicts each label's prevalence q: its
  loss is the Bernoulli entropy H(q) (averaged over labels for multi-label), its
  binary accuracy max(q, 1 - q) (averaged);
- a regression model trained with the mean squared error predicts the target mean:
  its loss is the targets' variance; with the mean absolute error it predicts the
  median: its loss is the mean absolute deviation from the median;
- for any other loss the level is unknown, and no "not learning" verdict is given.

`DivergenceGuard(stop_if_not_learning=True)`, `diagnose()`, `TrainingDiagnostics` and
the tuner's pruning read the same `ReferenceLevel`. Pure NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_CLASSIFICATION = ("sparsecategoricalcrossentropy", "categoricalcrossentropy",
                   "categoricalfocalcrossentropy", "sparsecategoricalfocalcrossentropy")
_BINARY = ("binarycrossentropy", "binaryfocalcrossentropy")
_MSE = ("mse", "meansquarederror")
_MAE = ("mae", "meanabsoluteerror")


@dataclass(frozen=True)
class ReferenceLevel:
    """The loss (and accuracy, for classifiers) of a model that learned nothing.

    Attributes:
        loss: the reference loss (nats for cross-entropies, squared or absolute
            units of the targets for regression).
        accuracy: accuracy of always predicting the majority (class or label value),
            `None` for regression.
        num_classes: number of classes (classification), labels (multi-label),
            `None` for regression.
        source: where it came from: `"num_classes"`, `"class_prior"`,
            `"inferred"` (from flat curves), `"targets"` (from the data), or
            `"assumed"` (balanced labels, when none were given).
        kind: `"classification"`, `"binary"`, `"multilabel"` or `"regression"`.
    """

    loss: float
    accuracy: float | None
    num_classes: int | None
    source: str
    kind: str = "classification"

    @property
    def description(self) -> str:
        """What the level is, in words (for messages)."""
        if self.kind == "regression":
            return f"the loss of always predicting the typical target ({self.loss:.4g})"
        if self.kind in ("binary", "multilabel"):
            labels = "" if not self.num_classes or self.num_classes == 1 else \
                f" over {self.num_classes} labels"
            return f"the entropy of the label prevalence{labels} ({self.loss:.4g})"
        classes = f"{self.num_classes} classes" if self.num_classes else "this prior"
        return f"the chance level for {classes}, a loss of {self.loss:.4g}"

    def to_dict(self) -> dict[str, object]:
        return {
            "chance_loss": round(self.loss, 6),
            "chance_accuracy": None if self.accuracy is None else round(self.accuracy, 6),
            "num_classes": self.num_classes,
            "chance_source": self.source,
            "reference_kind": self.kind,
        }


def loss_kind(loss: Any) -> str | None:
    """`"classification"`, `"binary"`, `"mse"`, `"mae"` or `None` for a loss name, a Keras
    loss object (by its class or `name`) or a function (by `__name__`)."""
    if loss is None:
        return None
    names = []
    if isinstance(loss, str):
        names.append(loss)
    else:
        names += [type(loss).__name__, str(getattr(loss, "name", "")),
                  str(getattr(loss, "__name__", ""))]
        fn = getattr(loss, "fn", None)
        if fn is not None:
            names.append(str(getattr(fn, "__name__", "")))
    for name in names:
        key = name.replace("_", "").lower()
        if key in _CLASSIFICATION:
            return "classification"
        if key in _BINARY:
            return "binary"
        if key in _MSE:
            return "mse"
        if key in _MAE:
            return "mae"
    return None


class TargetSummary(dict):
    """`target_summary`'s answer: a plain dict of statistics, marked as already summarised."""


def target_summary(targets: Any) -> TargetSummary:
    """The statistics of `targets` that reference levels need (small, copyable).

    Integer class ids (shape `(N,)` or `(N, 1)`) give class counts; a 0/1 matrix gives
    the prevalence of each column (and, when every row has one 1, class counts); any
    numeric target gives its mean, variance, median and mean absolute deviation.

    Raises:
        TypeError: for targets that are not numbers.
        ValueError: for empty or non-finite targets.
    """
    if isinstance(targets, TargetSummary):
        return targets
    arr = np.asarray(targets)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`targets` must be numbers, got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if arr.size == 0:
        raise ValueError("`targets` is empty.")
    if not np.isfinite(arr).all():
        raise ValueError("`targets` has NaN or infinite values.")
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    out = TargetSummary({
        "n": int(flat.shape[0]), "columns": int(flat.shape[1]),
        "variance": float(np.mean(np.var(flat, axis=0))),
        "mad": float(np.mean(np.abs(flat - np.median(flat, axis=0)))),
    })
    binary = bool(np.isin(flat, (0.0, 1.0)).all())
    if binary:
        out["prevalence"] = [float(p) for p in flat.mean(axis=0)]
        if flat.shape[1] > 1 and np.all(flat.sum(axis=1) == 1):
            out["class_counts"] = [int(c) for c in flat.sum(axis=0)]
    if flat.shape[1] == 1 and np.all(flat == np.round(flat)) and flat.min() >= 0 and \
            flat.max() < 100_000:
        out["class_counts"] = [int(c) for c in np.bincount(flat[:, 0].astype(np.int64))]
    return out


def _entropy(prior: np.ndarray) -> float:
    nz = prior[prior > 0]
    return float(-(nz * np.log(nz)).sum())


def chance_level(num_classes: int | None = None,
                 class_prior: Sequence[float] | None = None) -> ReferenceLevel | None:
    """The classification reference: from a class prior (counts or shares) or a count.

    Returns `None` when neither is given.

    Raises:
        TypeError, ValueError: for a bad `num_classes` (< 2) or `class_prior`.
    """
    if class_prior is not None:
        from keras_bestpractice import _validation as v

        prior = np.asarray(v.check_class_prior("class_prior", class_prior), dtype=np.float64)
        prior = prior / prior.sum()
        return ReferenceLevel(loss=_entropy(prior), accuracy=float(prior.max()),
                              num_classes=int(prior.size), source="class_prior")
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise TypeError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
        if num_classes < 2:
            raise ValueError(f"`num_classes` must be >= 2, got {num_classes}.")
        return ReferenceLevel(loss=math.log(num_classes), accuracy=1.0 / num_classes,
                              num_classes=int(num_classes), source="num_classes")
    return None


def reference_level(loss: Any, *, num_classes: int | None = None,
                    class_prior: Sequence[float] | None = None,
                    targets: Mapping[str, Any] | None = None) -> ReferenceLevel | None:
    """The reference level for `loss` (a name, a Keras loss or `loss_kind`'s answer).

    `targets` is `target_summary(y)` of the training targets, when known. Returns
    `None` when the level is unknown (another loss, or a regression loss without
    targets): no "not learning" verdict can be given then.
    """
    kind = loss_kind(loss) if loss not in ("classification", "binary", "mse", "mae") else loss
    targets = dict(targets or {})
    if kind == "classification":
        prior = class_prior if class_prior is not None else targets.get("class_counts")
        if prior is not None and len(prior) >= 2 and sum(prior) > 0:
            level = chance_level(class_prior=prior)
            return ReferenceLevel(level.loss, level.accuracy, level.num_classes,
                                  "class_prior" if class_prior is not None else "targets")
        return chance_level(num_classes)
    if kind == "binary":
        prevalence = targets.get("prevalence")
        if prevalence:
            q = np.clip(np.asarray(prevalence, dtype=np.float64), 0.0, 1.0)
            losses = -(np.where(q > 0, q * np.log(np.where(q > 0, q, 1)), 0.0)
                       + np.where(q < 1, (1 - q) * np.log(np.where(q < 1, 1 - q, 1)), 0.0))
            return ReferenceLevel(loss=float(losses.mean()),
                                  accuracy=float(np.maximum(q, 1 - q).mean()),
                                  num_classes=int(q.size),
                                  source="targets",
                                  kind="multilabel" if q.size > 1 else "binary")
        labels = num_classes if num_classes and num_classes > 2 else 1
        return ReferenceLevel(loss=math.log(2), accuracy=0.5, num_classes=labels,
                              source="assumed", kind="multilabel" if labels > 1 else "binary")
    if kind == "mse" and "variance" in targets:
        return ReferenceLevel(loss=float(targets["variance"]), accuracy=None, num_classes=None,
                              source="targets", kind="regression")
    if kind == "mae" and "mad" in targets:
        return ReferenceLevel(loss=float(targets["mad"]), accuracy=None, num_classes=None,
                              source="targets", kind="regression")
    return None
