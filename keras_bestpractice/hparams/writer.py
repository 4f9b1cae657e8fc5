"""Writing TensorBoard HParams data: the experiment config and one session per trial.

The HParams dashboard needs, at the root of the log directory, an *experiment
config* listing every hyperparameter with its domain (`Discrete` values or a
`RealInterval`/`IntInterval` with the true bounds) and every metric with its tag
and group; and, in one sub-directory per trial, a *session start* with the
trial's values, scalar summaries of the metrics, and a *session end* with the
final status. Scalars follow Keras's `TensorBoard` callback layout
(`<session>/train` and `<session>/validation`, tags `epoch_<metric>`), so the
two can be used together.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from keras_bestpractice._core.compare import Direction

STATUS = {"success": "STATUS_SUCCESS", "failure": "STATUS_FAILURE",
          "running": "STATUS_RUNNING", "unknown": "STATUS_UNKNOWN"}


def metric_tag(key: str, best: bool = False) -> tuple[str, str]:
    """`(group, tag)` of a Keras log key: `val_loss` -> (`validation`, `epoch_loss`);
    with `best=True` the tag of its best value so far: (`validation`, `best_loss`)."""
    prefix = "best_" if best else "epoch_"
    if key.startswith("val_"):
        return "validation", f"{prefix}{key[4:]}"
    return "train", f"{prefix}{key}"


# What a tuner trial ended as: the `outcome` column of the HParams table.
OUTCOME_COMPLETED = "completed"
OUTCOME_FAILED = "failed"


def outcome_values() -> list[str]:
    """Every `outcome` a trial can have: completed, failed, or pruned with its reason."""
    from keras_bestpractice._core.reasons import StopReason

    return [OUTCOME_COMPLETED, OUTCOME_FAILED] + [f"pruned: {r.value}" for r in StopReason]


def hparams_from_keras_tuner(hyperparameters: Any) -> list[Any]:
    """`hp.HParam`s with real domains for a `keras_tuner.HyperParameters` space."""
    from tensorboard.plugins.hparams import api as hp

    out = []
    for item in hyperparameters.space:
        config = item.get_config()
        kind = type(item).__name__
        name = item.name
        if kind == "Choice":
            domain = _discrete(list(config["values"]))
        elif kind == "Float":
            domain = hp.RealInterval(float(config["min_value"]), float(config["max_value"]))
        elif kind == "Int":
            domain = hp.IntInterval(int(config["min_value"]), int(config["max_value"]))
        elif kind == "Boolean":
            domain = hp.Discrete([False, True])
        elif kind == "Fixed":
            domain = _discrete([config["value"]])
        else:  # pragma: no cover - future KerasTuner kinds
            domain = None
        out.append(hp.HParam(name, domain))
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _discrete(values: list[Any]) -> Any:
    """A `Discrete` domain; whole numbers become text right-aligned to one width.

    TensorBoard's HParams table prints every number to five significant digits
    (`batch_size` 32 reads "32.000"); as text it reads "32", and the padding (which
    HTML does not show) keeps the table's text sort in numeric order ("  32" < " 128").
    `int()` and `float()` read the padded text back.
    """
    from tensorboard.plugins.hparams import api as hp

    if values and all(_is_int(v) for v in values):
        width = max(len(str(v)) for v in values)
        return hp.Discrete([str(v).rjust(width) for v in values])
    return hp.Discrete(values)


def value_for(param: Any, value: Any) -> Any:
    """`value` as the domain of `param` (an `hp.HParam`) holds it: a whole number
    becomes its padded text in a text domain made by `_discrete`."""
    value = _plain(value)
    domain = getattr(param, "domain", None)
    if _is_int(value) and domain is not None and getattr(domain, "dtype", None) is str:
        width = max((len(v) for v in domain.values), default=0)
        return str(value).rjust(width)
    return value


def hparams_from_values(values: Mapping[Any, Any]) -> tuple[list[Any], dict[str, Any]]:
    """`(HParam list, {name: value})` from a dict keyed by names or `hp.HParam`s.

    A plain name gets a `Discrete` domain holding its one value (numbers, strings
    and booleans are what the dashboard can show).
    """
    from tensorboard.plugins.hparams import api as hp

    params, flat = [], {}
    for key, value in values.items():
        if isinstance(key, hp.HParam):
            params.append(key)
            flat[key.name] = _plain(value)
        else:
            if not isinstance(key, str):
                raise TypeError(f"`hparams` keys must be names or hp.HParam, got {key!r}.")
            params.append(hp.HParam(key, hp.Discrete([_plain(value)])))
            flat[key] = _plain(value)
    return params, flat


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def metrics_for(keys: Iterable[str], best: Iterable[str] = ()) -> list[Any]:
    """`hp.Metric`s for Keras log keys (train and validation groups), in the order
    given (the dashboard colours by the first and shows the first five). Keys in
    `best` get two columns: "<key> (best epoch)", then "<key> (last epoch)"."""
    from tensorboard.plugins.hparams import api as hp

    best = set(best)
    out, seen = [], set()
    for key in keys:
        group, tag = metric_tag(key)
        if (group, tag) in seen:
            continue
        seen.add((group, tag))
        display = key if group == "validation" else f"train_{key}"
        if key in best:
            _, best_tag = metric_tag(key, best=True)
            out.append(hp.Metric(best_tag, group=group, display_name=f"{display} (best epoch)"))
            out.append(hp.Metric(tag, group=group, display_name=f"{display} (last epoch)"))
        else:
            out.append(hp.Metric(tag, group=group, display_name=display))
    return out


def write_experiment(logdir: str | os.PathLike, hparams: list[Any], metrics: list[Any],
                     time_created: float | None = None,
                     text_hparams: Iterable[str] = (),
                     shown: Iterable[str] | None = None) -> None:
    """Write the experiment config (domains and metric list) at the log root.

    `text_hparams`: names of free-text columns (string type, no domain: the dashboard
    filters them with a regular expression), e.g. a trial's error message.
    `shown`: the hyperparameters the dashboard lists first and shows as columns
    (TensorBoard sorts by the `differs` flag, then by name, and ticks the first five;
    the others stay one click away); `None`: all of `hparams`.
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2, summary_v2

    summary = summary_v2.hparams_config_pb(hparams=hparams, metrics=metrics,
                                           time_created_secs=time_created or time.time())
    value = summary.value[0]
    data = plugin_data_pb2.HParamsPluginData()
    data.ParseFromString(value.metadata.plugin_data.content)
    # TensorBoard lists hyperparameters with `differs` set first (then by name) and the
    # dashboard shows the first five: the `shown` ones come before the others and the
    # free-text columns, which are empty for most sessions.
    shown = None if shown is None else set(shown)
    for info in data.experiment.hparam_infos:
        info.differs = shown is None or info.name in shown
    for name in text_hparams:
        data.experiment.hparam_infos.append(
            api_pb2.HParamInfo(name=name, type=api_pb2.DATA_TYPE_STRING, differs=False))
    value.metadata.plugin_data.content = data.SerializeToString()
    Path(logdir).mkdir(parents=True, exist_ok=True)
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=0)
    writer.flush()
    writer.close()


def has_experiment_config(logdir: str | os.PathLike) -> bool:
    """Whether `logdir` itself holds an HParams experiment config (a tuner's)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import metadata

    for path in sorted(Path(logdir).glob("events.out.tfevents.*")):
        try:
            for event in tf.compat.v1.train.summary_iterator(str(path)):
                for value in event.summary.value:
                    if value.tag == metadata.EXPERIMENT_TAG:
                        return True
        except Exception:  # noqa: BLE001 - a damaged event file holds no config we can use
            continue
    return False


class SessionWriter:
    """One HParams session (a trial or a `fit`): its values, scalars and status."""

    def __init__(self, session_dir: str | os.PathLike, best: Mapping[str, float] | None = None):
        import tensorflow as tf

        self.session_dir = Path(session_dir)
        self.session_dir.mkdir(parents=True, exist_ok=True)
        self._tf = tf
        self._root = tf.summary.create_file_writer(str(self.session_dir))
        self._groups: dict[str, Any] = {}
        # `best`: the best values so far of a session this writer continues.
        self._best: dict[str, float] = dict(best or {})

    @property
    def best_values(self) -> dict[str, float]:
        """The best value of each metric with a best column, so far."""
        return dict(self._best)

    def start(self, values: Mapping[str, Any], trial_id: str | None = None,
              hparams: list[Any] | None = None) -> None:
        from tensorboard.plugins.hparams import api as hp

        if hparams is not None:
            by_name = {p.name: p for p in hparams}
            values = {by_name.get(k, k): value_for(by_name.get(k), v) for k, v in values.items()}
        else:
            values = {k: _plain(v) for k, v in values.items()}
        with self._root.as_default():
            hp.hparams(values, trial_id=trial_id, start_time_secs=int(time.time()))
        self._root.flush()

    def scalars(self, step: int, logs: Mapping[str, Any],
                best: Mapping[str, str] | None = None) -> None:
        """Write one epoch's values. `best`: `{key: "min" | "max"}`; for those keys the
        best value so far is written too (tag `best_<metric>`), so the dashboard's
        last-step value of that tag is the best epoch's value."""
        best = best or {}
        for key, value in logs.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(number):
                continue
            self._scalar(key, number, step)
            if key in best:
                if Direction.of(best[key]).is_better(number, self._best.get(key)):
                    self._best[key] = number
                self._scalar(key, self._best[key], step, best=True)
        for writer in self._groups.values():
            writer.flush()

    def _scalar(self, key: str, number: float, step: int, best: bool = False) -> None:
        group, tag = metric_tag(key, best=best)
        writer = self._groups.get(group)
        if writer is None:
            writer = self._tf.summary.create_file_writer(str(self.session_dir / group))
            self._groups[group] = writer
        with writer.as_default():
            self._tf.summary.scalar(tag, number, step=step)

    def text(self, tag: str, value: str, step: int = 0) -> None:
        with self._root.as_default():
            self._tf.summary.text(tag, value, step=step)
        self._root.flush()

    def end(self, status: str = "success") -> None:
        from tensorboard.plugins.hparams import api_pb2
        from tensorboard.plugins.hparams import summary as hp_summary

        code = getattr(api_pb2, STATUS.get(status, "STATUS_UNKNOWN"))
        pb = hp_summary.session_end_pb(code, end_time_secs=int(time.time()))
        with self._root.as_default():
            self._tf.summary.experimental.write_raw_pb(pb.SerializeToString(), step=0)
        self.close()

    def close(self) -> None:
        self._root.flush()
        self._root.close()
        for writer in self._groups.values():
            writer.close()
        self._groups = {}
