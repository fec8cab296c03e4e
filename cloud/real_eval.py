"""Real-recording evaluation of a *released* model: one entry per model, each reading only the
released ``.tflite`` (no trained float model needed) and real recordings (a folder the user names, or
the default cache filled by the fetch scripts).

Each model's evaluator lives in its own module and is registered here by a small wrapper that
imports it lazily, so that ``iomt eval`` does not load every model's dependencies. An evaluator
returns its figures and, for every floor of the release, whether it held; ``iomt eval`` exits
non-zero when one did not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RealEvalResult:
    """What one real-recording evaluation found."""

    model: str
    #: Figures as written to ``report/real_eval.json`` (every figure says it comes from real recordings).
    figures: Mapping[str, Any]
    #: Floor name -> whether it held in this run.
    floors: Mapping[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(self.floors.values())

    @property
    def failed_floors(self) -> list[str]:
        return [name for name, ok in self.floors.items() if not ok]


#: (released .tflite, recordings folder or None for the default cache, report folder) -> result.
#: An evaluator may take keyword options of its own (the fall one: the units of the recordings);
#: :func:`evaluate_real` passes them only when the caller gave some.
RealEvaluator = Callable[..., RealEvalResult]


def _fall(tflite: Path, recordings: Path | None, report: Path, **options: Any) -> RealEvalResult:
    from cloud.fall_real_eval import evaluate

    return evaluate(tflite, recordings, report, **options)


def _ecg(tflite: Path, recordings: Path | None, report: Path) -> RealEvalResult:
    from cloud.real_ecg.release_eval import evaluate_release

    return evaluate_release(tflite, recordings, report)


def _emotion(tflite: Path, recordings: Path | None, report: Path) -> RealEvalResult:
    from cloud.real_emotion.evaluate import evaluate_real_emotion

    return evaluate_real_emotion(tflite, recordings, report)


#: Model name -> its evaluator; each model's owner adds one wrapper and one entry.
REAL_EVALUATORS: dict[str, RealEvaluator] = {
    "fall": _fall,
    "ecg": _ecg,
    "emotion": _emotion,
}


def evaluate_real(
    model: str, tflite: Path, recordings: Path | None, report: Path, options: Mapping[str, Any] | None = None
) -> RealEvalResult:
    """Run ``model``'s real-recording evaluation, or say which models have one."""
    try:
        evaluator = REAL_EVALUATORS[model]
    except KeyError:
        known = ", ".join(sorted(REAL_EVALUATORS)) or "none yet"
        raise ValueError(f"no real-recording evaluation for model {model!r}; models with one: {known}") from None
    given = {k: v for k, v in (options or {}).items() if v is not None}
    return evaluator(tflite, recordings, report, **given) if given else evaluator(tflite, recordings, report)
