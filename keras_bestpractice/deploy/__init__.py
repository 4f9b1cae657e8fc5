"""Deployment, the handbook's last step: the training preprocessing saved with the model.

```python
from keras_bestpractice.deploy import ImagePreprocessing, Predictor, export_for_serving

prep = ImagePreprocessing((64, 64)).fit(x_train)         # statistics of the training images
model.fit(train.map(prep.map_fn()).batch(32), epochs=10)  # the same transform for training
export_for_serving(model, prep, "served")                 # SavedModel + .keras + self-test
Predictor("served").predict(["cat.png", raw_uint16_array])
raw_model = attach(model, prep)   # TensorFlow backend: one Keras model taking raw images
```

A `.keras` file of an attached model holds a `RawImageInput` layer: import it
(`from keras_bestpractice.deploy import RawImageInput`) before `keras.saving.load_model`.
"""

from keras_bestpractice._lazy import lazy_exports

_EXPORTS = {
    "DeploymentCheckError": "export",
    "ImagePreprocessing": "image_preprocessing",
    "Predictor": "predictor",
    "RawImageInput": "raw_image_input",
    "attach": "raw_image_input",
    "export_for_serving": "export",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
