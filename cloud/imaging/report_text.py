"""The imaging report's markdown (``models/imaging/report/report.md``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from models.segmentation_metrics import DETECTION_COVER

Fmt = Callable[..., str]

DEFINITIONS = f"""\
## Definitions

- Every figure is computed in the image's own pixels (128 x 128 here), after the model's 96 x 96 output
  is mapped back (`models.preprocessing.imaging`), and in millimetres with the image's own spacing (it
  travels in each imaging object's header).
- **HD95 is pooled, as MedPy's `hd95`**: the 95th percentile of all surface distances of both directions
  together (MONAI takes each direction's 95th percentile, then the larger). **HD** is the maximum.
  Surfaces are border pixels (mask minus its 4-connected erosion); distances are Euclidean between pixel
  centres (`scipy.ndimage.distance_transform_edt`, sampled with the spacing for mm). Checked against
  MedPy 0.5 on random masks (`tests/models/test_segmentation_metrics.py`).
- **Empty masks are never dropped**: both empty = Dice 1, IoU 1, HD 0; exactly one empty (a missed lesion or
  a false finding) = Dice 0, IoU 0, HD and HD95 = the image diagonal in px and mm. "with lesion" averages
  are over every image whose reference has a lesion, misses included.
- **Finding rule** (the edge's): pixels whose lesion probability (the mean of the model's output on the
  image and on its left-right mirror) >= threshold, 8-connected components of at least
  `min_area_model_px` pixels of the 96 x 96 model grid; confidence = mean probability in the component.
  **Image-level** sensitivity: images with a lesion where one is found; specificity: images without where
  none is. **Lesion-level** sensitivity: reference lesions (8-connected components) of which
  the prediction covers >= {DETECTION_COVER:.0%} (one pixel for lesions under 10 px).
"""


def _agg_table(agg: dict[str, Any], f: Fmt) -> list[str]:
    rows = ["| images | n | Dice mean / median / p95 | IoU mean | HD95 px mean / median | HD95 mm mean / median / p95 |"
            " HD mm mean / median |", "| --- " * 7 + "|"]
    for group in ("with_lesion", "without_lesion", "all"):
        g = agg[group]
        rows.append(
            f"| {group.replace('_', ' ')} | {g['images']} | {f(g['dice']['mean'])} / {f(g['dice']['median'])} /"
            f" {f(g['dice']['p95'])} | {f(g['iou']['mean'])} | {f(g['hd95_px']['mean'], digits=2)} /"
            f" {f(g['hd95_px']['median'], digits=2)} | {f(g['hd95_mm']['mean'], digits=2)} /"
            f" {f(g['hd95_mm']['median'], digits=2)} / {f(g['hd95_mm']['p95'], digits=2)} |"
            f" {f(g['hd_mm']['mean'], digits=2)} / {f(g['hd_mm']['median'], digits=2)} |")
    return rows


def _strata(strata: dict[str, dict[str, dict[str, float]]], f: Fmt) -> list[str]:
    rows = ["| by | group | images | found | mean Dice |", "| --- | --- | --- | --- | --- |"]
    for kind, groups in strata.items():
        for key, r in groups.items():
            dice = f(r["dice"]) if "dice" in r else "-"
            rows.append(f"| {kind} | {key} | {int(r['images'])} | {f(r['found'], pct=True)} | {dice} |")
    return rows


def _real(items: list[dict[str, Any]]) -> list[str]:
    rows = ["| image | size (h x w) | DICOM modality | spacing (mm) | lesions found | areas (px) | areas (mm²) |"
            " confidence |", "| --- " * 8 + "|"]
    for r in items:
        sp = "unknown" if r["spacing_mm"] is None else " x ".join(f"{v:.4g}" for v in r["spacing_mm"])
        rows.append(f"| {r['name']} | {r['shape'][0]} x {r['shape'][1]} | {r['modality'] or '-'} | {sp} |"
                    f" {r['lesions']} | {r['areas_px']} | {r['areas_mm2']} | {r['confidences']} |")
    return rows


def _visibility(m: dict[str, Any]) -> list[str]:
    v = m.get("visibility")
    if not v:
        return []
    return [f"Phantoms: only lesions a reader could see are drawn (the generator's visibility rule: lesion-scale"
            f" contrast-to-noise ratio >= {v['min_cnr']} and equivalent radius >= {v['min_radius_model_px']} px of"
            f" the model's input; test lesions' CNR {json.dumps(v['lesion_cnr']['test'])}). Invisible lesions are"
            " not drawn and so neither trained on nor scored: see `DATACARD.md`."]


def _decision(d: dict[str, Any] | None, f: Fmt) -> list[str]:
    """How the release's threshold was chosen, with the validation figures of each candidate."""
    if not d:
        return ["The release names no threshold: the finding rule's default applies."]
    rows = [f"| {r['threshold']:.2f} | {f(r['dice_with_lesion'])} | {f(r['sensitivity'], pct=True)} |"
            f" {f(r['specificity'], pct=True)} |" for r in d.get("candidates", ())]
    table = (["", "| threshold | Dice with a lesion | sensitivity | specificity |", "| --- | --- | --- | --- |", *rows]
             if rows else [])
    return ["", f"Threshold {d['threshold']:.2f}, chosen at export by: {d['chosen_on']} (SIMULATED validation"
            " devices; the test figures below were scored after the choice).", *table]


def _training(m: dict[str, Any], variant: str) -> list[str]:
    """The training runs' summaries, and where they come from; nothing is claimed without them."""
    logs = m.get("training") or {}
    if not logs:
        return ["No training log of this version was found (not in the work directory, nor in an earlier report"
                " of this version in the report directory), so how it was trained is not shown here."]
    source = m.get("training_source", "the work directory's training logs")
    backends = sorted({str(t.get("backend")) for t in logs.values()})
    return [f"From {source}:", "", "```json", json.dumps(logs, indent=2), "```", "",
            f"Trained with the {', '.join(backends)} backend.",
            *([] if len(logs) > 1 else
              [f"Only the {variant} variant (the released one) was trained for this version (CPU time)."])]


def _intervals(d: dict[str, Any], f: Fmt) -> list[str]:
    """The detection figures with their exact 95 % intervals (reports since these were recorded)."""
    if d.get("sensitivity_95ci") is None or d.get("specificity_95ci") is None:
        return []
    (sl, sh), (pl, ph) = d["sensitivity_95ci"], d["specificity_95ci"]
    return [f"Sensitivity {f(d['sensitivity'], pct=True)} (95 % exact interval {f(sl, pct=True)}-{f(sh, pct=True)},"
            f" {d['images_with_lesion']} images with a lesion), specificity {f(d['specificity'], pct=True)}"
            f" ({f(pl, pct=True)}-{f(ph, pct=True)}, {d['images_without_lesion']} without): a floor inside an"
            " interval is not told apart from it by this many images.", ""]


def render(m: dict[str, Any], caveat: str, floors: dict[str, float], f: Fmt) -> str:
    hf, hq = m["float"]["headline"], m["int8"]["headline"]
    recorded = m["float"].get("source") == "recorded at export"
    variant = m.get("variant", "edge")
    float_col = f"float (Keras, {variant} variant{'; recorded at export' if recorded else ''})"
    head = [f"| figure | {float_col} | int8 (LiteRT) |", "| --- | --- | --- |"]
    for key in hq:
        pct = key in ("sensitivity", "specificity", "lesion_sensitivity")
        head.append(f"| {key} | {f(hf[key], pct=pct)} | {f(hq[key], pct=pct)} |")
    checks = ["| check | value | pass |", "| --- | --- | --- |"]
    checks += [f"| {k} | {v['value']:.4f} | {'yes' if v['pass'] else '**NO**'} |" for k, v in m["checks"].items()]
    best = m["roc_int8"]["best_sensitivity_at_specificity_0.95"]
    auc = f(m["roc_int8"]["auc"], digits=4)
    roc_line = (f"Image-level ROC of the finding rule (sweeping its minimum area): AUC {auc};"
                " the best sensitivity at specificity >= 95 % is "
                + (f"{f(best[1], pct=True)} (specificity {f(best[2], pct=True)}, min area {best[0]:.1f} px)."
                   if best else "not reached."))
    full = ""
    for other in ("full", "edge"):
        if f"{other}_float" in m:
            fh = m[f"{other}_float"]["headline"]
            full = (f"\n## The {other} variant, not released (float, at the release's threshold)\n\nDice with lesion"
                    f" {f(fh['dice_with_lesion'])}, HD95 {f(fh['hd95_mm_with_lesion'], digits=2)} mm, sensitivity"
                    f" {f(fh['sensitivity'], pct=True)}, specificity {f(fh['specificity'], pct=True)}, lesion-level"
                    f" sensitivity {f(fh['lesion_sensitivity'], pct=True)}.\n")
    size = m["size"]
    missed = [k for k, v in m["checks"].items() if not v["pass"]]
    verdict = (f"**Below the issue's floors** (simulated held-out devices): {', '.join(missed)} not met."
               if missed else "All of the issue's floors are met (simulated held-out devices).")
    return "\n".join([
        f"# imaging {m['version']}: lesion segmentation report",
        "",
        caveat,
        "",
        verdict,
        "",
        f"Test split: {m['test_images']} images from {m['test_devices']} held-out simulated devices (ultrasound and"
        f" X-ray); dataset sha256 `{m['dataset_sha256'][:16]}…`. Floors: {floors}, int8 Dice within 0.02 of float.",
        f"Finding rule: {json.dumps(m['finding_rule'])}.",
        *_decision(m.get("decision"), f),
        *_visibility(m),
        "",
        "## Headline: float vs int8 (held-out simulated devices)",
        "",
        *head,
        "",
        *checks,
        "",
        f"int8 file {size['size_bytes']} bytes (float32 {size['float32_size_bytes']} bytes), {size['parameters']}"
        " parameters.",
        "",
        "## int8, per group of images",
        "",
        *_agg_table(m["int8"]["aggregate"], f),
        "",
        *(["Float (Keras) for comparison:", "", *_agg_table(m["float"]["aggregate"], f)] if "aggregate" in m["float"]
          else ["Float (Keras): the trained model is not in the work directory, so only the float headline"
                " recorded in the release's metadata at export is shown above."]),
        "",
        "## Detection (int8)",
        "",
        f"{json.dumps({k: v for k, v in m['int8']['aggregate']['detection'].items() if k != 'rule'})}",
        "",
        *_intervals(m["int8"]["aggregate"]["detection"], f),
        roc_line + " Figure: `roc.png`.",
        "",
        "## int8 by stratum (single-lesion images; lesion-free images by artefact)",
        "",
        *_strata(m["strata_int8"], f),
        full,
        "## Training",
        "",
        *_training(m, variant),
        "",
        "## Figures",
        "",
        "- `simulated_examples.png`: SIMULATED held-out images, reference outline green, int8 prediction red.",
        "- `real_examples.png`: REAL ultrasound images (no reference), int8 findings in red.",
        "- `roc.png`: SIMULATED, image-level ROC of the finding rule.",
        "",
        "## Real ultrasound images (no masks exist: outputs shown, no accuracy claimed)",
        "",
        *_real(m.get("real_images", [])),
        "",
        DEFINITIONS,
    ])
