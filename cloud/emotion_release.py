"""Train, export and evaluate the emotion model on simulated and real recordings in one run.

``python -m cloud.emotion_release [--profile release|smoke] [--workdir build/emotion_cloud] [--out DIR]``
(``--out`` defaults to build/emotion_eval; ``--out models`` releases the model):

1. builds (or loads the cached) augmented simulated dataset (:mod:`cloud.emotion_augment`);
2. trains the edge variant (:func:`cloud.train.train`, TensorFlow on the CPU);
3. exports the int8 ``.tflite`` with its metadata into ``<out>/emotion/`` through
   :func:`cloud.export.export` (``--out models`` releases it);
4. writes the float vs int8 report on the held-out simulated subjects (:func:`cloud.report.evaluate`)
   and evaluates the int8 model on every fetched real recording (:func:`cloud.real_emotion.evaluate.
   evaluate_emotion`: no labels exist, so invariance, saturation and the output distribution), adding a
   real-data section to ``report.md`` and ``real_eval.json``, and the real sources to the data card.

The run exits 1 when a floor fails: the simulated floors of :data:`cloud.metrics.FLOORS` and the
invariance and saturation floors of :mod:`cloud.real_emotion.evaluate`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from cloud.real_emotion.report import markdown

log = logging.getLogger(__name__)

VERSION = "1.1.0"


def run(profile_kind: str, workdir: Path, out: Path, *, version: str = VERSION, epochs: int | None = None,
        rebuild: bool = False, cache: Path | None = None) -> dict[str, Any]:
    from cloud.device import configure

    configure("cpu")
    from cloud.export import export, load_trained
    from cloud.pipeline import dataset_for
    from cloud.profiles import profile
    from cloud.real_emotion.evaluate import evaluate_emotion
    from cloud.real_emotion.recordings import default_recordings
    from cloud.real_emotion.sources import DEFAULT_CACHE
    from cloud.report import evaluate
    from cloud.train import train

    _, settings = profile(profile_kind, "emotion")
    if epochs:
        settings = replace(settings, epochs=epochs)
    ds = dataset_for("emotion", profile_kind, workdir, rebuild)
    summary = train("emotion", "edge", ds, workdir, settings)
    meta = export("emotion", ds, workdir, out, version=version, variant="edge")
    report_dir = out / "emotion" / "report"
    extra = {"training": {"edge": {k: summary[k] for k in ("backend", "parameters", "epochs_run", "seconds")}}}
    metrics = evaluate("emotion", ds, load_trained(workdir, "emotion", "edge"), out, report_dir, extra)
    recs = default_recordings(cache or DEFAULT_CACHE)
    if not recs:
        log.warning("no real recordings fetched (scripts/fetch_real_emotion.sh): simulated figures only")
    real = evaluate_emotion(out / "emotion" / "emotion.tflite", recs,
                            simulated={"data": "simulated held-out subjects (test split)",
                                       **metrics["int8"]["headline"]})
    real["simulated_checks"] = meta["metrics"]["checks"]
    real["floors_pass"] = real["floors_pass"] and all(c["pass"] for c in meta["metrics"]["checks"].values())
    (report_dir / "real_eval.json").write_text(json.dumps(real, indent=2) + "\n")
    with (report_dir / "report.md").open("a") as md:
        md.write("\n" + markdown(real))
    with (out / "emotion" / "DATACARD.md").open("a") as card:
        card.write("\n" + sources_markdown(bool(recs)))
    return real


def sources_markdown(fetched: bool) -> str:
    from cloud.real_emotion.sources import LEFT_OUT, SOURCES

    lines = ["## Real recordings", "",
             "Training used **no** real recording: no real source has stress or emotion labels. Real recordings "
             "were used for evaluation only (invariance to units, saturation, output distribution; see "
             "`report/report.md`) and to check the 'not analysed' rule's clipping threshold"
             + ("" if fetched else " (none was fetched for this run)") + ".", "",
             "| source | files | what | units | licence | use |", "| --- | --- | --- | --- | --- | --- |"]
    for s in SOURCES:
        files = ", ".join(f"`{m.split('/')[-1]}`" for m in s.members)
        lines.append(f"| `{s.package}=={s.version}` ({s.dist}) | {files} | {s.what} | {s.units} | {s.licence} | "
                     "evaluation only |")
    lines += ["", "Left out:", ""] + [f"- {k}: {v}" for k, v in LEFT_OUT.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=("release", "smoke"), default="release")
    parser.add_argument("--workdir", type=Path, default=Path("build/emotion_cloud"))
    parser.add_argument("--out", type=Path, default=Path("build/emotion_eval"), help="'models' releases it")
    parser.add_argument("--version", default=VERSION)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--rebuild-data", action="store_true")
    parser.add_argument("--cache", type=Path, help="real recordings (scripts/fetch_real_emotion.sh; build/real_data)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    report = run(args.profile, args.workdir, args.out, version=args.version, epochs=args.epochs,
                 rebuild=args.rebuild_data, cache=args.cache)
    sys.stdout.write(markdown(report))
    return 0 if report["floors_pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
