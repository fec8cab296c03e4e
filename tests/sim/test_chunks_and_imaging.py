"""Chunked payloads and imaging phantoms."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_sim.imaging import MODALITIES, draw_scanner, mask_bbox, mask_rle, phantom, render_phantom, rle_mask
from iomt.wire.chunks import IMAGE_HEADER_V1, Image, Reassembler, decode_chunk, decode_image, encode_image, split
from iomt.wire.errors import DecodeError
from iomt.wire.masks import decode_rle, encode_rle


@given(st.binary(min_size=0, max_size=20_000), st.integers(1, 5000), st.randoms())
def test_split_and_reassemble_in_any_order_with_duplicates(obj: bytes, size: int, rnd) -> None:
    chunks = split(obj, 7, size)
    assert all(len(decode_chunk(c).data) <= size for c in chunks)
    shuffled = chunks + chunks[: len(chunks) // 2]
    rnd.shuffle(shuffled)
    r = Reassembler()
    results = [r.add("dev", c) for c in shuffled]
    done = [x for x in results if x is not None]
    assert done[0] == obj


def test_corruption_and_garbage_are_rejected_naming_the_field() -> None:
    chunks = split(bytes(range(256)) * 10, 1, 1000)
    bad = chunks[1][:-1] + bytes([chunks[1][-1] ^ 1])
    r = Reassembler()
    r.add("d", chunks[0])
    r.add("d", bad)
    with pytest.raises(DecodeError) as err:
        r.add("d", chunks[2])
    assert err.value.field == "crc32"
    with pytest.raises(DecodeError) as err:
        decode_chunk(b"XX" + chunks[0][2:])
    assert err.value.field == "magic"
    with pytest.raises(DecodeError) as err:
        decode_chunk(b"IC")
    assert err.value.field == "header"


def test_reassembler_bounds_partial_objects() -> None:
    r = Reassembler(max_partial=3)
    for i in range(10):
        r.add("d", split(b"x" * 100, i, 10)[0])
    assert r.dropped == 7


def test_image_codec_round_trip() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (32, 48), dtype=np.uint8)
    back = decode_image(encode_image(Image(5, 1_764_000_000_000_000, pixels)))
    assert back.seq == 5 and back.t_us == 1_764_000_000_000_000
    np.testing.assert_array_equal(back.pixels, pixels)
    with pytest.raises(DecodeError):
        decode_image(encode_image(Image(5, 0, pixels))[:-1])


def test_image_spacing_travels_with_the_image_and_version_1_still_decodes() -> None:
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    back = decode_image(encode_image(Image(9, 7, pixels, (0.262, 0.3))))
    assert back.spacing_mm == (0.262, 0.3)
    assert decode_image(encode_image(Image(9, 7, pixels))).spacing_mm is None
    v1 = IMAGE_HEADER_V1.pack(b"IG", 1, 1, 4, 3, 9, 7) + pixels.tobytes()
    old = decode_image(v1)
    assert old.seq == 9 and old.spacing_mm is None
    np.testing.assert_array_equal(old.pixels, pixels)


@pytest.mark.parametrize("spacing", [(0.3, 0.0), (-1.0, 0.5), (float("nan"), 0.5), (2000.0, 1.0)])
def test_an_impossible_spacing_is_refused_naming_the_field(spacing: tuple[float, float]) -> None:
    pixels = np.zeros((2, 2), np.uint8)
    with pytest.raises(DecodeError) as info:
        encode_image(Image(1, 0, pixels, spacing))
    assert info.value.field == "spacing"
    raw = bytearray(encode_image(Image(1, 0, pixels, (0.5, 0.5))))
    struct.pack_into("<ff", raw, 20, *spacing)
    with pytest.raises(DecodeError) as info:
        decode_image(bytes(raw))
    assert info.value.field == "spacing"


def _around(mask: np.ndarray, width: int = 4) -> np.ndarray:
    from scipy import ndimage

    return np.asarray(ndimage.binary_dilation(mask, iterations=width) & ~ndimage.binary_dilation(mask, iterations=1))


@pytest.mark.parametrize("modality", MODALITIES)
def test_lesions_are_where_the_mask_says_and_look_as_their_truth_says(modality: str) -> None:
    rng = np.random.default_rng(4)
    seen = set()
    for _ in range(40):
        p = render_phantom(rng, draw_scanner(rng, modality), 128, lesion=True, n_lesions=1)
        if not p.has_lesion:
            continue
        assert p.image.dtype == np.uint8 and p.image.shape == (128, 128) and p.mask.shape == (128, 128)
        (info,) = p.lesions
        seen.add((info.shape, info.appearance))
        assert info.area_px == int(p.mask.sum()) >= 12
        inside, around = p.image[p.mask].astype(float).mean(), p.image[_around(p.mask)].astype(float).mean()
        if info.appearance in ("hypo", "anechoic") and info.posterior != "enhancement":
            assert inside < around, info
        if info.appearance in ("hyper", "dense"):
            assert inside > around, info
        np.testing.assert_array_equal(rle_mask(mask_rle(p.mask), p.mask.shape), p.mask)
    assert len({s for s, _ in seen}) == 4  # every shape drawn
    assert len({a for _, a in seen}) >= 2


def test_phantoms_vary_in_size_count_spacing_and_artefacts_and_some_have_no_lesion() -> None:
    rng = np.random.default_rng(11)
    phantoms = []
    for i in range(60):
        modality = MODALITIES[i % 2]
        phantoms.append(render_phantom(rng, draw_scanner(rng, modality), 128, lesion=i % 3 != 0))
    radii = [info.radius_px for p in phantoms for info in p.lesions]
    assert min(radii) < 6 and max(radii) > 12
    assert {len(p.lesions) for p in phantoms} >= {0, 1, 2}
    assert len({p.spacing_mm for p in phantoms}) == len(phantoms)  # one scanner each here
    artefacts = {a for p in phantoms for a in p.artefacts}
    assert {"text", "calipers", "vignetting", "depth_gain"} <= artefacts
    without = [p for p in phantoms if not p.lesions]
    assert len(without) >= 20 and not any(p.mask.any() for p in without)
    assert any("calipers" in p.artefacts for p in without)  # overlays are no lesion cue


def test_the_compatible_phantom_call_still_gives_a_lesion_when_asked() -> None:
    rng = np.random.default_rng(2)
    for modality in MODALITIES:
        img, mask = phantom(rng, 64, modality, lesion=True)
        assert img.shape == (64, 64) and mask.any() and mask_bbox(mask) is not None
        img, mask = phantom(rng, 64, modality, lesion=False)
        assert not mask.any() and mask_bbox(mask) is None


def test_rle_round_trip_and_bad_runs_are_refused() -> None:
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (5, 7), (32, 32)]:
        for p in (0.0, 0.3, 1.0):
            mask = rng.random(shape) < p
            np.testing.assert_array_equal(decode_rle(encode_rle(mask), shape), mask)
    with pytest.raises(DecodeError, match="cover 5 pixels"):
        decode_rle([2, 3], (2, 3))
    with pytest.raises(DecodeError, match="negative"):
        decode_rle([7, -1], (2, 3))
    with pytest.raises(DecodeError) as info:
        decode_rle([6], (0, 6))
    assert info.value.field == "shape"


def test_sparse_imaging_devices_spread_their_first_image_over_the_interval() -> None:
    from firmware_sim.scenario import Scenario, build_devices

    scenario = Scenario.model_validate({"imaging": [
        {"id": f"us-{i}", "interval_s": 600, "first_image_s": 600 * (i + 1) / 4, "size": 32} for i in range(4)]})
    leads = [d.sources[0].lead_s for d in build_devices(scenario)]
    assert leads == [450.0, 300.0, 150.0, 0.0]
    with pytest.raises(ValueError, match="must not exceed interval_s"):
        Scenario.model_validate({"imaging": [{"id": "us-0", "interval_s": 10, "first_image_s": 11}]})
