"""Train a model variant: fixed seeds, class-balanced loss, early stopping, ``.keras`` + a log.

Keras must already be configured for the wanted device (see :mod:`cloud.device`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cloud.data import Dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainSettings:
    epochs: int = 40
    batch_size: int = 64
    patience: int = 6
    learning_rate: float = 2e-3
    #: the full-size variants diverge at the edge variants' step size under heavy class weights
    full_lr_scale: float = 0.25
    #: gradient-norm clipping (None: off); the fall LSTM under ~40x class weights needs it
    clipnorm: float | None = None
    seed: int = 7
    verbose: int = 1  # 1: Keras progress bar per epoch
    #: class weights are (inverse class frequency) ** this: 1 balances recall fully; below 1 trades
    #: some rare-class recall for precision (a rare class weighted 40x is called on many common beats)
    class_weight_power: float = 1.0
    #: label smoothing (0: none): the true class's target is 1 - s + s/n, the others' s/n, so the softmax
    #: learns to stay off its rail (0.996 once int8) instead of claiming certainty it cannot have on
    #: inputs unlike the training data
    label_smoothing: float = 0.0


def overridden(settings: TrainSettings, epochs: int | None, learning_rate: float | None) -> TrainSettings:
    """``settings`` with the command line's epoch budget and learning rate where it gives them."""
    if learning_rate is not None and not learning_rate > 0:
        raise ValueError(f"the learning rate must be > 0, got {learning_rate}")
    if epochs:
        settings = replace(settings, epochs=epochs)
    if learning_rate is not None:
        settings = replace(settings, learning_rate=learning_rate)
    return settings


def class_weights(y: np.ndarray, n_classes: int, power: float = 1.0) -> dict[int, float]:
    """Inverse-frequency weights (``power`` 1: as they always were), or their ``power`` normalised to
    mean 1 over present classes; absent classes get 1."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.ones(n_classes)
    w[present] = counts[present].sum() / (present.sum() * counts[present])
    if power != 1.0:
        w[present] = w[present] ** power
        w[present] /= w[present].mean()
    return {i: float(v) for i, v in enumerate(w)}


def model_path(workdir: Path, name: str, variant: str) -> Path:
    return workdir / name / f"{name}_{variant}.keras"


def train(name: str, variant: str, ds: Dataset, workdir: Path, settings: TrainSettings) -> dict[str, Any]:
    """Train and save ``<workdir>/<name>/<name>_<variant>.keras``; returns the training summary."""
    import keras

    from models.definitions import build

    keras.utils.set_random_seed(settings.seed)
    model = build(name, variant, seed=settings.seed)
    lr = settings.learning_rate * (settings.full_lr_scale if variant == "full" else 1.0)
    y_train, y_val = ds.y["train"], ds.y["val"]
    loss: Any = "sparse_categorical_crossentropy"
    if settings.label_smoothing > 0:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing)
        y_train, y_val = (keras.utils.to_categorical(y, len(ds.classes)) for y in (y_train, y_val))
    model.compile(
        optimizer=keras.optimizers.Adam(lr, clipnorm=settings.clipnorm),
        loss=loss,
        metrics=["accuracy"],
    )
    out_dir = workdir / name
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_log = out_dir / f"{name}_{variant}_train_log.csv"
    has_val = len(ds.y["val"]) > 0
    monitor = "val_loss" if has_val else "loss"
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=settings.patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=max(1, settings.patience // 2)),
        keras.callbacks.CSVLogger(str(csv_log)),
    ]
    started = time.perf_counter()
    history = model.fit(
        ds.x["train"],
        y_train,
        validation_data=(ds.x["val"], y_val) if has_val else None,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        class_weight=class_weights(ds.y["train"], len(ds.classes), settings.class_weight_power),
        callbacks=callbacks,
        shuffle=True,
        verbose=settings.verbose,
    )
    seconds = time.perf_counter() - started
    path = model_path(workdir, name, variant)
    model.save(path)
    epochs_run = len(history.history["loss"])
    summary = {
        "model": name,
        "variant": variant,
        "backend": keras.backend.backend(),
        "parameters": int(model.count_params()),
        "epochs_run": epochs_run,
        "best_" + monitor: float(min(history.history[monitor])),
        "seconds": round(seconds, 2),
        "samples_per_s": round(epochs_run * len(ds.y["train"]) / seconds, 1) if seconds > 0 else None,
        "train_windows": len(ds.y["train"]),
        "dataset_sha256": ds.sha256,
        "settings": asdict(settings),
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "keras_file": path.name,
    }
    (out_dir / f"{name}_{variant}_train.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("trained %s/%s: %d epochs in %.1f s -> %s", name, variant, epochs_run, seconds, path)
    return summary
