"""`RandomSearchTuner`: the handbooks' random search as a KerasTuner tuner, pruned and tabled."""

from __future__ import annotations

import os
from typing import Any

import keras_tuner as kt

from keras_bestpractice import _validation as v
from keras_bestpractice._warnings import warn
from keras_bestpractice.tuning.pruning import PruningMixin

__all__ = ["RandomSearchTuner"]

# The handbook hyperparameters that only take effect when the tuner applies them.
_COMPILE_NAMES = ("learning_rate", "optimizer")


class RandomSearchTuner(PruningMixin, kt.Tuner):
    """The handbooks' random search as a KerasTuner `Tuner`: pruned, tabled, on TensorBoard.

    A `keras_tuner.Tuner` with a `RandomSearchOracle`, used exactly like
    KerasTuner's `RandomSearch`: trials run through KerasTuner's own machinery
    (`run_trial`, `_build_and_fit_model`, `HyperModel.fit`, executions, retries,
    `get_best_models`, distributed mode), and everything below comes from
    `PruningMixin` (which works with any KerasTuner tuner).

    The search space is exactly the hyperparameters that take effect:

    - a `build(hp)` that declares its own hyperparameters and compiles its model
      gets KerasTuner's semantics (nothing is added);
    - an uncompiled model is compiled by the tuner with `loss` and `metrics`, and
      the trial's `learning_rate` and `optimizer`, which then join the space
      with the handbooks' values (unless the tuner was given an `optimizer`);
    - `batch_size` in [32, 128] joins the space when `search` gets arrays (or a
      function `batch_size -> dataset`) and no `batch_size` (`tune_batch_size`);
    - `hyperparameters="handbook"` (or `handbook_search_space()`) asks for the
      handbooks' four; those that would not take effect (`learning_rate` and
      `optimizer` for a model that compiles itself, `dropout` for a build that
      does not use `dropout_layer(hp)`) are left out with a warning, and where
      the build declares a hyperparameter of the same name, the build's wins,
      with a warning.

    Resuming (`overwrite=False`) refuses a changed search space, whether it was
    changed through `hyperparameters=` or inside `build`.

    Args:
        hypermodel: a `build(hp)` function or `keras_tuner.HyperModel`; the model
            may be left uncompiled. Optional only when `run_trial` is overridden.
        objective: metric to optimise (KerasTuner's forms). Defaults to
            `"val_accuracy"`.
        max_trials: trials to run. Defaults to `10`.
        epochs_per_trial: epochs per trial (`search(epochs=...)` overrides); `None`
            leaves it to `fit`. Defaults to `5`.
        seed: seed of the search and of every trial (each trial's seed derives
            from it and the trial id). Defaults to `None`.
        prune: prune hopeless and behind-the-peers trials. Defaults to `True`.
        pruner: `"median"` or `"asha"` (see `PruningMixin`). Defaults to `"median"`.
        logdir: TensorBoard HParams log directory; `None` for none.
        hyperparameters: `None`, `"handbook"`, or a `keras_tuner.HyperParameters`.
            Defaults to `None`.
        loss: loss for uncompiled hypermodels (default
            `"sparse_categorical_crossentropy"`); for compiled ones, KerasTuner's
            override. Defaults to `None`.
        metrics: as `loss` (default for uncompiled models: accuracy and
            `MacroScores`). Defaults to `None`.
        optimizer: as `loss` (default for uncompiled models: the trial's
            `optimizer` at its `learning_rate`). Defaults to `None`.
        directory: where trials are stored. Defaults to `"kbp_tuning"`.
        project_name: sub-folder of `directory`. Defaults to `"random_search"`.
        overwrite: start over instead of resuming. Defaults to `False`.
        oracle: a KerasTuner oracle to use instead of the random-search one
            (`objective`, `max_trials`, `seed`, `hyperparameters` then live on it).
            Defaults to `None`.
        tune_batch_size: see above. Defaults to `True`.
        **kwargs: `PruningMixin`'s arguments (`min_epochs_for_median`,
            `min_trials_for_median`, `reduction_factor`, `grace_epochs`, `max_time`,
            `num_classes`), the random-search oracle's (`tune_new_entries`,
            `allow_new_entries`, `max_retries_per_trial`,
            `max_consecutive_failed_trials`, default 3), and `keras_tuner.Tuner`'s
            (`executions_per_trial`, `max_model_size`, `distribution_strategy`,
            `tuner_id`).

    Example:

    ```python
    def build(hp):
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(16, 3, "relu"),
                                 keras.layers.Flatten(), dropout_layer(hp),
                                 keras.layers.Dense(10, activation="softmax")])

    tuner = RandomSearchTuner(build, max_trials=20, seed=0, logdir="logs/hparams")
    tuner.search(x, y, validation_data=(x_val, y_val))
    tuner.results_frame().sort_values("best_val_accuracy", ascending=False)
    ```

    Raises:
        ValueError: for bad counts, `hypermodel=None` without an overridden
            `run_trial`, or a search space that changed on `overwrite=False` (a
            `hyperparameters=` that differs: at construction; a build that declares
            another space: at the first `search` or `get_best_models`, before any model
            is built; reading a reloaded project's results builds nothing).
        TypeError: for arguments of the wrong type.
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = "val_accuracy",
        max_trials: int = 10,
        epochs_per_trial: int | None = 5,
        seed: int | None = None,
        prune: bool = True,
        pruner: str = "median",
        logdir: str | os.PathLike | None = None,
        hyperparameters: Any = None,
        loss: Any = None,
        metrics: Any = None,
        optimizer: Any = None,
        directory: str | os.PathLike = "kbp_tuning",
        project_name: str = "random_search",
        overwrite: bool = False,
        oracle: Any = None,
        tune_batch_size: bool = True,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        **kwargs: Any,
    ):
        v.check_dir_path("directory", directory)
        v.check_str("project_name", project_name)
        v.check_int("max_trials", max_trials, minimum=1)
        self.seed = v.check_int("seed", seed, allow_none=True)
        v.check_bool("overwrite", overwrite)
        if not isinstance(objective, (str, kt.Objective, list, tuple)) and objective is not None:
            raise TypeError("`objective` must be a metric name, a keras_tuner.Objective or a "
                            f"list of them, got {type(objective).__name__}.")
        requested = None
        if oracle is None:
            hyperparameters = self._settle_space(hypermodel, hyperparameters, optimizer)
            requested = {hp.name: hp.get_config() for hp in hyperparameters.space}
            # KerasTuner treats seed=0 as "no seed" (`seed or random...`): shift it.
            oracle = kt.oracles.RandomSearchOracle(
                objective=objective, max_trials=max_trials,
                seed=None if self.seed is None else self.seed + 1,
                hyperparameters=hyperparameters, tune_new_entries=tune_new_entries,
                allow_new_entries=allow_new_entries,
                max_retries_per_trial=max_retries_per_trial,
                max_consecutive_failed_trials=max_consecutive_failed_trials)
        super().__init__(oracle=oracle, hypermodel=hypermodel, directory=directory,
                         project_name=project_name, overwrite=overwrite, loss=loss,
                         metrics=metrics, optimizer=optimizer, prune=prune, pruner=pruner,
                         logdir=logdir, epochs_per_trial=epochs_per_trial,
                         tune_batch_size=tune_batch_size, **kwargs)
        # A reload checks the build's space at the first search or best model, where a
        # model is built anyway (issue #24: the check's build was a constant 50 ms on
        # every reload, one that only reads the results needs none).
        self._build_space_checked = not self._reloaded
        if self._reloaded and requested is not None:
            self._check_space(requested, "hyperparameters=")

    # ------------------------------------------------------------------ space
    @staticmethod
    def _declared_by(hypermodel: Any) -> tuple[dict[str, dict], bool | None]:
        """The hyperparameters a build declares on its own, and whether it compiles."""
        if hypermodel is None:
            return {}, None
        try:
            hp = kt.HyperParameters()
            model = _build_of(hypermodel)(hp)
        except Exception:  # noqa: BLE001 - a build that needs values we do not know
            return {}, None
        from keras_bestpractice.tuning.pruning import _is_compiled

        return {p.name: p.get_config() for p in hp.space}, _is_compiled(model)

    def _declared_once(self, hypermodel: Any) -> tuple[dict[str, dict], bool | None]:
        """`_declared_by`, built once per tuner and build (equal bound methods of a
        HyperModel count as one). Issue #24: a reload built the model three times, 18 ms
        each, where KerasTuner's own reload builds none."""
        cached = self.__dict__.get("_declared_cache")
        if cached is None or cached[0] != _build_of(hypermodel):
            cached = (_build_of(hypermodel), *self._declared_by(hypermodel))
            self.__dict__["_declared_cache"] = cached
        return dict(cached[1]), cached[2]

    def _compiles_itself(self, hp: Any) -> bool | None:
        # What the build declared with its defaults says whether it compiles; a build
        # that could not run with them is built with `hp`.
        compiled = self._declared_once(self.hypermodel)[1]
        return compiled if compiled is not None else super()._compiles_itself(hp)

    def _settle_space(self, hypermodel: Any, hyperparameters: Any, optimizer: Any) -> Any:
        """The oracle's initial space: exactly the hyperparameters that take effect."""
        from keras_bestpractice.tuning.space import handbook_search_space

        if hyperparameters is None:
            return kt.HyperParameters()
        if isinstance(hyperparameters, str):
            v.check_choice("hyperparameters", hyperparameters, ("handbook",))
            hyperparameters = handbook_search_space()
        if not isinstance(hyperparameters, kt.HyperParameters):
            raise TypeError("`hyperparameters` must be None, 'handbook' or a "
                            "keras_tuner.HyperParameters, got "
                            f"{type(hyperparameters).__name__}.")
        declared, compiled = self._declared_once(hypermodel)
        handbook = {p.name: _comparable(p.get_config()) for p in handbook_search_space().space}
        kept, dropped, replaced = [], [], []
        for item in hyperparameters.space:
            name = item.name
            if handbook.get(name) != _comparable(item.get_config()):
                kept.append(item)  # the user's own definition: KerasTuner's semantics
            elif name in declared:
                if _comparable(declared[name]) != _comparable(item.get_config()):
                    replaced.append(name)  # the build's own definition wins
                    continue
            elif name in _COMPILE_NAMES and (compiled or optimizer is not None) or \
                    name == "dropout" and compiled is not None:
                dropped.append(name)
                continue
            kept.append(item)
        if replaced:
            warn(f"RandomSearchTuner: the build declares {', '.join(replaced)} itself; its "
                 "definition is used instead of the handbook's.")
        if dropped:
            why = ("the build compiles its model itself" if compiled else
                   "the tuner was given an optimizer") if any(
                n in _COMPILE_NAMES for n in dropped) else "the build does not use it"
            warn(f"RandomSearchTuner: {', '.join(dropped)} would not take effect ({why}); "
                 "left out of the search space so that nothing is recorded that was not "
                 "used.")
        if not replaced and not dropped:
            return hyperparameters
        space = kt.HyperParameters()
        space.merge(kept)
        space.values.update({k: val for k, val in hyperparameters.values.items()
                             if k in space})
        return space

    def _check_space(self, requested: dict[str, dict], source: str) -> None:
        current = {hp.name: hp.get_config() for hp in self.oracle.get_space().space}
        changed = []
        for name, config in requested.items():
            if name not in current:
                changed.append(f"{name!r} is new")
            elif _comparable(current[name]) != _comparable(config):
                changed.append(f"{name!r} was {_comparable(current[name])}, now "
                               f"{_comparable(config)}")
        if changed:
            raise ValueError(
                f"the search space of the existing project {str(self.project_dir)!r} differs "
                f"({source}): " + "; ".join(changed)
                + ". Pass overwrite=True to start over, or use another project_name."
            )

    def _check_on_first_use(self) -> None:
        if not self._build_space_checked:
            self._check_build_space()
            self._build_space_checked = True

    def _check_build_space(self) -> None:
        """On resume: the build (and what the tuner applies) must declare the same space."""
        declared, compiled = self._declared_once(self.hypermodel)
        if compiled is False:
            for item in self._applied_hyperparameters().space:
                declared.setdefault(item.name, item.get_config())
        self._check_space(declared, "declared by the build")


def _build_of(hypermodel: Any) -> Any:
    """The build function of a hypermodel (KerasTuner wraps a plain function)."""
    return hypermodel.build if isinstance(hypermodel, kt.HyperModel) else hypermodel


def _comparable(config: dict) -> dict:
    return {k: val for k, val in config.items() if k not in ("default", "conditions")}
