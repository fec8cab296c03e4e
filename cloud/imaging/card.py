"""The data card of the segmentation model's data set (``models/imaging/DATACARD.md``)."""

from __future__ import annotations

import json
from typing import Any

LIMITS = """\
## What it cannot learn from phantoms

The phantoms vary everything the generator knows about; the model cannot learn what the generator
does not know. In particular:

- **Real anatomy and pathology.** Lesions here are star-shaped outlines with a chosen contrast on
  layered or lung-shaped backgrounds. Real lesions (cysts, fibroadenomas, carcinomas, nodules,
  metastases) have appearances tied to their tissue, with mimics (vessels, lymph nodes, fat lobules,
  bowel, ducts, ribs end-on) that the phantoms do not draw. There is no benign/malignant label.
- **Real acoustics and projections.** Speckle here is correlated Rayleigh noise on an echogenicity map;
  there is no beam-forming, side lobes, refraction, harmonic imaging, compounding, clutter or motion.
  X-ray phantoms have no real 3-D anatomy overlapping (vessels, hila, breast shadows, scapulae), no
  scatter or grid lines and no processing of a vendor.
- **The probes and settings of real devices.** Spacing, field of view, gain and overlays are drawn from
  ranges, not from the devices in use; colour Doppler, split screens, M-mode and cine loops are absent.
  Real images are reduced to grayscale (their luminance) before the model sees them.
- **Annotation variability.** Masks are exact; real masks differ between readers by several pixels at
  the boundary, so real Dice and HD95 would be bounded by inter-reader agreement.
- **Prevalence.** About 60 % of images show a lesion (1-3); real screening has far fewer.

So the figures measured on held-out simulated devices show that the model learned to segment what the
generator draws under unseen scanner settings, and that int8 kept it. They are no evidence of
performance on real images. The real ultrasound images in the report (pydicom's and itk-pocus'
samples) have no masks: their outputs are shown, and no accuracy is claimed for them.
"""


def card_markdown(card: dict[str, Any]) -> str:
    rows = ["| split | devices | images | with lesion | without | lesions | ultrasound | X-ray |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s, n in card["windows"].items():
        c, m = card["class_counts"][s], card["modalities"][s]
        rows.append(f"| {s} | {len(card['subjects'][s])} | {n} | {c['lesion']} | {c['background']} |"
                    f" {card['lesions'][s]} | {m['ultrasound']} | {m['xray']} |")
    return "\n".join([
        f"# Data card: {card['dataset']}",
        "",
        f"- Source: `{card['source']}`, generation {json.dumps(card['generation'])}. Every image is simulated:"
        " no real patient image is in this data set and no real image was used for training, tuning or testing.",
        f"- Preprocessing: `{card['preprocessing']['module']}` version {card['preprocessing']['version']}"
        " (the same code the edge runs).",
        f"- Split by {card['split_by']}: each simulated device draws its scanner once (field of view and so"
        " pixel spacing, probe geometry, speckle grain or blur, noise, gain, gamma, depth gain, vignetting,"
        " overlay habits); no device of the test split was seen in training.",
        f"- `class_counts` in the model metadata count {card['class_counts_meaning']}.",
        f"- sha256 of the arrays and parameters: `{card['sha256']}`",
        "",
        *rows,
        "",
        "## What varies",
        "",
        f"- Lesion shapes: {json.dumps(card['lesion_shapes'])}",
        f"- Lesion appearances: {json.dumps(card['lesion_appearances'])} (ultrasound: hypo-, an-,"
        " hyperechoic or subtle with a rim or halo, with acoustic shadowing or enhancement or neither;"
        " X-ray: dense or faint nodules)",
        f"- Lesion equivalent radius (px of a {card['generation']['size']}-px image):"
        f" {json.dumps(card['lesion_radius_px'])}",
        f"- Row pixel spacing (mm): {json.dumps(card['spacing_mm'])}",
        f"- Artefacts (images carrying each): {json.dumps(card['artefacts'])}. Reflectors with shadows,"
        " electrodes, text and calipers are drawn as often on images without a lesion as with one.",
        "",
        LIMITS,
    ])
