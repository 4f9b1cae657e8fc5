import subprocess
import sys

import keras_bestpractice


def test_import_does_not_import_tensorflow():
    code = ("import sys, keras_bestpractice; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_diagnostics_subpackage_does_not_import_tensorflow():
    code = ("import sys; from keras_bestpractice.diagnostics import diagnose; "
            "diagnose({'loss': [1.0, 0.5, 0.2]}); print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False"]


def test_lazy_subpackages_and_version():
    assert keras_bestpractice.__version__
    assert "callbacks" in dir(keras_bestpractice)
    assert keras_bestpractice.diagnostics.diagnose
