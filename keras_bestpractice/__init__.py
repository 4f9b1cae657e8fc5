"""keras-bestpractice: the Keras handbooks' training best practices as drop-in Keras 3 parts.

`import keras_bestpractice` is cheap: it does not import TensorFlow or Keras. The
subpackages do, when they are first used:

- `keras_bestpractice.callbacks`: `DivergenceGuard`, `TrainingDiagnostics`,
  `TrainingObjective`, `PeriodicCheckpoint`, `FeederEpochSync`.
- `keras_bestpractice.data`: `stratified_split`, `stratified_dataset`,
  `from_file_listing`, `HybridFeeder`.
- `keras_bestpractice.diagnostics`: `diagnose` (pure NumPy/pandas, no TensorFlow).
- `keras_bestpractice.tuning`: `RandomSearchTuner`, `handbook_search_space`,
  `plan_epochs`, `lr_range_test`, `lr_sweep`.
- `keras_bestpractice.transfer`: `new_classifier`, `layer_groups`, `fine_tune`.
- `keras_bestpractice.hparams`: `HParamsLogger`.
- `keras_bestpractice.metrics`: `MacroPrecision`, `MacroRecall`, `MacroF1`.
- `keras_bestpractice.checkpointing`: `load_weights` and the storage layer.
- `keras_bestpractice.deploy`: `ImagePreprocessing`, `export_for_serving`, `Predictor`.
"""

from __future__ import annotations

import importlib
from typing import Any

from keras_bestpractice._warnings import KerasBestPracticeWarning

__version__ = "0.1.0.dev0"

_SUBPACKAGES = (
    "callbacks",
    "checkpointing",
    "data",
    "deploy",
    "diagnostics",
    "hparams",
    "metrics",
    "transfer",
    "tuning",
)

__all__ = ["KerasBestPracticeWarning", "__version__", *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    # PEP 562 lazy submodules: `keras_bestpractice.callbacks` imports Keras only
    # when it is first touched, so `import keras_bestpractice` stays fast.
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBPACKAGES))
