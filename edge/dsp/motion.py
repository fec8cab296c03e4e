"""Motion windows for the fall model: the impact screen and the model input, over arrays of many windows.

A window without an impact-like peak (|acc| above the screen) or a free-fall dip cannot hold a
fall, so only screened windows reach the model. Windows of one shape are checked, and their model
inputs assembled (:func:`models.preprocessing.motion.motion_channels_many`, shared with training),
in one numpy pass each.
"""

from __future__ import annotations

import numpy as np

from edge.dsp.quality import SignalProblem, motion_quality_many
from models.preprocessing.motion import WINDOW, motion_channels_many

#: |acc| (g) below which a window holds a free-fall dip (it passes the screen whatever its peak).
FREE_FALL_G = 0.6

#: One window's accelerometer samples ``(n, 3)`` in g and their rate, and the gyroscope's (or ``None``).
MotionSamples = tuple[np.ndarray, float, np.ndarray | None, float | None]


def screen_windows(
    windows: list[np.ndarray], screen_g: float | None
) -> tuple[list[SignalProblem | None], list[bool], list[int]]:
    """For accelerometer windows ``(n, 3)`` in g: the quality problem of each, whether the impact
    screen rules it out (no |acc| above ``screen_g`` and no free-fall dip below
    :data:`FREE_FALL_G`; ``None``: nothing is ruled out), and the sample index of its largest |acc|.

    Windows of one length are checked together, in one numpy pass.
    """
    problems: list[SignalProblem | None] = [None] * len(windows)
    quiet = [False] * len(windows)
    peaks = [0] * len(windows)
    by_length: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_length.setdefault(w.shape[0], []).append(i)
    for rows in by_length.values():
        stack = np.stack([windows[i] for i in rows])
        magnitude = acc_magnitude(stack)
        found = motion_quality_many(stack)
        if screen_g is None:
            ruled_out = [False] * len(rows)
        else:
            ruled_out = ((magnitude.max(axis=1) < screen_g) & (magnitude.min(axis=1) > FREE_FALL_G)).tolist()
        for i, problem, out, peak in zip(rows, found, ruled_out, magnitude.argmax(axis=1).tolist(), strict=True):
            problems[i], quiet[i], peaks[i] = problem, out, peak
    return problems, quiet, peaks


def acc_magnitude(windows: np.ndarray) -> np.ndarray:
    """``|acc|`` of ``(k, n, channels)`` windows: ``np.linalg.norm(w, axis=-1)`` of each, to the bit
    (squares summed channel after channel, as numpy sums a short axis), without numpy's slow
    reduction over a short inner axis."""
    by_channel = np.ascontiguousarray(np.moveaxis(windows, -1, 0))
    total = by_channel[0] * by_channel[0]
    for channel in by_channel[1:]:
        total = total + channel * channel
    return np.sqrt(total)


def model_inputs(windows: list[MotionSamples]) -> list[np.ndarray | None]:
    """The fall model's input (:data:`~models.preprocessing.motion.WINDOW` samples of accelerometer and
    gyroscope channels; zeros where there is no gyroscope) of each window, ``None`` where the samples
    give fewer than ``WINDOW``: one :func:`~models.preprocessing.motion.motion_channels_many` call per
    combination of rates and lengths."""
    groups: dict[tuple[float, float | None, int, int], list[int]] = {}
    for i, (acc, acc_hz, gyro, gyro_hz) in enumerate(windows):
        groups.setdefault((acc_hz, gyro_hz, acc.shape[0], 0 if gyro is None else gyro.shape[0]), []).append(i)
    inputs: list[np.ndarray | None] = [None] * len(windows)
    for (acc_hz, gyro_hz, _, _), rows in groups.items():
        acc = np.stack([windows[i][0] for i in rows])
        gyros = [g for i in rows if (g := windows[i][2]) is not None]
        gyro = np.stack(gyros) if gyros else None  # a group has a gyroscope rate or none at all
        channels = motion_channels_many(acc, acc_hz, gyro, gyro_hz)[:, -WINDOW:]
        if channels.shape[1] == WINDOW:
            for i, row in zip(rows, channels, strict=True):
                inputs[i] = row
    return inputs
