"""Train a variant of the segmentation model: fixed seeds, cross-entropy + soft Dice, early stopping on
the validation devices, ``.keras`` + a log. Keras must already be configured (:mod:`cloud.device`)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from cloud.imaging.data import ImagingDataset
from cloud.train import TrainSettings, model_path

log = logging.getLogger(__name__)
NAME = "imaging"


def train(variant: str, ds: ImagingDataset, workdir: Path, settings: TrainSettings, *,
          resume: bool = False, augment: bool = False, detection_loss: bool = False) -> dict[str, Any]:
    """Train and save ``<workdir>/imaging/imaging_<variant>.keras``; returns the training summary.

    Training images are shown as they are and mirrored left-right (both modalities are imaged either
    way round). ``resume`` continues from the saved model of the variant at a quarter of the learning
    rate (its log is kept beside the first run's). ``augment`` shows every training image each epoch
    through a random scanner variation instead (:mod:`cloud.imaging.augment`: mirror, gamma, blur, noise).
    ``detection_loss`` adds an image-level term on whether each image holds a lesion
    (:func:`models.definitions.imaging.dice_ce_detection_loss`).
    """
    import keras

    from models.definitions import build
    from models.definitions.imaging import dice_ce_detection_loss, dice_ce_loss

    keras.utils.set_random_seed(settings.seed)
    path = model_path(workdir, NAME, variant)
    if resume:
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: nothing to resume (train without --resume first, or rebuild"
                                    f" the released model there: python -m cloud.imaging.recover --workdir {workdir})")
        model = keras.saving.load_model(path)
    else:
        model = build(NAME, variant, seed=settings.seed)
    lr = settings.learning_rate * (settings.full_lr_scale if variant == "full" else 1.0) * (0.25 if resume else 1.0)
    loss = dice_ce_detection_loss if detection_loss else dice_ce_loss
    model.compile(optimizer=keras.optimizers.Adam(lr, clipnorm=settings.clipnorm), loss=loss)
    out_dir = workdir / NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    x_train, y_train = ds.inputs("train"), ds.targets("train")
    fit_data: Any
    if augment:
        from cloud.imaging.augment import AugmentedImages

        fit_data = {"x": AugmentedImages(x_train, y_train, settings.batch_size, settings.seed)}
    else:
        x_train = np.concatenate([x_train, x_train[:, :, ::-1]])
        y_train = np.concatenate([y_train, y_train[:, :, ::-1]])
        fit_data = {"x": x_train, "y": y_train, "batch_size": settings.batch_size, "shuffle": True}
    x_val, y_val = ds.inputs("val"), ds.targets("val")
    has_val = len(y_val) > 0
    monitor = "val_loss" if has_val else "loss"
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=settings.patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=max(1, settings.patience // 2)),
        # the best model so far is on disk after every epoch, so a run stopped early still leaves one
        keras.callbacks.ModelCheckpoint(str(path), monitor=monitor, save_best_only=True),
        keras.callbacks.CSVLogger(str(out_dir / f"{NAME}_{variant}_train_log{'_resumed' if resume else ''}.csv")),
    ]
    started = time.perf_counter()
    history = model.fit(**fit_data, validation_data=(x_val, y_val) if has_val else None,
                        epochs=settings.epochs, callbacks=callbacks, verbose=settings.verbose)
    seconds = time.perf_counter() - started
    model.save(path)
    epochs_run = len(history.history["loss"])
    summary = {
        "model": NAME,
        "variant": variant,
        "backend": keras.backend.backend(),
        "parameters": int(model.count_params()),
        "epochs_run": epochs_run,
        "best_" + monitor: float(np.min(history.history[monitor])),
        "seconds": round(seconds, 2),
        "samples_per_s": round(epochs_run * len(y_train) / seconds, 1) if seconds > 0 else None,
        "train_windows": len(y_train),
        "dataset_sha256": ds.sha256,
        "settings": asdict(settings),
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "keras_file": path.name,
        "resumed": resume,
        "loss": ("cross-entropy + soft Dice + image-level cross-entropy on the top-k lesion probability"
                 if detection_loss else "cross-entropy + soft Dice"),
        "augmentation": ("every training image each epoch through a random mirror, gamma, blur and noise"
                         if augment else "left-right mirror of every training image"),
    }
    log_path = out_dir / f"{NAME}_{variant}_train.json"
    if resume and log_path.is_file():
        first = json.loads(log_path.read_text())
        summary["previous_runs"] = [*first.pop("previous_runs", []), first]
    log_path.write_text(json.dumps(summary, indent=2) + "\n")
    log.info("trained %s/%s: %d epochs in %.1f s -> %s", NAME, variant, epochs_run, seconds, path)
    return summary
