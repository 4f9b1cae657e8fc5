"""fine_tune across a crash, with schedules, and its negative-transfer check (issue #17)."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from keras_bestpractice import KerasBestPracticeWarning
from keras_bestpractice.callbacks import PeriodicCheckpoint
from keras_bestpractice.transfer import fine_tune, new_classifier
from tests.transfer.helpers import Trainable, conv_base


def digits(n=96):
    x, y = load_digits(return_X_y=True)
    keep = y >= 5
    x = (x[keep] / 16.0).astype("float32").reshape(-1, 8, 8, 1)[:n]
    return x, (y[keep] - 5)[:n]


def model(seed=0):
    m = new_classifier(conv_base(seed), 5)
    keras.utils.set_random_seed(seed + 1)
    m.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


class Crash(Exception):
    pass


class CrashAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Crash


def run(m, directory, *extra):
    x, y = digits()
    return fine_tune(m, x[:64], y[:64], validation_data=(x[64:], y[64:]), head_epochs=2,
                     epochs_per_group=2, lr_factor=0.5, batch_size=16, shuffle=False,
                     callbacks=[*extra, PeriodicCheckpoint(directory, every_n_epochs=1,
                                                           keep_last=2)])


@pytest.mark.parametrize("crash_at", [
    2,  # killed between the head phase and the first unfreeze
    3,  # killed inside the first fine-tuning phase ("unfreeze block2")
])
def test_a_kill_between_or_inside_phases_resumes_in_the_right_phase(tmp_path, crash_at):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    whole = model()
    expected = run(whole, tmp_path / "whole")
    with pytest.raises(Crash):
        run(model(), tmp_path / "run", CrashAt(crash_at))
    resumed = model(seed=7)  # a new process starts from other weights
    seen = Trainable()
    with pytest.warns(KerasBestPracticeWarning, match="not a stratified_dataset"):
        result = run(resumed, tmp_path / "run", seen)
    assert result.resumed_at == crash_at
    # The first fit of the resumed call trains the phase the checkpoint is in, with its
    # layers trainable; the whole history (before the crash too) comes back.
    assert [n for n, on in seen.seen[0].items() if on] == ["block2_conv", "block2_pool"]
    assert [p["name"] for p in result.phases] == [p["name"] for p in expected.phases] == \
        ["head", "unfreeze block2", "unfreeze block1"]
    assert result.history["epoch"] == list(range(6))
    assert result.history["phase"] == expected.history["phase"]
    assert result.phases[1]["learning_rate"] == pytest.approx(5e-3)
    for a, b in zip(resumed.get_weights(), whole.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.history["val_loss"], expected.history["val_loss"],
                               rtol=1e-5)


def test_a_finished_run_resumed_trains_nothing(tmp_path):
    run(model(), tmp_path)
    with pytest.warns(KerasBestPracticeWarning, match="not a stratified_dataset"), \
            pytest.warns(KerasBestPracticeWarning, match="nothing to do"):
        result = run(model(seed=3), tmp_path)
    assert result.resumed_at == 6 and len(result.history["epoch"]) == 6


def test_a_schedule_is_scaled_for_the_fine_tuning_phases():
    x, y = digits()
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=100,
                                                           decay_rate=0.5)
    m = new_classifier(conv_base(), 5)
    m.compile(keras.optimizers.SGD(schedule), "sparse_categorical_crossentropy")
    result = fine_tune(m, x, y, head_epochs=1, epochs_per_group=1, groups=1, lr_factor=0.1,
                       batch_size=32)
    assert [p["learning_rate"] for p in result.phases] == pytest.approx([1e-2, 1e-3])
    lr = m.optimizer.get_config()["learning_rate"]
    assert lr["class_name"] == "ScaledSchedule" and lr["config"]["scale"] == 0.1


def test_fine_tune_refuses_fit_arguments_it_owns():
    x, y = digits()
    with pytest.raises(ValueError, match="epochs"):
        fine_tune(model(), x, y, epochs=3)
    with pytest.raises(ValueError, match="check_negative_transfer"):
        fine_tune(model(), x, y, reference={"val_accuracy": [0.5]})


@pytest.mark.slow
@pytest.mark.backend_independent
def test_a_base_pretrained_on_shuffled_labels_raises_the_negative_transfer_alarm():
    from keras_bestpractice.transfer import domain_transfer_init

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    source, target = y < 5, y >= 5
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(y[source])
    base, _ = domain_transfer_init(conv_base(0, filters=(16, 32)), x[source], shuffled,
                                   num_classes=5, epochs=30, learning_rate=3e-3, batch_size=32)
    xt, yt = x[target], y[target] - 5
    train = np.concatenate([rng.choice(np.flatnonzero(yt == c), 10, replace=False)
                            for c in range(5)])
    val = np.setdiff1d(np.arange(len(yt)), train)
    model = new_classifier(base, 5)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    before = [w.copy() for w in base.get_weights()]
    with pytest.warns(KerasBestPracticeWarning, match="negative transfer"):
        result = fine_tune(model, xt[train], yt[train], validation_data=(xt[val], yt[val]),
                           head_epochs=6, epochs_per_group=2, lr_factor=0.3, batch_size=16,
                           check_negative_transfer=True)
    check = result.negative_transfer
    assert check is not None and check.monitor == "val_accuracy" and 4 <= check.epoch <= 9
    assert check.reference - check.transferred > 0.02
    # The reference is the same architecture trained from scratch for 10 epochs: it is a
    # clone, so the transferred model's own base started from the pretrained weights.
    assert len(result.reference_history["val_accuracy"]) == 10
    assert not all(np.array_equal(a, b) for a, b in zip(before, base.get_weights(),
                                                        strict=True))
    # diagnose() gives the same finding from the two histories.
    from keras_bestpractice.diagnostics import diagnose

    report = diagnose(result.history, num_classes=5, reference=result.reference_history)
    assert "negative_transfer" in [f.code for f in report.findings]


@pytest.mark.backend_independent
def test_the_reference_is_a_fresh_fully_trainable_clone():
    from keras_bestpractice.transfer.scratch_run import scratch_model

    m = model()
    clone = scratch_model(m)
    assert len(clone.trainable_weights) == len(clone.weights) == 6
    assert len(m.trainable_weights) == 2  # the transferred model's base stays frozen
    base, theirs = m.get_layer("base"), clone.get_layer("base")
    assert not np.array_equal(base.get_weights()[0], theirs.get_weights()[0])
    assert clone.get_compile_config() == m.get_compile_config()


@pytest.mark.backend_independent
def test_the_reference_trains_its_batchnorm_statistics_unlike_the_frozen_transfer():
    from keras_bestpractice.transfer.scratch_run import scratch_model

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, name="block1_conv")(inputs)
    h = keras.layers.BatchNormalization(name="block1_bn")(h)
    m = new_classifier(keras.Model(inputs, h, name="base"), 5)
    m.compile("adam", "sparse_categorical_crossentropy")
    clone = scratch_model(m)
    x, y = digits(32)
    clone.fit(x, y, epochs=1, batch_size=16, verbose=0)
    moving_mean = clone.get_layer("base").get_layer("block1_bn").moving_mean
    assert np.abs(keras.ops.convert_to_numpy(moving_mean)).max() > 0
    assert m.get_layer("base").get_layer("block1_bn").trainable is False


@pytest.mark.backend_independent
def test_a_resumed_negative_transfer_check_reuses_its_reference(tmp_path, monkeypatch):
    from keras_bestpractice.transfer import scratch_run as reference_module

    calls = []
    train = reference_module.train_reference
    monkeypatch.setattr(reference_module, "train_reference",
                        lambda *a, **k: calls.append(k["epochs"]) or train(*a, **k))
    x, y = digits()

    def go(m, *extra):
        return fine_tune(m, x[:64], y[:64], validation_data=(x[64:], y[64:]), head_epochs=2,
                         epochs_per_group=1, groups=1, batch_size=32, shuffle=False,
                         check_negative_transfer=True, reference=None,
                         callbacks=[*extra, PeriodicCheckpoint(tmp_path, every_n_epochs=1)])

    with pytest.raises(Crash):
        go(model(), CrashAt(2))
    with pytest.warns(KerasBestPracticeWarning, match="not a stratified_dataset"):
        result = go(model(seed=5))
    assert calls == [3]  # trained once, before the kill: 3 epochs, all fine_tune runs
    assert len(result.reference_history["val_accuracy"]) == 3
    assert result.history["epoch"] == [0, 1, 2]


def test_a_training_objective_sees_one_run_across_the_phases_with_the_whole_budget():
    from keras_bestpractice.callbacks import TrainingObjective

    x, y = digits()
    objective = TrainingObjective({"val_accuracy": 0.999}, min_epochs=4, verbose=0)
    result = fine_tune(model(), x[:64], y[:64], validation_data=(x[64:], y[64:]),
                       head_epochs=3, epochs_per_group=1, batch_size=32, callbacks=[objective])
    ran = result.history["epoch"]
    # One curve across the phases (it was reset at every phase's fit), judged against
    # the 5 epochs of the whole run, not the phase's end.
    assert [e["epoch"] for e in objective.events] == ran
    assert {e["budget"] for e in objective.events} == {5}
    assert objective.max_epochs is None  # the user's setting is given back


@pytest.mark.backend_independent
def test_the_check_compares_the_accuracy_the_model_logs_else_the_loss():
    from keras_bestpractice.transfer.fine_tuning import _transfer_monitor

    logged = {"loss": [1.0], "sparse_categorical_accuracy": [0.5], "val_loss": [1.0],
              "val_sparse_categorical_accuracy": [0.5]}
    assert _transfer_monitor(logged, True) == "val_sparse_categorical_accuracy"
    assert _transfer_monitor(logged, False) == "sparse_categorical_accuracy"
    assert _transfer_monitor({"loss": [1.0], "val_loss": [1.0]}, True) == "val_loss"
    assert _transfer_monitor(None, True) == "val_accuracy"  # a bare list of values


def test_diagnostics_and_hparams_follow_the_phases_as_one_run(tmp_path):
    """Issue #22: one report over every phase's epochs, one HParams session."""
    from keras_bestpractice.callbacks import TrainingDiagnostics
    from keras_bestpractice.hparams import HParamsLogger

    x, y = digits()
    diag = TrainingDiagnostics(probe_data=(x[:16], y[:16]), verbose=0)
    logger = HParamsLogger(tmp_path / "logs", {"units": 4}, judge=False)
    result = fine_tune(model(), x[:64], y[:64], validation_data=(x[64:], y[64:]),
                       head_epochs=2, epochs_per_group=1, groups=1, batch_size=16,
                       callbacks=[diag, logger])
    assert len(result.phases) == 2
    assert list(diag.report.curves.epochs) == [0, 1, 2]            # both phases, one report
    assert len(diag.report.probe_frame()) >= 3                    # the start probe and each end
    runs = [p for p in (tmp_path / "logs").iterdir() if p.is_dir()]
    assert [p.name for p in runs] == [logger.session_name]        # one session for the run
    assert logger.status == "success"


def test_verbose_output_says_which_run_and_phase_it_is(tmp_path, capsys):
    """Issue #26: `fine_tune(verbose=2)` printed the reference run's epochs unlabelled."""
    x, y = digits()
    fine_tune(model(), x[:64], y[:64], validation_data=(x[64:], y[64:]), head_epochs=1,
              epochs_per_group=1, groups=1, batch_size=16, verbose=2,
              check_negative_transfer=True)
    out = capsys.readouterr().out
    reference = out.index("fine_tune: reference run")
    head = out.index("fine_tune: phase 1/2 'head': epochs 1-1")
    unfreeze = out.index("fine_tune: phase 2/2")
    assert reference < out.index("Epoch 1/") < head < unfreeze


def test_a_base_whose_features_do_not_vary_is_reported():
    """Issue #26: a base killed in domain_transfer_init (features the same for every
    input) was fine-tuned without a word."""
    from keras_bestpractice.transfer import domain_transfer_init

    x, y = digits()
    # A base whose ReLUs never fire (what a far too high rate leaves behind): its features
    # are 0 for every input, and no gradient brings them back.
    dead = conv_base(seed=3)
    last = dead.get_layer("block2_conv")
    kernel, bias = last.get_weights()
    last.set_weights([kernel, np.full_like(bias, -1e3)])
    with pytest.warns(KerasBestPracticeWarning, match="features are the same for every input"):
        domain_transfer_init(dead, x, y, num_classes=5, epochs=1, batch_size=16)
    m = new_classifier(dead, 5)
    m.compile("adam", "sparse_categorical_crossentropy")
    with pytest.warns(KerasBestPracticeWarning, match="fine_tune: the base's features"):
        fine_tune(m, x, y, head_epochs=1, epochs_per_group=1, groups=1, batch_size=16)


def test_a_working_base_gives_no_feature_warning(recwarn):
    from keras_bestpractice.transfer.feature_check import check_features_vary

    x, _ = digits()
    assert check_features_vary(conv_base(), x, "fine_tune")
    assert not [w for w in recwarn if issubclass(w.category, KerasBestPracticeWarning)]
