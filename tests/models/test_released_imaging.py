"""The released imaging model: loads in LiteRT, matches its metadata, re-evaluates to the recorded result on
its hold-out images, records its floor checks truthfully and reports each floor it misses, and runs on the
edge's code path (simulated phantoms of a device it never saw, and a real ultrasound image, whose output is
only checked to be well-formed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from edge.imaging_pipeline import ImagingPipeline
from firmware_sim.imaging import draw_scanner, render_phantom
from iomt.wire.chunks import Image, decode_image, encode_image
from iomt.wire.masks import decode_rle
from models.preprocessing import imaging as prep
from models.runtime import ModelRunner, released_paths, sha256_file
from models.segmentation_metrics import score_image

MAX_BYTES = 300 * 1024


@pytest.fixture(scope="module")
def runner() -> ModelRunner:
    return ModelRunner.released("imaging")


def test_released_imaging_model_matches_its_metadata_and_holdout(runner: ModelRunner) -> None:
    tflite, meta_path = released_paths("imaging")
    meta = json.loads(meta_path.read_text())
    assert runner.input_spec.shape == (1, 96, 96, 1) and runner.output_spec.shape == (1, 96, 96, 2)
    assert runner.input_spec.dtype == "int8" and runner.output_spec.dtype == "int8"
    assert meta["preprocessing"] == {"module": "models.preprocessing.imaging", "version": prep.INPUT_VERSION}
    assert meta["sha256"] == sha256_file(tflite) and tflite.stat().st_size == meta["size_bytes"] <= MAX_BYTES
    assert meta["parameters"] < 200_000 and meta["training_data"]["simulated"] is True  # compact (full: 388 k)
    hold = meta["holdout"]
    hold_path = tflite.with_name(hold["file"])
    assert sha256_file(hold_path) == hold["sha256"]
    with np.load(hold_path) as z:
        xq, y = z["x_int8"], z["y"]
    assert len(y) == hold["windows"] and y.shape[1:] == (96, 96)
    pred = runner.predict(runner.input_spec.dequantize(xq)).argmax(axis=-1).astype(np.int64)
    assert hashlib.sha256(pred.tobytes()).hexdigest() == hold["int8_predictions_sha256"]
    assert float(np.mean(pred == y)) == pytest.approx(hold["int8_accuracy"], abs=1e-9)


def test_released_imaging_model_kept_its_float_dice_in_int8() -> None:
    meta = json.loads(released_paths("imaging")[1].read_text())
    (key,) = [k for k in meta["metrics"]["checks"] if k.startswith("int8 dice_with_lesion within")]
    assert meta["metrics"]["checks"][key]["pass"]


#: The issue's floors on held-out simulated images, written here independently of cloud.imaging.evaluation so
#: that a release cannot pass its own checks by lowering them.
ISSUE_FLOORS = {"dice_with_lesion": 0.85, "sensitivity": 0.95, "specificity": 0.95}
INT8_DICE_TOLERANCE = 0.02


def test_the_release_records_its_floors_truthfully_and_reports_each_one_it_misses() -> None:
    """A floor the release misses is neither asserted-and-xfailed nor counted as passing: its check must
    say ``pass: false`` (recomputed here from the recorded int8 and float figures), the model's report must
    show it as missed (``**NO**``), and the README must say the release is below the issue's floors.
    Imaging 1.0.0 missed the Dice, sensitivity and specificity floors (simulated held-out devices); the
    current release's misses, if any, are in its metadata and report."""
    tflite, meta_path = released_paths("imaging")
    meta = json.loads(meta_path.read_text())
    metrics = meta["metrics"]
    checks, int8, flt = metrics["checks"], metrics["int8"], metrics["float"]
    expected = {f"{key} >= {floor}": {"value": int8[key], "pass": int8[key] >= floor}
                for key, floor in ISSUE_FLOORS.items()}
    diff = int8["dice_with_lesion"] - flt["dice_with_lesion"]
    expected[f"int8 dice_with_lesion within {INT8_DICE_TOLERANCE} of float"] = {
        "value": pytest.approx(diff, abs=1e-12), "pass": abs(diff) <= INT8_DICE_TOLERANCE}
    assert checks == expected

    report = (tflite.parent / "report" / "report.md").read_text()
    assert report.startswith(f"# imaging {meta['version']}:") and "**simulated**" in report
    for name, check in checks.items():
        assert f"| {name} | {check['value']:.4f} | {'yes' if check['pass'] else '**NO**'} |" in report
    missed = [name for name, check in checks.items() if not check["pass"]]
    assert ("**Below the issue's floors**" in report) == bool(missed)
    assert all(name in report.split("\n\n")[2] for name in missed)  # named in the verdict under the caveat

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (paragraph,) = [p for p in readme.split("\n\n") if p.startswith(f"Imaging {meta['version']} (")]
    assert ("**below the issue's floors**" in paragraph) == bool(missed), paragraph
    assert "simulated" in paragraph


def test_the_edge_stage_segments_phantoms_of_an_unseen_device(runner: ModelRunner) -> None:
    """A new device (seed never used for the data set), through the wire codec and the edge's stage."""
    rng = np.random.default_rng(20_261_130)
    stage = ImagingPipeline("site", "edge-t", per_cycle=100, budget_ms=1e9)
    truth = {}
    for seq in range(16):
        scanner = draw_scanner(rng, ("ultrasound", "xray")[seq % 2])
        p = render_phantom(rng, scanner, 128, lesion=seq % 4 != 0)
        image = decode_image(encode_image(Image(seq, 1_000 + seq, p.image, p.spacing_mm)))
        stage.submit(f"dev-{seq % 2}", image, arrival_ns=0)
        truth[seq] = p
    events = [e for e, _ in stage.cycle(runner)]
    assert len(events) == 16 and {e.model_version for e in events} == {runner.version}
    dice = []
    for e in events:
        p = truth[e.detail["image_seq"]]
        mask = decode_rle(e.detail["mask_rle"], e.detail["shape"])
        s = score_image(mask, p.mask, p.spacing_mm)
        if p.has_lesion:
            dice.append(s.dice)
    # a loose check on 12 images (the figures are measured on 640 at export): the model found lesions
    # (predicting no lesion anywhere scores 0 here; 1.3.0 averages 0.81 on the held-out devices)
    assert float(np.mean(dice)) > 0.2


def test_a_real_ultrasound_image_gives_a_well_formed_event(runner: ModelRunner) -> None:
    from pydicom.data import get_testdata_file

    from firmware_sim.image_files import load_images

    (im,) = load_images(Path(get_testdata_file("examples_jpeg2k.dcm")))
    stage = ImagingPipeline("site", "edge-t")
    stage.submit("us-real", Image(0, 1, im.pixels, im.spacing_mm), arrival_ns=0)
    ((event, _),) = stage.cycle(runner)
    assert event.label in ("lesion", "no_lesion") and event.detail["shape"] == [480, 640]
    mask = decode_rle(event.detail["mask_rle"], event.detail["shape"])
    assert mask.sum() == event.detail["area_px"]


def test_the_imaging_bench_times_the_stage_against_the_invoke_alone(tmp_path: Path) -> None:
    from iomt_app.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", "imaging", "--images", "6", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    stage, invoke = result["simulated_128px"]["stage"], result["simulated_128px"]["invoke_only_baseline"]
    assert stage["n"] == invoke["n"] == 6 and stage["mean_ms"] > 0 and invoke["mean_ms"] > 0
    assert result["derived"]["images_per_s"] == pytest.approx(1000 / 600, abs=1e-3)
