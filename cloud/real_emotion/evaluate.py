"""``evaluate_emotion(tflite, recordings)``: what can be checked of the emotion model without labels.

No real recording anywhere has stress or emotion labels, so on real recordings this measures:

* **invariance**: every real PPG and EDA scaled by x0.01 .. x100 (:data:`GAINS`), with an offset of
  three times its span, and sent through the wire as a band sends it (int16 frames of one second at a
  scale chosen from the data): no class probability may move by more than :data:`MAX_PROBABILITY_CHANGE`
  and no window whose top two classes are more than :data:`MARGIN` apart may change class. (A window
  at a near-tie can: the wire's rounding moves a borderline pulse peak, and the output by an int8
  step or two; such flips are counted and reported, not hidden);
* **saturation**: the share of windows whose top probability is at int8's rail (>= :data:`RAIL`);
  the 1.0.0 model sat at 0.996 on every real window (floor: at most :data:`MAX_SATURATED`);
* **distribution only**: the classes and mean probabilities the model gives real recordings. No
  label exists for them: these are not accuracies, and composites (channels of different real
  recordings put side by side, see :mod:`cloud.real_emotion.recordings`) are marked as such;
* **not analysed**: recordings lacking a channel are reported with the reason the edge gives
  ("emotion not analysed: no PPG") and no window is run.

The simulated accuracy floor is measured on the hold-out set shipped beside the model (and, when
asked, on freshly simulated subjects), so the whole evaluation needs nothing but the released
``.tflite`` and its metadata.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cloud.real_emotion.recordings import RealRecording, default_recordings, from_folder
from cloud.real_emotion.report import markdown
from cloud.real_emotion.sources import DEFAULT_CACHE
from cloud.real_eval import RealEvalResult
from firmware_sim.replay import DEVICE_RATES, resample
from iomt.wire.frames import int16_samples
from models.preprocessing import emotion
from models.preprocessing.emotion_quality import input_problem
from models.runtime import ModelRunner

#: Gains each real PPG and EDA is checked at (x0.01 .. x100, the issue's range).
GAINS = (0.01, 0.1, 10.0, 100.0)
#: The offset added with each gain, in units of the scaled channel's own span (a raw ADC channel).
OFFSET_SPANS = 3.0
#: A top probability at or above this is at int8's rail (the 1.0.0 model's 0.996).
RAIL = 0.99
#: Floors.
MAX_SATURATED = 0.05
MAX_FLIPS = 0
MAX_PROBABILITY_CHANGE = 0.05
#: A decision with its top two probabilities closer than this is a near-tie (its flips are not floored).
MARGIN = 0.1
SIMULATED_ACCURACY = 0.90
SIMULATED_STRESS_VS_NOT = 0.95
CHANNELS = ("ecg", "eda", "ppg")


def band_signals(rec: RealRecording, *, wire: bool) -> dict[str, np.ndarray]:
    """The recording's channels at the band's rates (as replay resamples them) and, with ``wire``,
    as they arrive after int16 frames of one second (:func:`iomt.wire.frames.int16_samples`)."""
    out = {}
    for channel, x in rec.signals.items():
        fs = DEVICE_RATES[channel]
        y = resample(np.asarray(x, dtype=np.float64)[:, None], rec.rates[channel], fs)[:, 0]
        if wire:
            n = int(fs)
            frames = [int16_samples(y[i : i + n]) for i in range(0, len(y), n)]
            y = np.concatenate([counts.astype(np.float32) * np.float32(scale) for counts, scale in frames])
        out[channel] = y.astype(np.float64)
    return out


def analysed_windows(signals: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str | None], np.ndarray]:
    """``(features of the analysed windows, verdict per window (None: analysed), window starts in s)``.

    As the edge does it: every :data:`~models.preprocessing.emotion.HOP_S`, a window whose channels
    fail :func:`~models.preprocessing.emotion_quality.input_problem` is not analysed and does not
    touch the baseline; the others are measured against the wearer's baseline in time order.
    """
    present = [signals[c] for c in CHANNELS if c in signals]
    seconds = min(len(x) / DEVICE_RATES[c] for c, x in signals.items()) if present else 0.0
    starts = np.arange(0.0, seconds - emotion.WINDOW_S + 1e-9, emotion.HOP_S)
    verdicts: list[str | None] = []
    cuts: dict[str, list[np.ndarray]] = {c: [] for c in CHANNELS}
    for t0 in starts:
        cut = {c: signals[c][int(t0 * DEVICE_RATES[c]) : int(t0 * DEVICE_RATES[c]) + int(emotion.WINDOW_S
                                                                                            * DEVICE_RATES[c])]
               for c in CHANNELS if c in signals}
        problem = input_problem(cut.get("ecg"), cut.get("eda"), cut.get("ppg"))
        verdicts.append(None if problem is None else problem.message)
        if problem is None:
            for c in CHANNELS:
                cuts[c].append(cut[c])
    if not cuts["ppg"]:
        return np.zeros((0, emotion.STEPS, emotion.FEATURES), np.float32), verdicts, starts
    ecg, eda, ppg = (np.stack(cuts[c]) for c in CHANNELS)
    rate = DEVICE_RATES
    measures = emotion.window_measures_many(ecg, rate["ecg"], eda, rate["eda"], ppg, rate["ppg"])
    baseline = emotion.SubjectBaseline()
    return np.stack([emotion.features(m, baseline.update(m)) for m in measures]), verdicts, starts


def _scaled(rec: RealRecording, gain: float, channels: tuple[str, ...]) -> RealRecording:
    signals = dict(rec.signals)
    for c in channels:
        if c in signals:
            y = signals[c] * gain
            signals[c] = y + OFFSET_SPANS * float(np.ptp(y))
    return RealRecording(rec.name, signals, rec.rates, rec.units, rec.sources, rec.composite, rec.notes)


def _distribution(probs: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    top = probs.max(axis=1) if len(probs) else np.zeros(0)
    pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    return {
        "windows": len(probs),
        "class_share": {c: float(np.mean(pred == i)) if len(pred) else 0.0 for i, c in enumerate(classes)},
        "mean_probability": {c: float(probs[:, i].mean()) if len(probs) else 0.0 for i, c in enumerate(classes)},
        "top_probability": {"median": float(np.median(top)) if top.size else None,
                            "max": float(top.max()) if top.size else None,
                            "share_at_rail": float(np.mean(top >= RAIL)) if top.size else 0.0},
    }


def evaluate_recording(runner: ModelRunner, rec: RealRecording) -> dict[str, Any]:
    """One real recording: outputs (distribution only), reasons for windows not analysed, invariance."""
    x, verdicts, _ = analysed_windows(band_signals(rec, wire=True))
    out: dict[str, Any] = {
        "recording": rec.name, "composite": rec.composite, "units": rec.units, "sources": list(rec.sources),
        "seconds": round(rec.seconds, 1), "labels": "none: distribution only",
        "not_analysed": dict(Counter(v for v in verdicts if v is not None)),
    }
    if not verdicts:
        out["note"] = f"shorter than one {emotion.WINDOW_S:g} s window: nothing to analyse"
    if not len(x):
        return out
    probs = runner.predict(x)
    pred = probs.argmax(axis=1)
    ranked = np.sort(probs, axis=1)
    clear = ranked[:, -1] - ranked[:, -2] > MARGIN
    out["outputs"] = _distribution(probs, runner.classes)
    plain, _, _ = analysed_windows(band_signals(rec, wire=False))
    p_plain = runner.predict(plain) if len(plain) == len(x) else None
    out["wire_vs_float_flips"] = int(np.sum(p_plain.argmax(axis=1) != pred)) if p_plain is not None else None
    checks = []
    for channels in (("ppg",), ("eda",), ("ppg", "eda")):
        for gain in GAINS:
            xs, _, _ = analysed_windows(band_signals(_scaled(rec, gain, channels), wire=True))
            if len(xs) != len(x):
                checks.append({"channels": list(channels), "gain": gain, "windows": len(x), "flips": len(x),
                               "clear_flips": len(x), "max_probability_change": 1.0,
                               "note": f"{len(xs)} windows analysed instead of {len(x)}"})
                continue
            ps = runner.predict(xs)
            flipped = ps.argmax(axis=1) != pred
            checks.append({"channels": list(channels), "gain": gain, "windows": len(x), "flips": int(flipped.sum()),
                           "clear_flips": int((flipped & clear).sum()),
                           "max_probability_change": float(np.abs(ps - probs).max())})
    out["invariance"] = checks
    return out


def simulated_holdout(runner: ModelRunner, tflite: Path) -> dict[str, Any] | None:
    """Accuracy of the int8 model on the hold-out windows shipped beside it (simulated subjects)."""
    hold = runner.metadata.holdout
    if hold is None or not (tflite.parent / hold.file).is_file():
        return None
    from cloud.metrics import classification_metrics, headline

    with np.load(tflite.parent / hold.file) as z:
        x, y = runner.input_spec.dequantize(z["x_int8"]), z["y"]
    m = classification_metrics(y, runner.predict(x), runner.classes)
    return {"data": "simulated held-out subjects (hold-out set shipped with the model)", "windows": len(y),
            **headline("emotion", m), "confusion": m["confusion"]}


def evaluate_emotion(
    tflite: Path, recordings: Sequence[RealRecording], *, simulated: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The report: real recordings (no labels: distribution, saturation, invariance, reasons not
    analysed) and simulated figures, each labelled, with every floor and whether it passed
    (``floors_pass``). ``simulated``: figures measured elsewhere on simulated subjects (e.g. the
    export's test split), reported beside the hold-out's."""
    tflite = Path(tflite)
    runner = ModelRunner(tflite)
    real = [evaluate_recording(runner, rec) for rec in recordings]
    analysed = [r for r in real if "outputs" in r]
    windows = sum(r["outputs"]["windows"] for r in analysed)
    checks = [c for r in analysed for c in r["invariance"]]
    flips = sum(c["flips"] for c in checks)
    clear_flips = sum(c["clear_flips"] for c in checks)
    moved = max((c["max_probability_change"] for c in checks), default=None)
    wire_flips = sum(r["wire_vs_float_flips"] or 0 for r in analysed)
    at_rail = sum(r["outputs"]["top_probability"]["share_at_rail"] * r["outputs"]["windows"] for r in analysed)
    hold = simulated_holdout(runner, tflite)
    measured = windows > 0
    floors: dict[str, dict[str, Any]] = {
        "real: largest class-probability change under PPG/EDA gain x0.01..x100 with offsets, through the wire": {
            "value": moved, "floor": MAX_PROBABILITY_CHANGE,
            "pass": moved <= MAX_PROBABILITY_CHANGE if measured and moved is not None else None},
        f"real: class flips under those gains where the top two classes are > {MARGIN} apart": {
            "value": clear_flips, "floor": MAX_FLIPS, "pass": clear_flips <= MAX_FLIPS if measured else None},
        "real: no class flip between the wire's int16 frames and float samples": {
            "value": wire_flips, "floor": MAX_FLIPS, "pass": wire_flips <= MAX_FLIPS if measured else None},
        f"real: share of windows with top probability >= {RAIL}": {
            "value": at_rail / windows if measured else None, "floor": MAX_SATURATED,
            "pass": at_rail / windows <= MAX_SATURATED if measured else None},
    }
    if hold is not None:
        floors["simulated hold-out: accuracy"] = {"value": hold["accuracy"], "floor": SIMULATED_ACCURACY,
                                                  "pass": hold["accuracy"] >= SIMULATED_ACCURACY}
        floors["simulated hold-out: stress vs not accuracy"] = {
            "value": hold["stress_vs_not_accuracy"], "floor": SIMULATED_STRESS_VS_NOT,
            "pass": hold["stress_vs_not_accuracy"] >= SIMULATED_STRESS_VS_NOT}
    return {
        "model": {"name": runner.name, "version": runner.version, "file": str(tflite),
                  "input": f"{runner.metadata.preprocessing.module} {runner.metadata.preprocessing.version}"},
        "real": {"labels": "none exist for any real source: distribution, saturation and invariance only",
                 "recordings": real, "windows_analysed": windows,
                 "invariance": {"checks": sum(c["windows"] for c in checks), "flips": flips,
                                "flips_at_near_ties": flips - clear_flips, "max_probability_change": moved}},
        "simulated": {"holdout": hold, **({"test_split": simulated} if simulated else {})},
        "floors": floors,
        # a floor that could not be measured (no real recording fetched) is reported as None, not failed
        "floors_pass": all(f["pass"] is not False for f in floors.values()),
    }


#: The floor that a run on real recordings measured something at all.
ANALYSED_FLOOR = "real: at least one 60 s window of ECG, EDA and PPG analysed"


def evaluate_real_emotion(
    tflite: Path, recordings: Path | None, report: Path, *, cache: Path = DEFAULT_CACHE
) -> RealEvalResult:
    """``iomt eval emotion [--recordings DIR]`` (:data:`cloud.real_eval.REAL_EVALUATORS`): :func:`evaluate_emotion`
    of the released ``tflite`` (and the hold-out set shipped beside it) on the CSV/WFDB recordings in
    ``recordings`` (:func:`~cloud.real_emotion.recordings.from_folder`), or, without a folder, on every
    recording fetched into ``cache`` (``scripts/fetch_real_emotion.sh``) and the composites they make.
    Writes ``real_eval.json`` and ``real_eval.md`` into ``report``.

    Its floors are those :func:`evaluate_emotion` could measure, and :data:`ANALYSED_FLOOR`: recordings
    none of whose windows could be analysed (no PPG, a clipped channel...) fail the run rather than pass
    it on nothing. Without a folder and with nothing fetched it raises :class:`ValueError` saying how to
    get recordings.
    """
    if recordings is not None:
        recs = from_folder(recordings)
    else:
        recs = default_recordings(cache)
        if not recs:
            raise ValueError(f"no real recording fetched into {cache}: run scripts/fetch_real_emotion.sh, "
                             "or name a folder of CSV/WFDB recordings")
    figures = evaluate_emotion(tflite, recs)
    windows = figures["real"]["windows_analysed"]
    figures["floors"][ANALYSED_FLOOR] = {"value": windows, "floor": 1, "pass": windows > 0}
    figures["floors_pass"] = all(f["pass"] is not False for f in figures["floors"].values())
    report.mkdir(parents=True, exist_ok=True)
    (report / "real_eval.json").write_text(json.dumps(figures, indent=2) + "\n")
    (report / "real_eval.md").write_text(markdown(figures))
    floors = {name: bool(f["pass"]) for name, f in figures["floors"].items() if f["pass"] is not None}
    return RealEvalResult("emotion", figures, floors)


def main(argv: list[str] | None = None) -> int:
    """``python -m cloud.real_emotion.evaluate [--model FILE] [--recordings DIR] [--report DIR]``: the same
    evaluation as ``iomt eval emotion`` (through :func:`cloud.real_eval.evaluate_real`); exit 0 when every
    floor held, 1 when one failed, 2 when there was nothing to evaluate."""
    import argparse
    import sys

    from cloud.real_eval import evaluate_real
    from models.runtime import released_paths

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model", type=Path, default=released_paths("emotion")[0], help="released .tflite")
    parser.add_argument("--recordings", type=Path, help="folder of CSV/WFDB recordings (default: the fetched cache)")
    parser.add_argument("--report", type=Path, default=Path("build/emotion_real_eval"))
    args = parser.parse_args(argv)
    try:
        result = evaluate_real("emotion", args.model, args.recordings, args.report)
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    sys.stdout.write(markdown(dict(result.figures)))
    sys.stdout.write("".join(f"FAILED floor: {name}\n" for name in result.failed_floors))
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
