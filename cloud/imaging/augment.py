"""Scanner-variation augmentation for training the segmentation model (``iomt train imaging --augment``).

The model is scored on devices whose scanner settings it never saw, and that is where it loses: 1.2.0's edge
variant, trained without it, fits its training devices (loss 0.17) far better than the held-out ones (0.26).
What varies between simulated scanners, and between real ones, is how the same tissue is mapped to grey
(gain curve, dynamic range), how sharp the image is (resolution, speckle size) and how much noise lies on
it. Each training image is therefore shown, every epoch, through a random one of those: a gamma curve, a
Gaussian blur and additive noise, as well as mirrored left-right half the time. The mask moves only with the
mirror (gamma, blur and noise leave the lesion where it is). Inputs stay in 0..1 as
:func:`models.preprocessing.imaging.model_input` makes them.

Measured (imaging 1.2.0, 20 epochs resumed with it): the held-out devices did not gain (Dice 0.779 int8
vs 0.782 for 1.1.0 with the same finding rule), so grey-level variation is not what the model lacks; the
README's imaging paragraph has the figures. Imaging 1.3.0 is trained with it from the start, on 2.7x the
training scanners (validation loss 0.219 against 0.253); what it contributed there apart from the devices
was not measured separately.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from scipy.ndimage import gaussian_filter

#: log-uniform gamma range (a darker or brighter grey curve), blur sigma (model px) and noise sd (0..1 units)
GAMMA = (2 / 3, 3 / 2)
BLUR_SIGMA = (0.0, 1.0)
NOISE_SD = (0.0, 0.03)


def augment_batch(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A randomly varied copy of the inputs ``x`` ``(n, s, s, 1)`` and targets ``y`` ``(n, s, s)``."""
    x = x.copy()
    y = y.copy()
    for i in range(len(x)):
        if rng.random() < 0.5:
            x[i], y[i] = x[i, :, ::-1], y[i, :, ::-1]
        img = x[i, ..., 0] ** np.exp(rng.uniform(np.log(GAMMA[0]), np.log(GAMMA[1])))
        sigma = rng.uniform(*BLUR_SIGMA)
        if sigma > 0.25:
            img = gaussian_filter(img, sigma)
        img = img + rng.normal(0.0, rng.uniform(*NOISE_SD), img.shape)
        x[i, ..., 0] = np.clip(img, 0.0, 1.0)
    return x, y


class AugmentedImages(keras.utils.PyDataset):
    """Batches of the training images, each drawn afresh through :func:`augment_batch` every epoch."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        idx = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        return augment_batch(self.x[idx], self.y[idx], self.rng)

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.x))
