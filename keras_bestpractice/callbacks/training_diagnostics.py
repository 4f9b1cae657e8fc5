"""`TrainingDiagnostics`: a diagnostics report at the end of every `fit`."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import (
    CopyableCallback,
    num_classes_of,
    output_losses,
    output_widths,
    print_msg,
    reference_for,
)
from keras_bestpractice._core.history import EpochHistory
from keras_bestpractice._core.inputs import is_dataset as _is_dataset
from keras_bestpractice.diagnostics.curves import LEARNING_RATE_KEYS
from keras_bestpractice.diagnostics.model_facts import ModelFacts, current_rate

REPORT_SUFFIXES = (".html", ".htm", ".md", ".json", ".png")
_RELU = ("relu", "relu6")


class TrainingDiagnostics(CopyableCallback):
    """Diagnose the run while it trains; build `callback.report` at the end.

    At `on_train_begin` it runs pre-flight checks: the output activation against
    the loss's `from_logits` (`logits_mismatch`) and, with `probe_data`, the input
    scale (`inputs_not_normalized`) and the loss before any update
    (`bad_initial_loss`; without probe data the first batch's logged loss is
    used). Every `every_n_epochs` epochs it probes a small batch of `probe_data`
    in inference mode (no BatchNorm or RNG side effects): per-layer gradient
    norms (`exploding_gradients`, `vanishing_gradients`), the fraction of ReLU
    units that never fire (`dead_units`) and the update/weight ratio per layer
    (~1e-3 per step is healthy). At `on_train_end` it combines these with the
    findings `keras_bestpractice.diagnostics.diagnose()` reads from the learning
    curves into `self.report` (a `DiagnosticsReport`), writes `report_path` and
    prints a short summary.

    A Keras callback cannot see the training data: with `probe_data=None` the
    checks that need inputs are skipped and listed in `report.skipped_checks`.

    Args:
        probe_data: `(x, y)` arrays, or a `tf.data.Dataset` of `(x, y)` batches as
            `fit` takes it; the first `probe_size` samples are used. Defaults to `None`.
        every_n_epochs: probe every n epochs (and before the first). Defaults to `1`.
        report_path: where to write the report; the suffix picks the format
            (`.html`, `.md`, `.json`, `.png`). Defaults to `None`.
        verbose: `0` silent, `1` prints the summary at the end. Defaults to `1`.
        num_classes: classes for the chance level of a softmax classifier; `None`
            reads the model's output width. Defaults to `None`.
        class_prior: class counts or shares (imbalanced data). Defaults to `None`.
        targets: the training targets (or a representative sample; a dict by
            output name for a multi-output model): the reference level of MSE/MAE
            losses (the targets' variance / mean absolute deviation), of binary
            cross-entropy (label prevalence) and the class prior. Only summary
            statistics are kept. Without them a regression run gets no
            `not_learning` verdict. Defaults to `None`.
        probe_size: samples taken from `probe_data`. Defaults to `64`.
        lenient: when `probe_data` cannot be used with the model (wrong shapes,
            string or out-of-range labels, a loss that is not finite on it),
            `False` raises `ValueError` at the start of `fit` with the cause;
            `True` trains on and reports the failure in the report's headline
            (a `probe_failed` finding). Defaults to `False`.

    Attributes:
        report: the `DiagnosticsReport` of the last `fit` (`None` before).
        history: the epoch logs recorded during the last `fit` (dict of lists).

    Example:

    ```python
    diag = TrainingDiagnostics(probe_data=(x_val[:64], y_val[:64]),
                               report_path="report.html")
    model.fit(x, y, validation_data=(x_val, y_val), epochs=20, callbacks=[diag])
    print(diag.report.primary)
    ```

    Raises:
        ValueError: for a `report_path` with an unknown suffix, a directory, or
            counts < 1; at the start of `fit`, for `probe_data` the model cannot
            use (unless `lenient=True`).
        TypeError: for arguments of the wrong type.
    """

    def __init__(
        self,
        probe_data: Any = None,
        every_n_epochs: int = 1,
        report_path: str | os.PathLike | None = None,
        verbose: int = 1,
        num_classes: int | None = None,
        class_prior: Sequence[float] | None = None,
        probe_size: int = 64,
        lenient: bool = False,
        targets: Any = None,
    ):
        super().__init__()
        self.probe_data = _check_probe_data(probe_data)
        self.every_n_epochs = v.check_int("every_n_epochs", every_n_epochs, minimum=1)
        self.report_path = v.check_file_path("report_path", report_path, allow_none=True,
                                             suffixes=REPORT_SUFFIXES)
        self.verbose = v.check_int("verbose", verbose, minimum=0)
        self.num_classes = v.check_int("num_classes", num_classes, minimum=2, allow_none=True)
        self.class_prior = v.check_class_prior("class_prior", class_prior)
        self.probe_size = v.check_int("probe_size", probe_size, minimum=1)
        self.lenient = v.check_bool("lenient", lenient)
        self.targets = _summaries(targets)
        self.report = None
        self._reset()

    _NOT_COPIED = ("_model", "_probe", "_extractor", "_probe_model", "_prev_kernels",
                   "_grad_fn")

    @property
    def history(self) -> dict[str, list[float]]:
        """The epoch logs recorded during the last `fit` (a dict of lists)."""
        return self._log.data

    def _reset(self) -> None:
        self._log = EpochHistory()
        self._probes: list[dict[str, Any]] = []
        self._findings: list = []
        self._skipped: list[str] = []
        self._probe = None
        self._extractor = None
        self._probe_model = None
        self._grad_fn = None
        self._watched: list[tuple[str, str]] = []  # (layer name, "relu"|"tanh"|"sigmoid"|"")
        self._prev_kernels: dict[str, np.ndarray] | None = None
        self._fingerprints: list[tuple[int, dict[str, float]]] = []
        self._batches = 0
        self._batches_at_probe = 0
        self._first_batch_loss: float | None = None
        self._initial_loss: float | None = None
        self._inputs_normalized: bool | None = None
        self._previous: tuple | None = None
        self._start_probe_pending = False

    # -------------------------------------------------------------- callbacks
    def on_train_begin(self, logs=None):
        # Allow instances to be re-used across `model.fit()` calls; what the last fit
        # saw is kept until the first epoch says whether this fit continues its run.
        previous = (self._log, self._probes, self._initial_loss, self._first_batch_loss)
        self._reset()
        self._previous = previous
        self.report = None
        self._start_probe_pending = False
        self._chance = self._chance_level()
        self._preflight_model()
        if self.probe_data is None:
            self._skipped.append(
                "exploding_gradients, vanishing_gradients, dead_units, saturated_activations, "
                "poor_initialization, weights_unchanged, class_imbalance, class_never_predicted, "
                "inputs_not_normalized: need probe_data (a Keras callback cannot see the "
                "training data)"
            )
            return
        try:
            self._probe = self._take_probe(self.probe_data)
            self._check_probe()
        except Exception as exc:  # noqa: BLE001 - reported with its cause, below
            self._probe = None
            cause = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
            if not self.lenient:
                raise ValueError(
                    f"TrainingDiagnostics: `probe_data` cannot be used with this model ({cause}). "
                    "Give probe_data as fit takes x and y, or pass lenient=True to train on "
                    "and see the failure in the report."
                ) from exc
            self._probe_failed(cause)
            return
        from keras_bestpractice.diagnostics import signals

        x = self._probe[0]
        if isinstance(x, np.ndarray) and x.dtype.kind in "fiu":
            stats = {"mean": float(np.mean(x)), "std": float(np.std(x)),
                     "min": float(np.min(x)), "max": float(np.max(x))}
            self._inputs_normalized = signals.input_scale_finding(stats) is None
            finding = signals.input_scale_finding(stats, self._has_preprocessing())
            if finding:
                self._findings.append(finding)
        else:
            self._skipped.append("inputs_not_normalized: probe inputs are not one numeric array")
        self._start_probe_pending = True

    def on_epoch_begin(self, epoch, logs=None):
        previous, self._previous = self._previous, None
        if previous is not None and len(previous[0]) and not previous[0].is_new_run(epoch):
            # A fit that numbers its epochs on (`fine_tune`'s next phase, a resumed run)
            # continues the run: one history, one report, the run's initial loss.
            self._log, self._probes, self._initial_loss, self._first_batch_loss = previous
            self._start_probe_pending = False
        if self._start_probe_pending:
            self._start_probe_pending = False
            self._run_probe(epoch=0, when="start")

    def _probe_failed(self, cause: str) -> None:
        from keras_bestpractice.diagnostics.catalog import make_finding

        self._findings.append(make_finding("probe_failed", None, {"cause": cause}))
        self._skipped.append("exploding_gradients, vanishing_gradients, dead_units, "
                             f"inputs_not_normalized: probe_data could not be used ({cause})")

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._first_batch_loss is None and logs and "loss" in logs:
            try:
                self._first_batch_loss = float(logs["loss"])
            except (TypeError, ValueError):
                self._first_batch_loss = math.nan

    def on_epoch_end(self, epoch, logs=None):
        if not any(key in (logs or {}) for key in LEARNING_RATE_KEYS):
            # The rate each epoch ended at (a schedule's value), as ReduceLROnPlateau logs
            # it: a stall with a collapsed rate is the schedule's (`plateau`), and a slow
            # run at its optimizer's customary rate is not "raise the rate".
            rate = current_rate(getattr(self.model, "optimizer", None))
            if rate is not None:
                logs = {**(logs or {}), "learning_rate": rate}
        self._log.append(epoch, logs)
        if self._probe is not None and (len(self._log) % self.every_n_epochs == 0):
            self._run_probe(epoch=int(epoch), when="end")

    def on_train_end(self, logs=None):
        from keras_bestpractice.diagnostics import signals
        from keras_bestpractice.diagnostics.diagnosis import diagnose

        findings = list(self._findings)
        initial = self._initial_loss
        source = "probe batch before training"
        if initial is None:
            initial, source = self._first_batch_loss, "first training batch"
        found = signals.initial_loss_finding(initial, self._chance, source,
                                             self._inputs_normalized)
        if found:
            findings.append(found)
        findings.extend(signals.gradient_findings(self._probes))
        predicted = self._predicted_classes()
        findings.extend(self._probe_findings(predicted))
        history = self._log.to_dict(with_epoch=True)

        def report(extra):
            return diagnose(
                history,
                extra_findings=findings + extra,
                skipped_checks=self._skipped,
                probes=[_flatten_probe(p) for p in self._probes],
                predicted_classes=predicted,
                model=ModelFacts.from_any(self.model),
                **self._reference_args(),
            )

        self.report = report([])
        guard = self._guard_finding()
        if guard is not None and not any(f.severity == "error" for f in self.report.findings):
            # The curves do not show what stopped the run (a spike inside an epoch whose
            # mean stayed moderate): the guard's own record says it (issue #26).
            self.report = report([guard])
        if self.report_path is not None:
            self._write(Path(self.report_path))
        if self.verbose:
            p = self.report.primary
            where = f" at epoch {p.epoch + 1}" if p.epoch is not None else ""
            lines = [f"TrainingDiagnostics: [{p.severity}] {p.code}{where}: {p.message}",
                     f"  {'Fix' if p.severity != 'info' else 'Tip'}: {p.suggestion}"]
            others = [f.code for f in self.report.findings[1:]]
            if others:
                lines.append(f"  Also: {', '.join(others)}")
            if self.report_path is not None:
                lines.append(f"  Report: {self.report_path}")
            print_msg("\n".join(lines))
        # Free the probe tensors, the activation model and the compiled probe.
        self._probe = self._extractor = self._probe_model = None
        self._prev_kernels = self._grad_fn = None

    # ------------------------------------------------------------------ helpers
    def _guard_finding(self):
        """`diverging` from `DivergenceGuard`'s record when it stopped this `fit` for a
        divergence or a non-finite value, else `None`."""
        from keras_bestpractice._callback import stop_detail_of, stop_reason_of
        from keras_bestpractice._core.reasons import StopReason
        from keras_bestpractice.diagnostics.catalog import make_finding

        stopped = stop_reason_of(self.model)
        # `stop_training`: this `fit` was stopped (Keras clears it when a `fit` begins; the
        # record of an earlier `fit` the guard stopped stays until a guard clears it).
        if stopped is None or stopped[0] != "DivergenceGuard" or \
                stopped[1] not in (StopReason.DIVERGED, StopReason.NAN, StopReason.INF) or \
                not getattr(self.model, "stop_training", False):
            return None
        detail = stop_detail_of(self.model) or {}
        epoch = detail.get("epoch")
        return make_finding("diverging", None if epoch is None else int(epoch) - 1, {
            "kind": "guard", "reason": str(stopped[1]), "epoch": epoch,
            "step": detail.get("step"), "value": detail.get("value"),
            "what": detail.get("what") or str(stopped[1]), "restored": detail.get("restored")})

    def _probe_findings(self, predicted: np.ndarray | None) -> list:
        """The findings of the probe batch and the labels (issue #23: SageMaker
        Debugger's rules): dead units, saturated activations, poor initialisation,
        weights that do not change, class imbalance, a class never predicted."""
        from keras_bestpractice.diagnostics import signals

        found = [signals.dead_units_finding(self._probes),
                 signals.saturated_activations_finding(self._probes),
                 signals.poor_initialization_finding(self._probes)]
        if len(self._fingerprints) >= 2:
            (e0, first), (e1, last) = self._fingerprints[0], self._fingerprints[-1]
            found.append(signals.weights_unchanged_finding(first, last, e0, e1))
        counts, source = self._label_counts()
        found.append(signals.class_imbalance_finding(counts, source,
                                                     shares=source == "class_prior"))
        labels = self._probe_labels()
        if labels is not None and predicted is not None:
            found.append(signals.class_never_predicted_finding(labels, predicted))
        return [f for f in found if f is not None]

    def _class_labels(self, y: Any) -> np.ndarray | None:
        """Integer class ids of a single-output classifier's labels `y` (sparse ids,
        one-hot rows, or 0/1 for a one-unit sigmoid), or `None` (regression,
        multi-label, several outputs)."""
        if self._chance is None or self._chance.kind not in ("classification", "binary"):
            return None
        leaves = _leaves(y)
        if len(leaves) != 1:
            return None
        arr = np.asarray(leaves[0])
        if arr.dtype.kind not in "iufb" or arr.size == 0:
            return None
        if arr.ndim == 2 and arr.shape[-1] >= 2:
            if self._chance.kind != "classification":
                return None  # several sigmoid labels: multi-label
            arr = np.argmax(arr, axis=-1)
        arr = arr.reshape(-1)
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) or np.any(arr < 0):
            return None
        return arr.astype(np.int64)

    def _probe_labels(self) -> np.ndarray | None:
        return None if self._probe is None else self._class_labels(self._probe[1])

    def _label_counts(self) -> tuple[list[float] | None, str]:
        """Class counts: `class_prior` when given, else every label of `probe_data`
        when it holds arrays (counting is cheap), else the probe batch's."""
        if self.class_prior is not None:
            return list(self.class_prior), "class_prior"
        data = self.probe_data
        if data is not None and not _is_dataset(data):
            labels, where = self._class_labels(tuple(data)[1]), "labels of probe_data"
        else:
            labels, where = self._probe_labels(), "labels of the probe batch"
        if labels is None:
            return None, ""
        return np.bincount(labels).astype(float).tolist(), f"the {len(labels)} {where}"

    def _predicted_classes(self) -> np.ndarray | None:
        """The class the trained model predicts for each probe input (a single-output
        model with a softmax over 2+ classes), or `None`: a model that predicts one
        class for all of them has collapsed onto it (issue #26)."""
        import keras

        if self._probe is None or output_losses(self.model) is not None or \
                self._chance is None or self._chance.kind != "classification":
            return None
        try:
            out = keras.ops.convert_to_numpy(self.model(self._probe[0], training=False))
        except Exception:  # noqa: BLE001 - a model the probe cannot run: no predictions
            return None
        if out.ndim != 2 or out.shape[-1] < 2:
            return None
        return np.argmax(out, axis=-1).astype(np.int64)

    def _chance_level(self):
        """The reference level of a single-output model's loss, or `None` (unknown)."""
        if output_losses(self.model) is not None:
            return None  # the summed loss of several outputs has no single level
        try:
            return reference_for(self.model, self.num_classes, self.class_prior,
                                 self.targets if not _per_output(self.targets) else None)
        except (TypeError, ValueError):
            return None

    def _reference_args(self) -> dict[str, Any]:
        """What `diagnose()` needs to know the reference levels: loss, classes, targets."""
        losses = output_losses(self.model)
        if losses is None:
            loss = getattr(self.model, "loss", None)
            chance = self._chance
            return {
                "loss": loss if loss is not None else "unknown",
                "num_classes": None if chance is None or chance.kind != "classification"
                or self.class_prior else chance.num_classes,
                "class_prior": self.class_prior,
                "targets": None if _per_output(self.targets) else self.targets,
            }
        widths = output_widths(self.model)
        per_output = self.targets if _per_output(self.targets) else {}
        return {
            "loss": {name: (loss if loss is not None else "unknown")
                     for name, loss in losses.items()},
            "num_classes": {name: width for name, width in widths.items()
                            if width is not None and width >= 2},
            "targets": per_output or None,
        }

    def _write(self, path: Path) -> None:
        from keras_bestpractice._atomic import atomic_write_text

        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            self.report.to_html(path)
        elif suffix == ".md":
            atomic_write_text(path, self.report.to_markdown())
        elif suffix == ".json":
            atomic_write_text(path, self.report.to_json())
        else:
            self.report.plot(path)

    def _preflight_model(self) -> None:
        from keras_bestpractice.diagnostics import signals

        model = self.model
        activation = _output_activation(model)
        loss = getattr(model, "loss", None)
        loss_name, from_logits = _loss_info(loss)
        if loss_name is None:
            self._skipped.append("logits_mismatch: the compiled loss is not a single named loss")
            return
        finding = signals.logits_mismatch_finding(activation, from_logits, loss_name)
        if finding:
            self._findings.append(finding)

    def _has_preprocessing(self) -> bool:
        import keras

        kinds = (keras.layers.Rescaling, keras.layers.Normalization, keras.layers.Embedding,
                 keras.layers.BatchNormalization, keras.layers.LayerNormalization)
        return any(isinstance(layer, kinds) for layer in self.model.layers[:3])

    def _take_probe(self, data: Any) -> tuple[Any, Any, Any]:
        """`(x, y, sample_weight)` of the first `probe_size` samples, as NumPy structures
        (x and y may be dicts or tuples of arrays for multi-input/-output models)."""
        import keras

        if _is_dataset(data):
            # A dataset as `fit` takes it: batches of (x, y) or (x, y, sample_weight).
            elements, count = [], 0
            for element in data:
                if not isinstance(element, (tuple, list)) or len(element) not in (2, 3):
                    raise TypeError("the dataset must yield (x, y) or (x, y, sample_weight) "
                                    f"batches, got {type(element).__name__}")
                element = keras.tree.map_structure(np.asarray, tuple(element))
                elements.append(element)
                count += len(keras.tree.flatten(element[0])[0])
                if count >= self.probe_size:
                    break
            if not elements:
                raise ValueError("probe_data is an empty dataset")
            data = keras.tree.map_structure(lambda *parts: np.concatenate(parts), *elements)
        parts = keras.tree.map_structure(lambda a: np.asarray(a)[: self.probe_size],
                                         tuple(data))
        return parts[0], parts[1], parts[2] if len(parts) == 3 else None

    def _check_probe(self) -> None:
        """Fail early, with the cause, when the probe cannot be used with the model."""
        import keras

        x, y, weight = self._probe
        for label in keras.tree.flatten(y):
            if label.dtype.kind in "USO":
                raise ValueError(f"the labels are {label.dtype} (strings?); the model needs the "
                                 "numeric labels fit gets")
        width = num_classes_of(self.model)
        loss_name, _ = _loss_info(getattr(self.model, "loss", None))
        if width and width > 2 and loss_name and "sparse" in loss_name:
            labels = np.asarray(keras.tree.flatten(y)[0], dtype=np.float64).ravel()
            bad = labels[~np.isfinite(labels) | (labels < 0) | (labels >= width)
                         | (labels != np.round(labels))]
            if bad.size:
                raise ValueError(f"labels must be class ids in [0, {width - 1}] for the model's "
                                 f"{width} outputs; the probe has {bad[:5].tolist()}")
        from keras_bestpractice._gradients import loss_and_gradients

        loss, _ = loss_and_gradients(self.model, x, y, weight)
        if not math.isfinite(loss):
            raise ValueError(f"the model's loss on the probe is {loss} before any training "
                             "(labels out of range, or NaN in the inputs?)")

    def _run_probe(self, epoch: int, when: str) -> None:
        record: dict[str, Any] = {"epoch": epoch, "when": when}
        activations = None
        try:
            self._build_extractor()
            found, activations = self._gradients()
            record.update(found)
        except Exception as exc:  # noqa: BLE001 - a probe failure must not stop training
            self._skip_once("exploding_gradients, vanishing_gradients",
                            f"gradient probe failed ({type(exc).__name__}: {exc})")
        try:
            if activations is None and self._extractor:
                # No merged pass (another backend, or the gradient probe failed): the
                # extractor's compiled predict function.
                activations = self._extractor.predict_on_batch(self._probe[0])
                if not isinstance(activations, (list, tuple)):
                    activations = [activations]
            if activations is not None:
                record.update(self._activation_stats(activations, with_spread=when == "start"))
        except Exception as exc:  # noqa: BLE001
            self._skip_once("dead_units, saturated_activations, poor_initialization",
                            f"activation probe failed ({type(exc).__name__}: {exc})")
        record.update(self._update_ratios(epoch + (0 if when == "start" else 1)))
        if when == "start" and "loss" in record:
            self._initial_loss = record["loss"]
        self._probes.append(record)

    def _skip_once(self, checks: str, reason: str) -> None:
        line = f"{checks}: {reason}"
        if line not in self._skipped:
            self._skipped.append(line)

    def _build_extractor(self) -> None:
        """The watched hidden layers (ReLU, sigmoid/tanh, every layer with a kernel), an
        activation model over them, and, for a single-output graph model, a probe model
        whose outputs are the model's output and those activations (one forward pass
        serves the loss, the gradients and the activation statistics)."""
        import keras

        if self._extractor is not None:
            return
        model = self.model
        self._watched = _watched_layers(model)
        if not self._watched or not getattr(model, "inputs", None):
            self._skip_once("dead_units, saturated_activations, poor_initialization",
                            "no hidden layers to watch, or a subclassed model")
            self._extractor = False
            return
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        hidden = [model.get_layer(name).output for name, _, _ in self._watched]
        self._extractor = keras.Model(inputs, hidden)
        outputs = getattr(model, "outputs", None) or []
        self._probe_model = keras.Model(inputs, [outputs[0], *hidden]) \
            if len(outputs) == 1 else None

    def _gradients(self) -> tuple[dict[str, Any], list | None]:
        """The probe's loss and per-kernel gradient norms, and the watched activations
        when the same pass gave them."""
        from keras_bestpractice._gradients import compiled_loss_and_gradients

        x, y, weight = self._probe
        key = tuple(id(v) for v in self.model.trainable_variables)
        if self._grad_fn is None or self._grad_fn[0] != key:
            # Compiled once per set of trainable variables (fine_tune unfreezes groups).
            self._grad_fn = (key, compiled_loss_and_gradients(self.model, self._probe_model))
        loss, grads, activations = self._grad_fn[1](x, y, weight)
        norms: dict[str, float] = {}
        for variable, grad in zip(self.model.trainable_variables, grads, strict=True):
            if grad is None or len(variable.shape) < 2:  # kernels only, not biases
                continue
            norms[variable.path] = float(np.linalg.norm(np.asarray(grad, dtype=np.float64)))
        return {"loss": loss, "grad_norms": norms}, (activations or None)

    def _activation_stats(self, outputs: Sequence[Any], with_spread: bool) -> dict[str, Any]:
        """The fraction of dead ReLU units, of saturated sigmoid/tanh activations and
        (`with_spread`, before training) each kernel layer's output spread."""
        import keras

        from keras_bestpractice.diagnostics.signals import SATURATION_MARGIN

        dead, saturated, spread = {}, {}, {}
        for (name, kind, has_kernel), out in zip(self._watched, outputs, strict=True):
            # convert_to_numpy detaches (a PyTorch activation requires grad).
            arr = np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)
            if kind == "relu":
                units = arr.reshape(-1, arr.shape[-1])
                dead[name] = float(np.mean(np.max(units, axis=0) <= 0.0))
            elif kind == "tanh":
                saturated[name] = (kind, float(np.mean(np.abs(arr) >= 1.0 - SATURATION_MARGIN)))
            elif kind == "sigmoid":
                saturated[name] = (kind, float(np.mean((arr <= SATURATION_MARGIN)
                                                       | (arr >= 1.0 - SATURATION_MARGIN))))
            if with_spread and has_kernel:
                # The spread across samples of each unit, averaged over units.
                units = arr.reshape(arr.shape[0], -1)
                spread[name] = float(np.mean(np.std(units, axis=0)))
        out: dict[str, Any] = {}
        if dead:
            out["dead_fraction"] = dead
        if saturated:
            out["saturated"] = saturated
        if spread:
            out["activation_std"] = spread
        return out

    def _update_ratios(self, epoch: int) -> dict[str, Any]:
        kernels = {w.path: np.array(w.numpy(), copy=True)
                   for w in self.model.trainable_weights if len(w.shape) >= 2}
        # A checksum per kernel, to tell a layer that never moves (`weights_unchanged`).
        self._fingerprints.append((epoch, {name: _fingerprint(value)
                                           for name, value in kernels.items()}))
        if len(self._fingerprints) > 2:
            del self._fingerprints[1]  # the first and the latest are compared
        out: dict[str, Any] = {}
        steps = self._batches - self._batches_at_probe
        if self._prev_kernels is not None and steps > 0:
            ratios = {}
            for name, value in kernels.items():
                prev = self._prev_kernels.get(name)
                if prev is None or prev.shape != value.shape:
                    continue
                denom = float(np.linalg.norm(prev))
                if denom > 0:
                    ratios[name] = float(np.linalg.norm(value - prev)) / denom / steps
            out["update_ratio"] = ratios
        self._prev_kernels = kernels
        self._batches_at_probe = self._batches
        return out


def _flatten_probe(record: dict[str, Any]) -> dict[str, Any]:
    """One flat row per probe for the report's table."""
    row = {"epoch": record["epoch"] + (0 if record["when"] == "start" else 1),
           "when": "before training" if record["when"] == "start" else "after epoch"}
    if "loss" in record:
        row["probe_loss"] = record["loss"]
    norms = record.get("grad_norms") or {}
    if norms:
        finite = [n for n in norms.values() if math.isfinite(n)]
        row["grad_norm"] = math.sqrt(sum(n * n for n in finite)) if finite else math.inf
        values = list(norms.values())
        row["grad_first/last"] = values[0] / values[-1] if values[-1] else math.inf
    dead = record.get("dead_fraction") or {}
    if dead:
        row["max_dead_fraction"] = max(dead.values())
    ratios = record.get("update_ratio") or {}
    if ratios:
        row["median_update_ratio"] = float(np.median(list(ratios.values())))
    return row


def _fingerprint(kernel: np.ndarray) -> float:
    """A checksum of a kernel's values (float64): it moves when any weight moves."""
    values = np.asarray(kernel, dtype=np.float64).ravel()
    return float(np.sum(values) + 1.6180339887 * np.sum(values * values))


def _activation_name(layer: Any) -> str | None:
    import keras

    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    try:
        activation = layer.get_config().get("activation")
    except Exception:  # noqa: BLE001 - layers without a config
        return None
    return activation if isinstance(activation, str) else None


def _watched_layers(model: Any) -> list[tuple[str, str, bool]]:
    """`(name, kind, has_kernel)` of the hidden layers the probe reads: kind "relu",
    "tanh", "sigmoid" or "" (a kernel layer with another activation). The output
    layer is left out (a sigmoid output near 0/1 is a confident answer)."""
    out = []
    for layer in model.layers[:-1]:
        name = _activation_name(layer)
        kind = "relu" if name in _RELU else name if name in ("tanh", "sigmoid") else ""
        has_kernel = getattr(layer, "kernel", None) is not None
        if kind or has_kernel:
            out.append((layer.name, kind, has_kernel))
    return out


def _output_activation(model: Any) -> str | None:
    """The activation of the model's last layer, as a string, or None if unknown."""
    try:
        layer = model.layers[-1]
        config = layer.get_config()
    except Exception:  # noqa: BLE001
        return None
    activation = config.get("activation")
    if isinstance(activation, str):
        return activation
    if type(layer).__name__ == "Softmax":
        return "softmax"
    return None


def _loss_info(loss: Any) -> tuple[str | None, bool | None]:
    """(name, from_logits) of a compiled single loss."""
    if isinstance(loss, str):
        return loss, False
    if loss is None or isinstance(loss, (list, tuple, dict)):
        return None, None
    try:
        config = loss.get_config()
    except Exception:  # noqa: BLE001 - a plain function
        name = getattr(loss, "__name__", None)
        return name, False if name else None
    name = config.get("name") or type(loss).__name__
    return name, bool(config.get("from_logits", False))


def _leaves(structure: Any) -> list[Any]:
    """The arrays of a nested dict / list / tuple of arrays (Keras's input structures)."""
    if isinstance(structure, dict):
        return [leaf for value in structure.values() for leaf in _leaves(value)]
    if isinstance(structure, (list, tuple)):
        return [leaf for value in structure for leaf in _leaves(value)]
    return [structure]


def _check_probe_data(probe_data: Any) -> Any:
    """`(x, y)` or `(x, y, sample_weight)` with equally long arrays (x and y may be dicts or
    tuples of arrays, as `fit` takes them), a `tf.data.Dataset`, or `None`."""
    if probe_data is None or _is_dataset(probe_data):
        return probe_data
    if not isinstance(probe_data, (tuple, list)) or len(probe_data) not in (2, 3):
        raise TypeError("`probe_data` must be an (x, y) tuple (x and y arrays, or dicts/tuples "
                        "of arrays for multi-input/-output models) or a tf.data.Dataset of "
                        f"(x, y) batches, got {type(probe_data).__name__}.")
    lengths = {}
    for part, name in zip(probe_data, ("x", "y", "sample_weight"), strict=False):
        for leaf in _leaves(part):
            if isinstance(leaf, (str, bytes)) or not hasattr(leaf, "__len__"):
                raise TypeError(f"`probe_data` {name} must hold arrays, got "
                                f"{type(leaf).__name__}.")
            lengths.setdefault(name, set()).add(len(leaf))
    sizes = set().union(*lengths.values())
    if len(sizes) > 1:
        detail = ", ".join(f"{k}: {sorted(s)}" for k, s in lengths.items())
        raise ValueError(f"`probe_data` x and y differ in length ({detail}).")
    if sizes == {0}:
        raise ValueError("`probe_data` is empty: give at least one sample.")
    return probe_data


def _summaries(targets: Any) -> Any:
    """`target_summary` of `targets`, or a dict of them by output name."""
    if targets is None:
        return None
    from keras_bestpractice._core.reference import TargetSummary, target_summary

    if isinstance(targets, dict) and not isinstance(targets, TargetSummary):
        out = {}
        for name, part in targets.items():
            try:
                out[str(name)] = target_summary(part)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"`targets[{name!r}]`: {exc}") from None
        return out
    try:
        return target_summary(targets)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"`targets`: {exc}") from None


def _per_output(targets: Any) -> bool:
    from keras_bestpractice._core.reference import TargetSummary

    return isinstance(targets, dict) and not isinstance(targets, TargetSummary)
