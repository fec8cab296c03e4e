"""Chunked payloads and imaging phantoms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_sim.imaging import MODALITIES, mask_bbox, mask_rle, phantom, rle_mask
from iomt.wire.chunks import Image, Reassembler, decode_chunk, decode_image, encode_image, split
from iomt.wire.errors import DecodeError


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


@pytest.mark.parametrize("modality", MODALITIES)
def test_lesion_is_where_the_mask_says_and_differs_from_its_surroundings(modality: str) -> None:
    rng = np.random.default_rng(4)
    for _ in range(5):
        img, mask = phantom(rng, 128, modality, lesion=True)
        assert img.dtype == np.uint8 and img.shape == (128, 128)
        assert 20 < mask.sum() < 0.2 * mask.size
        x0, y0, x1, y1 = mask_bbox(mask) or (0, 0, 0, 0)
        ring = np.zeros_like(mask)
        ring[max(0, y0 - 6):y1 + 7, max(0, x0 - 6):x1 + 7] = True
        ring &= ~mask
        inside, around = img[mask].astype(float).mean(), img[ring].astype(float).mean()
        if modality == "ultrasound":
            assert inside < 0.6 * around  # hypoechoic
        else:
            assert inside > around + 15  # dense nodule
        np.testing.assert_array_equal(rle_mask(mask_rle(mask), mask.shape), mask)
    img, mask = phantom(rng, 64, modality, lesion=False)
    assert not mask.any() and mask_bbox(mask) is None
