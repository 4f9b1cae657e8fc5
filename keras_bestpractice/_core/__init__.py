"""The pure core: decisions and vocabulary shared by every layer above it.

Nothing here imports Keras, TensorFlow, KerasTuner or TensorBoard, not even
indirectly: only the standard library and NumPy. The callbacks, feeders, tuner
and writers (the adapter and integration layers) import from here, never the
reverse. See `docs/architecture.md` for the layers and the behaviour -> file map.
"""
