"""Every public name refuses bad input up front with a clear error (issue #11).

Each case calls one public name with one bad argument (a wrong type, an
out-of-range number, an empty input, a path of the wrong kind) and checks the
error type and that the message names the argument. Nothing here trains.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras_bestpractice
from keras_bestpractice import (
    callbacks,
    checkpointing,
    data,
    diagnostics,
    hparams,
    metrics,
    transfer,
    tuning,
)


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_inputs")
    a_file = root / "a_file.txt"
    a_file.write_text("not a directory\n")
    a_dir = root / "a_dir"
    a_dir.mkdir()
    binary = root / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    empty_csv = root / "empty.csv"
    empty_csv.write_text("")
    no_loss = root / "no_loss.csv"
    no_loss.write_text("epoch,accuracy\n0,0.5\n1,0.6\n")
    return type("Paths", (), {"file": a_file, "dir": a_dir, "binary": binary,
                              "empty_csv": empty_csv, "no_loss": no_loss,
                              "missing": root / "missing" / "x.csv"})


X = np.zeros((12, 3), "float32")
Y = np.array([0, 1, 2] * 4)


def _hp():
    import keras_tuner as kt

    return kt.HyperParameters()


def _kt():
    import keras_tuner

    return keras_tuner


def _model():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def _finding(**kwargs):
    args = {"code": "overfitting", "severity": "warning", "epoch": 1, "message": "m",
            "suggestion": "s", "evidence": {}}
    args.update(kwargs)
    return diagnostics.Finding(**args)


C = callbacks
CASES = [
    # ------------------------------------------------------------ DivergenceGuard
    ("guard monitor type", lambda p: C.DivergenceGuard(monitor=3), TypeError, "monitor"),
    ("guard monitor empty", lambda p: C.DivergenceGuard(monitor=""), TypeError, "monitor"),
    ("guard mode", lambda p: C.DivergenceGuard(mode="up"), ValueError, "mode"),
    ("guard mode unknown metric", lambda p: C.DivergenceGuard(monitor="foo"), ValueError,
     "mode"),
    ("guard min_delta", lambda p: C.DivergenceGuard(min_delta="a"), TypeError, "min_delta"),
    ("guard factor", lambda p: C.DivergenceGuard(divergence_factor=1.0), ValueError,
     "divergence_factor"),
    ("guard factor nan", lambda p: C.DivergenceGuard(divergence_factor=float("nan")),
     ValueError, "divergence_factor"),
    ("guard patience", lambda p: C.DivergenceGuard(patience=0), ValueError, "patience"),
    ("guard patience float", lambda p: C.DivergenceGuard(patience=1.5), TypeError, "patience"),
    ("guard min_batches", lambda p: C.DivergenceGuard(min_batches=0), ValueError, "min_batches"),
    ("guard check_every", lambda p: C.DivergenceGuard(check_every=0), ValueError,
     "check_every"),
    ("guard restore", lambda p: C.DivergenceGuard(restore="worst"), ValueError, "restore"),
    ("guard restore type", lambda p: C.DivergenceGuard(restore=1), TypeError, "restore"),
    ("guard lr_backoff", lambda p: C.DivergenceGuard(lr_backoff=1.5), ValueError, "lr_backoff"),
    ("guard max_backoffs", lambda p: C.DivergenceGuard(max_backoffs=-1), ValueError,
     "max_backoffs"),
    ("guard snapshot_every", lambda p: C.DivergenceGuard(snapshot_every="batch"), ValueError,
     "snapshot_every"),
    ("guard snapshot_every 0", lambda p: C.DivergenceGuard(snapshot_every=0), ValueError,
     "snapshot_every"),
    ("guard stop_if_not_learning", lambda p: C.DivergenceGuard(stop_if_not_learning="yes"),
     TypeError, "stop_if_not_learning"),
    ("guard grace_epochs", lambda p: C.DivergenceGuard(grace_epochs=0), ValueError,
     "grace_epochs"),
    ("guard raise_error", lambda p: C.DivergenceGuard(raise_error=1), TypeError, "raise_error"),
    ("guard verbose", lambda p: C.DivergenceGuard(verbose=-1), ValueError, "verbose"),
    ("guard num_classes", lambda p: C.DivergenceGuard(num_classes=1), ValueError, "num_classes"),
    ("guard num_classes type", lambda p: C.DivergenceGuard(num_classes="10"), TypeError,
     "num_classes"),
    ("guard class_prior short", lambda p: C.DivergenceGuard(class_prior=[1]), ValueError,
     "class_prior"),
    ("guard class_prior text", lambda p: C.DivergenceGuard(class_prior="ab"), TypeError,
     "class_prior"),
    ("guard class_prior negative", lambda p: C.DivergenceGuard(class_prior=[1, -1]), ValueError,
     "class_prior"),
    ("guard class_prior scalar", lambda p: C.DivergenceGuard(class_prior=5), TypeError,
     "class_prior"),
    ("diverged error event", lambda p: C.TrainingDivergedError("m", event="x"), TypeError,
     "event"),
    # -------------------------------------------------------- PeriodicCheckpoint
    ("ckpt directory none", lambda p: C.PeriodicCheckpoint(None), TypeError, "directory"),
    ("ckpt directory int", lambda p: C.PeriodicCheckpoint(3), TypeError, "directory"),
    ("ckpt directory empty", lambda p: C.PeriodicCheckpoint(""), TypeError, "directory"),
    ("ckpt directory is a file", lambda p: C.PeriodicCheckpoint(p.file), ValueError,
     "directory"),
    ("ckpt directory .keras", lambda p: C.PeriodicCheckpoint(p.dir / "model.keras"),
     ValueError, "directory"),
    ("ckpt every_n_epochs", lambda p: C.PeriodicCheckpoint(p.dir, every_n_epochs=0),
     ValueError, "every_n_epochs"),
    ("ckpt every_n_steps", lambda p: C.PeriodicCheckpoint(p.dir, every_n_steps=-1), ValueError,
     "every_n_steps"),
    ("ckpt every_n_minutes", lambda p: C.PeriodicCheckpoint(p.dir, every_n_minutes=0),
     ValueError, "every_n_minutes"),
    ("ckpt every_n_minutes type", lambda p: C.PeriodicCheckpoint(p.dir, every_n_minutes="5"),
     TypeError, "every_n_minutes"),
    ("ckpt no trigger", lambda p: C.PeriodicCheckpoint(p.dir, every_n_epochs=None), ValueError,
     "every_n_epochs"),
    ("ckpt keep_last", lambda p: C.PeriodicCheckpoint(p.dir, keep_last=0), ValueError,
     "keep_last"),
    ("ckpt keep_best", lambda p: C.PeriodicCheckpoint(p.dir, keep_best=-1), ValueError,
     "keep_best"),
    ("ckpt monitor", lambda p: C.PeriodicCheckpoint(p.dir, monitor=None), TypeError, "monitor"),
    ("ckpt mode", lambda p: C.PeriodicCheckpoint(p.dir, mode="x"), ValueError, "mode"),
    ("ckpt resume", lambda p: C.PeriodicCheckpoint(p.dir, resume="yes"), TypeError, "resume"),
    ("ckpt async_write", lambda p: C.PeriodicCheckpoint(p.dir, async_write=None), TypeError,
     "async_write"),
    ("ckpt verbose", lambda p: C.PeriodicCheckpoint(p.dir, verbose=-1), ValueError, "verbose"),
    ("ckpt clock", lambda p: C.PeriodicCheckpoint(p.dir, clock=5), TypeError, "clock"),
    ("ckpt best directory", lambda p: C.PeriodicCheckpoint.best(3), TypeError, "directory"),
    ("ckpt best mode", lambda p: C.PeriodicCheckpoint.best(p.dir, mode="top"), ValueError,
     "mode"),
    ("ckpt latest directory", lambda p: C.PeriodicCheckpoint.latest(None), TypeError,
     "directory"),
    # ------------------------------------------------------- TrainingDiagnostics
    ("diag probe_data str", lambda p: C.TrainingDiagnostics(probe_data="x"), TypeError,
     "probe_data"),
    ("diag probe_data one", lambda p: C.TrainingDiagnostics(probe_data=(X,)), TypeError,
     "probe_data"),
    ("diag probe_data lengths", lambda p: C.TrainingDiagnostics(probe_data=(X, Y[:5])),
     ValueError, "probe_data"),
    ("diag probe_data empty", lambda p: C.TrainingDiagnostics(probe_data=(X[:0], Y[:0])),
     ValueError, "probe_data"),
    ("diag every_n_epochs", lambda p: C.TrainingDiagnostics(every_n_epochs=0), ValueError,
     "every_n_epochs"),
    ("diag report_path type", lambda p: C.TrainingDiagnostics(report_path=3), TypeError,
     "report_path"),
    ("diag report_path suffix", lambda p: C.TrainingDiagnostics(report_path="r.txt"),
     ValueError, "report_path"),
    ("diag report_path dir", lambda p: C.TrainingDiagnostics(report_path=p.dir), ValueError,
     "report_path"),
    ("diag report_path under file",
     lambda p: C.TrainingDiagnostics(report_path=p.file / "r.html"), ValueError, "report_path"),
    ("diag verbose", lambda p: C.TrainingDiagnostics(verbose=-1), ValueError, "verbose"),
    ("diag num_classes", lambda p: C.TrainingDiagnostics(num_classes=1), ValueError,
     "num_classes"),
    ("diag class_prior", lambda p: C.TrainingDiagnostics(class_prior=[0, 0]), ValueError,
     "class_prior"),
    ("diag probe_size", lambda p: C.TrainingDiagnostics(probe_size=0), ValueError,
     "probe_size"),
    ("diag lenient", lambda p: C.TrainingDiagnostics(lenient="yes"), TypeError, "lenient"),
    # ---------------------------------------------------------------- checkpointing
    ("load_weights model", lambda p: checkpointing.load_weights(None, p.dir), TypeError,
     "model"),
    ("load_weights path type", lambda p: checkpointing.load_weights(_model(), 3), TypeError,
     "path"),
    ("load_weights missing", lambda p: checkpointing.load_weights(_model(), p.missing),
     FileNotFoundError, "path"),
    ("load_weights file", lambda p: checkpointing.load_weights(_model(), p.file), ValueError,
     "path"),
    ("load_weights empty dir", lambda p: checkpointing.load_weights(_model(), p.dir),
     FileNotFoundError, "path"),
    # ------------------------------------------------------------------------ data
    ("split x none", lambda p: data.stratified_split(None, Y), TypeError, "x"),
    ("split y none", lambda p: data.stratified_split(X, None), TypeError, "y"),
    ("split lengths", lambda p: data.stratified_split(X, Y[:5]), ValueError, "y"),
    ("split empty", lambda p: data.stratified_split(X[:0], Y[:0]), ValueError, "x"),
    ("split val_size", lambda p: data.stratified_split(X, Y, val_size=1.5), ValueError,
     "val_size"),
    ("split val_size text", lambda p: data.stratified_split(X, Y, val_size="a"), TypeError,
     "val_size"),
    ("split test_size", lambda p: data.stratified_split(X, Y, test_size=-1), ValueError,
     "test_size"),
    ("split seed", lambda p: data.stratified_split(X, Y, seed="s"), TypeError, "seed"),
    ("split min_per_class", lambda p: data.stratified_split(X, Y, min_per_class=-1),
     ValueError, "min_per_class"),
    ("split return_indices", lambda p: data.stratified_split(X, Y, return_indices="y"),
     TypeError, "return_indices"),
    ("split nan label", lambda p: data.stratified_split(X, np.array([0.0, np.nan] * 6)),
     ValueError, "y"),
    ("split continuous labels",
     lambda p: data.stratified_split(X, np.linspace(0, 1, 12)), ValueError, "y"),
    ("dataset x none", lambda p: data.stratified_dataset(None, Y, 4), TypeError, "x"),
    ("dataset lengths", lambda p: data.stratified_dataset(X, Y[:5], 4), ValueError, "y"),
    ("dataset batch_size", lambda p: data.stratified_dataset(X, Y, 0), ValueError,
     "batch_size"),
    ("dataset batch_size text", lambda p: data.stratified_dataset(X, Y, "32"), TypeError,
     "batch_size"),
    ("dataset seed", lambda p: data.stratified_dataset(X, Y, 4, seed=1.5), TypeError, "seed"),
    ("dataset balance", lambda p: data.stratified_dataset(X, Y, 4, balance=2), ValueError,
     "balance"),
    ("dataset drop_remainder", lambda p: data.stratified_dataset(X, Y, 4, drop_remainder="no"),
     TypeError, "drop_remainder"),
    ("dataset augment", lambda p: data.stratified_dataset(X, Y, 4, augment=3), TypeError,
     "augment"),
    ("dataset start_batch", lambda p: data.stratified_dataset(X, Y, 4, start_batch=-1),
     ValueError, "start_batch"),
    ("dataset epoch", lambda p: data.stratified_dataset(X, Y, 4, epoch=-1), ValueError,
     "epoch"),
    ("dataset num_parallel_calls",
     lambda p: data.stratified_dataset(X, Y, 4, num_parallel_calls=0), ValueError,
     "num_parallel_calls"),
    ("dataset prefetch", lambda p: data.stratified_dataset(X, Y, 4, prefetch=1), TypeError,
     "prefetch"),
    ("dataset empty y", lambda p: data.stratified_dataset(X[:0], Y[:0], 4), ValueError, "x"),
    ("dataset sample_weight length",
     lambda p: data.stratified_dataset(X, Y, 4, sample_weight=np.ones(5)), ValueError,
     "sample_weight"),
    ("dataset sample_weight negative",
     lambda p: data.stratified_dataset(X, Y, 4, sample_weight=-np.ones(12)), ValueError,
     "sample_weight"),
    ("dataset sample_weight text",
     lambda p: data.stratified_dataset(X, Y, 4, sample_weight="w"), TypeError, "sample_weight"),
    ("dataset bins", lambda p: data.stratified_dataset(X, Y, 4, bins=1), ValueError, "bins"),
    ("dataset stratify_on plain y",
     lambda p: data.stratified_dataset(X, Y, 4, stratify_on="a"), ValueError, "stratify_on"),
    ("dataset stratify_on unknown key",
     lambda p: data.stratified_dataset(X, {"a": Y}, 4, stratify_on="b"), ValueError,
     "stratify_on"),
    ("split groups length",
     lambda p: data.stratified_split(X, Y, groups=np.arange(5)), ValueError, "groups"),
    ("split bins", lambda p: data.stratified_split(X, Y, bins=0), ValueError, "bins"),
    ("split bins text", lambda p: data.stratified_split(X, Y, bins="ten"), TypeError, "bins"),
    ("listing class_names type",
     lambda p: data.from_file_listing(p.dir, class_names="ab"), TypeError, "class_names"),
    ("listing source type", lambda p: data.from_file_listing(3), TypeError, "source"),
    ("listing missing", lambda p: data.from_file_listing(p.missing), FileNotFoundError,
     "source"),
    ("listing binary", lambda p: data.from_file_listing(p.binary), ValueError, "source"),
    ("listing empty csv", lambda p: data.from_file_listing(p.empty_csv), ValueError, "source"),
    ("listing empty dir", lambda p: data.from_file_listing(p.dir), ValueError, "source"),
    ("listing image_size", lambda p: data.from_file_listing(p.dir, image_size=(0, 5)),
     ValueError, "image_size"),
    ("listing channels", lambda p: data.from_file_listing(p.dir, channels=2), ValueError,
     "channels"),
    ("listing label_column", lambda p: data.from_file_listing(p.dir, label_column=3),
     TypeError, "label_column"),
    ("listing root", lambda p: data.from_file_listing(p.dir, root=p.file), ValueError, "root"),
    ("listing batch_size", lambda p: data.from_file_listing(p.dir, batch_size=0), ValueError,
     "batch_size"),
    ("hybrid source", lambda p: data.HybridFeeder(3, 10**6, 1), TypeError, "source"),
    ("hybrid budget", lambda p: data.HybridFeeder(p.dir, 0, 1), ValueError,
     "memory_budget_bytes"),
    ("hybrid budget text", lambda p: data.HybridFeeder(p.dir, "1GB", 1), TypeError,
     "memory_budget_bytes"),
    ("hybrid epochs_per_segment", lambda p: data.HybridFeeder(p.dir, 10**6, 0), ValueError,
     "epochs_per_segment"),
    ("hybrid batch_size", lambda p: data.HybridFeeder(p.dir, 10**6, 1, batch_size=0),
     ValueError, "batch_size"),
    ("hybrid image_size", lambda p: data.HybridFeeder(p.dir, 10**6, 1, image_size=(5,)),
     ValueError, "image_size"),
    ("hybrid channels", lambda p: data.HybridFeeder(p.dir, 10**6, 1, channels=2), ValueError,
     "channels"),
    ("hybrid seed", lambda p: data.HybridFeeder(p.dir, 10**6, 1, seed="0"), TypeError, "seed"),
    ("hybrid augment", lambda p: data.HybridFeeder(p.dir, 10**6, 1, augment=5), TypeError,
     "augment"),
    ("hybrid prefetch_next", lambda p: data.HybridFeeder(p.dir, 10**6, 1, prefetch_next="y"),
     TypeError, "prefetch_next"),
    ("hybrid verbose", lambda p: data.HybridFeeder(p.dir, 10**6, 1, verbose=-1), ValueError,
     "verbose"),
    # ----------------------------------------------------------------- diagnostics
    ("diagnose type", lambda p: diagnostics.diagnose(3), TypeError, "history"),
    ("diagnose empty dict", lambda p: diagnostics.diagnose({}), ValueError, "history"),
    ("diagnose no loss", lambda p: diagnostics.diagnose({"accuracy": [0.5, 0.6]}), ValueError,
     "loss"),
    ("diagnose ragged", lambda p: diagnostics.diagnose({"loss": [1.0, 0.5, 0.4],
                                                        "accuracy": [0.5, 0.6]}),
     ValueError, "history"),
    ("diagnose directory", lambda p: diagnostics.diagnose(p.dir), ValueError, "history"),
    ("diagnose binary", lambda p: diagnostics.diagnose(p.binary), ValueError, "history"),
    ("diagnose empty csv", lambda p: diagnostics.diagnose(p.empty_csv), ValueError, "history"),
    ("diagnose csv without loss", lambda p: diagnostics.diagnose(p.no_loss), ValueError,
     "loss"),
    ("diagnose missing", lambda p: diagnostics.diagnose(p.missing), FileNotFoundError,
     "history"),
    ("diagnose num_classes", lambda p: diagnostics.diagnose({"loss": [1.0]}, num_classes=1),
     ValueError, "num_classes"),
    ("diagnose num_classes type",
     lambda p: diagnostics.diagnose({"loss": [1.0]}, num_classes="10"), TypeError,
     "num_classes"),
    ("diagnose class_prior", lambda p: diagnostics.diagnose({"loss": [1.0]}, class_prior=[0]),
     ValueError, "class_prior"),
    ("diagnose extra_findings",
     lambda p: diagnostics.diagnose({"loss": [1.0]}, extra_findings=[3]), TypeError,
     "extra_findings"),
    ("diagnose skipped_checks",
     lambda p: diagnostics.diagnose({"loss": [1.0]}, skipped_checks="abc"), TypeError,
     "skipped_checks"),
    ("diagnose probes", lambda p: diagnostics.diagnose({"loss": [1.0]}, probes=[3]), TypeError,
     "probes"),
    ("finding severity", lambda p: _finding(severity="fatal"), ValueError, "severity"),
    ("finding code", lambda p: _finding(code=3), TypeError, "code"),
    ("finding epoch type", lambda p: _finding(epoch="5"), TypeError, "epoch"),
    ("finding epoch negative", lambda p: _finding(epoch=-1), ValueError, "epoch"),
    ("finding message", lambda p: _finding(message=None), TypeError, "message"),
    ("finding evidence", lambda p: _finding(evidence=[]), TypeError, "evidence"),
    ("report findings", lambda p: diagnostics.DiagnosticsReport(findings=[], curves=None),
     ValueError, "findings"),
    ("report html path dir", lambda p: diagnostics.diagnose({"loss": [1.0]}).to_html(p.dir),
     ValueError, "path"),
    ("report plot path type", lambda p: diagnostics.diagnose({"loss": [1.0]}).plot(3),
     TypeError, "path"),
    ("report plot dpi", lambda p: diagnostics.diagnose({"loss": [1.0]}).plot(dpi=0),
     ValueError, "dpi"),
    ("report get code", lambda p: diagnostics.diagnose({"loss": [1.0]}).get(3), TypeError,
     "code"),
    # ---------------------------------------------------------------------- hparams
    ("objective target type", lambda p: callbacks.TrainingObjective(0.9), TypeError, "target"),
    ("objective target empty", lambda p: callbacks.TrainingObjective({}), ValueError, "target"),
    ("objective target value",
     lambda p: callbacks.TrainingObjective({"val_accuracy": None}), TypeError, "target"),
    ("objective max_epochs", lambda p: callbacks.TrainingObjective({"val_loss": 0.1},
                                                                    max_epochs=0),
     ValueError, "max_epochs"),
    ("objective confidence", lambda p: callbacks.TrainingObjective({"val_loss": 0.1},
                                                                    confidence=0.2),
     ValueError, "confidence"),
    ("objective min_progress", lambda p: callbacks.TrainingObjective({"val_loss": 0.1},
                                                                      min_progress="1%"),
     TypeError, "min_progress"),
    ("objective min_epochs", lambda p: callbacks.TrainingObjective({"val_loss": 0.1},
                                                                    min_epochs=1),
     ValueError, "min_epochs"),
    ("objective mode", lambda p: callbacks.TrainingObjective({"val_loss": 0.1}, mode="up"),
     ValueError, "mode"),
    ("objective verbose", lambda p: callbacks.TrainingObjective({"val_loss": 0.1}, verbose=-1),
     ValueError, "verbose"),
    ("alarm reference", lambda p: callbacks.NegativeTransferAlarm(0.9), TypeError, "reference"),
    ("alarm margin", lambda p: callbacks.NegativeTransferAlarm([0.5], margin=-0.1), ValueError,
     "margin"),
    ("alarm window", lambda p: callbacks.NegativeTransferAlarm([0.5], window=(0, 3)),
     ValueError, "window"),
    ("alarm patience", lambda p: callbacks.NegativeTransferAlarm([0.5], patience=0), ValueError,
     "patience"),
    ("alarm stop", lambda p: callbacks.NegativeTransferAlarm([0.5], stop="yes"), TypeError,
     "stop"),
    ("plan_epochs target", lambda p: tuning.plan_epochs({"loss": [1, 0.5, 0.4, 0.3]}, 0.3, 10),
     TypeError, "target"),
    ("plan_epochs max_epochs",
     lambda p: tuning.plan_epochs({"loss": [1, 0.5, 0.4, 0.3]}, {"loss": 0.2}, "ten"),
     TypeError, "max_epochs"),
    ("plan_epochs confidence",
     lambda p: tuning.plan_epochs({"loss": [1, 0.5, 0.4, 0.3]}, {"loss": 0.2}, 10,
                                  confidence=2), ValueError, "confidence"),
    ("plan_epochs history", lambda p: tuning.plan_epochs(p.missing, {"loss": 0.2}, 10),
     FileNotFoundError, "history"),
    ("transfer base", lambda p: transfer.new_classifier("resnet", 3), TypeError, "base"),
    ("transfer num_classes", lambda p: transfer.new_classifier(_tiny_base(), 0), ValueError,
     "num_classes"),
    ("transfer dropout", lambda p: transfer.new_classifier(_tiny_base(), 3, dropout=1.0),
     ValueError, "dropout"),
    ("transfer pooling", lambda p: transfer.new_classifier(_tiny_base(), 3, pooling="mean"),
     ValueError, "pooling"),
    ("transfer groups model", lambda p: transfer.layer_groups([1, 2]), TypeError, "model"),
    ("transfer domain base",
     lambda p: transfer.domain_transfer_init("base", X, Y, num_classes=3), TypeError, "base"),
    ("transfer domain num_classes",
     lambda p: transfer.domain_transfer_init(_tiny_base(), X, Y, num_classes=0), ValueError,
     "num_classes"),
    ("transfer domain learning_rate",
     lambda p: transfer.domain_transfer_init(_tiny_base(), X, Y, num_classes=3,
                                             learning_rate=0), ValueError, "learning_rate"),
    ("transfer fine_tune model", lambda p: transfer.fine_tune("model"), TypeError, "model"),
    ("transfer fine_tune head_epochs",
     lambda p: transfer.fine_tune(_tiny_classifier(), X, Y, head_epochs=0), ValueError,
     "head_epochs"),
    ("transfer fine_tune check_negative_transfer",
     lambda p: transfer.fine_tune(_tiny_classifier(), X, Y, check_negative_transfer="yes"),
     TypeError, "check_negative_transfer"),
    ("transfer fine_tune owned fit argument",
     lambda p: transfer.fine_tune(_tiny_classifier(), X, Y, initial_epoch=3), ValueError,
     "initial_epoch"),
    ("transfer fine_tune lr_factor",
     lambda p: transfer.fine_tune(_tiny_classifier(), X, Y, lr_factor=2.0), ValueError,
     "lr_factor"),
    ("transfer fine_tune groups",
     lambda p: transfer.fine_tune(_tiny_classifier(), X, Y, groups="top"), TypeError, "groups"),
    ("hparams logdir none", lambda p: hparams.HParamsLogger(None, {}), TypeError, "logdir"),
    ("hparams logdir file", lambda p: hparams.HParamsLogger(p.file, {}), ValueError, "logdir"),
    ("hparams hparams", lambda p: hparams.HParamsLogger(p.dir, 3), TypeError, "hparams"),
    ("hparams key", lambda p: hparams.HParamsLogger(p.dir, {1: 2}), TypeError, "hparams"),
    ("hparams value", lambda p: hparams.HParamsLogger(p.dir, {"a": [1, 2]}), TypeError,
     "hparams"),
    ("hparams metrics str", lambda p: hparams.HParamsLogger(p.dir, {}, metrics="val_loss"),
     TypeError, "metrics"),
    ("hparams metrics int", lambda p: hparams.HParamsLogger(p.dir, {}, metrics=[3]),
     TypeError, "metrics"),
    ("hparams trial_id", lambda p: hparams.HParamsLogger(p.dir, {}, trial_id=3), TypeError,
     "trial_id"),
    ("hparams trial_id path", lambda p: hparams.HParamsLogger(p.dir, {}, trial_id="a/../b"),
     ValueError, "trial_id"),
    # ---------------------------------------------------------------------- metrics
    ("macro num_classes", lambda p: metrics.MacroF1(num_classes=1), ValueError, "num_classes"),
    ("macro num_classes type", lambda p: metrics.MacroPrecision(num_classes="3"), TypeError,
     "num_classes"),
    ("macro threshold", lambda p: metrics.MacroRecall(threshold=0), ValueError, "threshold"),
    ("macro threshold type", lambda p: metrics.MacroScores(threshold="a"), TypeError,
     "threshold"),
    # ----------------------------------------------------------------------- tuning
    # KerasTuner's own contract: a FatalValueError (a ValueError) naming `hypermodel`.
    ("tuner hypermodel", lambda p: tuning.RandomSearchTuner(3, directory=p.dir), ValueError,
     "hypermodel"),
    ("with_pruning class", lambda p: tuning.with_pruning(int), TypeError, "tuner_class"),
    ("pruning mixin pruner", lambda p: tuning.with_pruning(_kt().RandomSearch)(
        lambda hp: None, max_trials=1, pruner="best", directory=p.dir), ValueError, "pruner"),
    ("pruning mixin pruner type", lambda p: tuning.with_pruning(_kt().RandomSearch)(
        lambda hp: None, max_trials=1, pruner=3, directory=p.dir), TypeError, "pruner"),
    ("median pruner min_peers", lambda p: tuning.MedianPruner(min_peers=0), ValueError,
     "min_peers"),
    ("median pruner min_epochs type", lambda p: tuning.MedianPruner(min_epochs=1.5), TypeError,
     "min_epochs"),
    ("asha pruner reduction_factor", lambda p: tuning.ASHAPruner(reduction_factor=1),
     ValueError, "reduction_factor"),
    ("curve pruner confidence", lambda p: tuning.CurvePruner(confidence=1.0), ValueError,
     "confidence"),
    ("pruning mixin reduction", lambda p: tuning.with_pruning(_kt().Hyperband)(
        lambda hp: None, objective="val_loss", max_epochs=3, reduction_factor=1,
        directory=p.dir), ValueError, "reduction_factor"),
    ("tuner max_trials", lambda p: tuning.RandomSearchTuner(lambda hp: None, max_trials=0,
                                                            directory=p.dir),
     ValueError, "max_trials"),
    ("tuner epochs", lambda p: tuning.RandomSearchTuner(lambda hp: None, epochs_per_trial=0,
                                                        directory=p.dir),
     ValueError, "epochs_per_trial"),
    ("tuner seed", lambda p: tuning.RandomSearchTuner(lambda hp: None, seed="1",
                                                      directory=p.dir), TypeError, "seed"),
    ("tuner prune", lambda p: tuning.RandomSearchTuner(lambda hp: None, prune="y",
                                                       directory=p.dir), TypeError, "prune"),
    ("tuner logdir", lambda p: tuning.RandomSearchTuner(lambda hp: None, logdir=3,
                                                        directory=p.dir), TypeError, "logdir"),
    ("tuner logdir file", lambda p: tuning.RandomSearchTuner(lambda hp: None, logdir=p.file,
                                                             directory=p.dir),
     ValueError, "logdir"),
    ("tuner directory file", lambda p: tuning.RandomSearchTuner(lambda hp: None,
                                                                directory=p.file),
     ValueError, "directory"),
    ("tuner objective", lambda p: tuning.RandomSearchTuner(lambda hp: None, objective=3,
                                                           directory=p.dir),
     TypeError, "objective"),
    ("tuner median epochs", lambda p: tuning.RandomSearchTuner(
        lambda hp: None, min_epochs_for_median=0, directory=p.dir), ValueError,
     "min_epochs_for_median"),
    ("compile_from_hp model", lambda p: tuning.compile_from_hp(None, _hp()), TypeError, "model"),
    ("compile_from_hp hp", lambda p: tuning.compile_from_hp(_model(), None), TypeError, "hp"),
    ("dropout_layer hp", lambda p: tuning.dropout_layer(None), TypeError, "hp"),
    ("dropout_layer default", lambda p: tuning.dropout_layer(_hp(), default=1.5), ValueError,
     "default"),
    ("results dir type", lambda p: tuning.load_results_frame(3), TypeError, "project_dir"),
    ("results missing", lambda p: tuning.load_results_frame(p.missing), FileNotFoundError,
     "project_dir"),
    ("results file", lambda p: tuning.load_results_frame(p.file), ValueError, "project_dir"),
    ("range model", lambda p: tuning.lr_range_test(None, X, Y), TypeError, "model"),
    ("range x", lambda p: tuning.lr_range_test(_model(), None, Y), TypeError, "x"),
    ("range y", lambda p: tuning.lr_range_test(_model(), X, None), ValueError, "y"),
    ("range min_lr", lambda p: tuning.lr_range_test(_model(), X, Y, min_lr=0), ValueError,
     "min_lr"),
    ("range max_lr", lambda p: tuning.lr_range_test(_model(), X, Y, max_lr=1e-8), ValueError,
     "max_lr"),
    ("range num_steps", lambda p: tuning.lr_range_test(_model(), X, Y, num_steps=1), ValueError,
     "num_steps"),
    ("range smoothing", lambda p: tuning.lr_range_test(_model(), X, Y, smoothing=1), ValueError,
     "smoothing"),
    ("range stop_factor", lambda p: tuning.lr_range_test(_model(), X, Y, stop_factor=1),
     ValueError, "stop_factor"),
    ("range seed", lambda p: tuning.lr_range_test(_model(), X, Y, seed="0"), TypeError, "seed"),
    ("sweep build", lambda p: tuning.lr_sweep(3, X, Y), TypeError, "build_model"),
    ("sweep rates empty", lambda p: tuning.lr_sweep(_model, X, Y, learning_rates=[]),
     ValueError, "learning_rates"),
    ("sweep rates negative", lambda p: tuning.lr_sweep(_model, X, Y, learning_rates=[-1]),
     ValueError, "learning_rates"),
    ("sweep rates type", lambda p: tuning.lr_sweep(_model, X, Y, learning_rates=0.1),
     TypeError, "learning_rates"),
    ("sweep epochs", lambda p: tuning.lr_sweep(_model, X, Y, epochs=0), ValueError, "epochs"),
    ("sweep refine", lambda p: tuning.lr_sweep(_model, X, Y, refine="y"), TypeError, "refine"),
    ("sweep optimizer", lambda p: tuning.lr_sweep(_model, X, Y, optimizer="foo"), ValueError,
     "optimizer"),
    ("sweep metrics", lambda p: tuning.lr_sweep(_model, X, Y, metrics="accuracy"), TypeError,
     "metrics"),
    ("sweep num_classes", lambda p: tuning.lr_sweep(_model, X, Y, num_classes=1), ValueError,
     "num_classes"),
    ("sweep verbose", lambda p: tuning.lr_sweep(_model, X, Y, verbose=-1), ValueError,
     "verbose"),
]


@pytest.mark.parametrize(("call", "error", "argument"),
                         [pytest.param(c, e, a, id=i) for i, c, e, a in CASES])
def test_bad_input_is_refused_with_a_message_naming_the_argument(paths, call, error, argument):
    with pytest.raises(error) as info:
        call(paths)
    assert f"`{argument}`" in str(info.value) or f"{argument}=" in str(info.value), \
        str(info.value)


def _tiny_base():
    import keras

    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(3, name="block1_dense")(inputs))


def _tiny_classifier():
    model = transfer.new_classifier(_tiny_base(), 3)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_every_public_name_is_covered():
    """A public name added without bad-input cases fails here."""
    covered = " ".join(i for i, *_ in CASES)
    names = {
        "callbacks": {"DivergenceGuard": "guard", "TrainingDivergedError": "diverged",
                      "PeriodicCheckpoint": "ckpt", "TrainingDiagnostics": "diag",
                      "TrainingObjective": "objective", "FeederEpochSync": None,
                      "NegativeTransferAlarm": "alarm"},
        "checkpointing": {"load_weights": "load_weights", "CheckpointWriteError": None},
        "data": {"stratified_split": "split", "stratified_dataset": "dataset",
                 "from_file_listing": "listing", "HybridFeeder": "hybrid"},
        "diagnostics": {"diagnose": "diagnose", "Finding": "finding",
                        "DiagnosticsReport": "report"},
        "hparams": {"HParamsLogger": "hparams"},
        "transfer": {"new_classifier": "transfer", "layer_groups": "transfer groups",
                     "fine_tune": "transfer fine_tune", "FineTuneResult": None,
                     "domain_transfer_init": "transfer domain"},
        "metrics": {"MacroF1": "macro", "MacroPrecision": "macro", "MacroRecall": "macro",
                    "MacroScores": "macro"},
        "tuning": {"RandomSearchTuner": "tuner", "compile_from_hp": "compile_from_hp",
                   "dropout_layer": "dropout_layer", "load_results_frame": "results",
                   "lr_range_test": "range", "lr_sweep": "sweep",
                   "handbook_search_space": None, "LRFinderResult": None,
                   "LRSweepResult": None, "with_pruning": "with_pruning",
                   "PruningMixin": "pruning mixin", "plan_epochs": "plan_epochs",
                   "EpochPlan": None, "MedianPruner": "median pruner",
                   "ASHAPruner": "asha pruner", "CurvePruner": "curve pruner",
                   "Pruner": None},
    }
    for package, expected in names.items():
        module = getattr(keras_bestpractice, package)
        assert set(module.__all__) == set(expected), package
        for name, prefix in expected.items():
            # None: takes no arguments from users (an exception type, a result holder).
            assert prefix is None or prefix in covered, name
