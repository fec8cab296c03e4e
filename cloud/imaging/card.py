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
- **Lesions nobody could see.** The generator draws only lesions that meet its visibility rule
  (above): isoechoic lesions, lesions whose contrast is below what the speckle or the overlapping
  anatomy lets a reader see (e.g. a faint nodule behind the heart), and lesions under ~3.5 px of radius
  in the model's 96-px input (~4.7 px of a 128-px image) are **not drawn**, so the model is neither
  trained nor scored on them. Real images have such lesions; the model will miss them, as a reader
  would, and these figures say nothing about them.
- **Annotation variability.** Masks are exact; real masks differ between readers by several pixels at
  the boundary, so real Dice and HD95 would be bounded by inter-reader agreement.
- **Prevalence.** About 60 % of images show a lesion (1-3); real screening has far fewer.

So the figures measured on held-out simulated devices show that the model learned to segment what the
generator draws under unseen scanner settings, and that int8 kept it. They are no evidence of
performance on real images. The real ultrasound images in the report have no masks: their outputs are
shown, and no accuracy is claimed for them. None of them was used for training or tuning.

## Real images the report shows (outputs only)

- pydicom's test files (shipped in the pydicom wheel, `pydicom.data`), 5 images: `examples_rgb_color.dcm`,
  `examples_palette.dcm`, `examples_jpeg2k.dcm`, `ExplVR_BigEnd.dcm`, `examples_ybr_color.dcm` (first frame).
- itk-pocus 0.3.2's test data, 9 images from Butterfly, Clarius, Interson, Sonoque and SonoSite
  point-of-care probes (PNG, JPEG, DICOM): `scripts/fetch_real_images.sh` takes them from the PyPI sdist
  into `build/real/itk-pocus/`.
"""


def _visibility(card: dict[str, Any]) -> list[str]:
    v = card.get("visibility")
    if not v:
        return []
    return [
        "",
        "## Visibility rule: what is not drawn",
        "",
        f"Every lesion drawn has a contrast-to-noise ratio at its own scale of at least {v['min_cnr']} and an"
        f" equivalent radius of at least {v['min_radius_model_px']} px in the model's input grid"
        " (`firmware_sim/imaging/visibility.py`): on the image as the model receives it (shared preprocessing),"
        " |mean inside the lesion - mean of a ring around it| over the standard deviation, across the ring, of"
        " the surroundings smoothed at the lesion's scale (Gaussian, sigma = half its radius). Averaging over"
        " the lesion's size is what a reader's eye does: speckle finer than the lesion averages out, texture,"
        " shadows and anatomy as large as it do not. An image with a lesion below the rule is drawn again"
        " (faint lesions that happen to be visible stay: the rule cuts the invisible ones, not the faint ones;"
        " electrodes, reflectors and calipers that look like lesions stay on images with and without one).",
        "",
        f"- Lesion CNR drawn (min / median / max): {json.dumps(v['lesion_cnr'])}",
        f"- By appearance: {json.dumps(v['lesion_cnr_by_appearance'])}",
        "- The rule removes more faint X-ray nodules and subtle ultrasound lesions than others (they are more"
        " often invisible): the appearance counts above are the mix that remains.",
    ]


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
        " overlay habits); no device of the test split was seen in training."
        + (f" The last {card['generation']['extra_train_devices']} devices are simulated for training only"
           " (more scanners to learn from; the validation and test devices are those of the split without them)."
           if card["generation"].get("extra_train_devices") else ""),
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
        *_visibility(card),
        "",
        LIMITS,
    ])
