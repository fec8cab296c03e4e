"""The end-to-end envelope and the sealed image: round trips, every refusal with its field, and fuzzing
(only :class:`DecodeError` may come out of a decoder, whatever the bytes)."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iomt.wire import envelope as env
from iomt.wire.chunks import Image
from iomt.wire.errors import DecodeError
from iomt.wire.masks import encode_rle
from iomt.wire.sealed_image import (
    GROUND_TRUTH,
    MaskLayer,
    SealedImage,
    decode_sealed_image,
    encode_sealed_image,
    open_image,
    seal_image,
)

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
T0 = 1_764_000_000_000_000


def keys(table: dict[tuple[str, int], bytes]) -> env.KeyLookup:
    return lambda device, key_id: table.get((device, key_id))


def sample(seq: int = 7, patient: str | None = "patient-0001", spacing: tuple[float, float] | None = (0.3, 0.3)
           ) -> SealedImage:
    rng = np.random.default_rng(seq)
    pixels = rng.integers(0, 256, (24, 32), dtype=np.uint8)
    mask = np.zeros((24, 32), bool)
    mask[5:11, 8:15] = True
    return SealedImage(Image(seq, T0 + seq, pixels, spacing), patient, "ultrasound",
                       (MaskLayer.of(GROUND_TRUTH, "simulator", mask),))


def sealed_payload(seq: int = 7, **kw: object) -> bytes:
    return seal_image(sample(seq), KEY, device="us-0001", key_id=1, **kw)  # type: ignore[arg-type]


def test_round_trip_keeps_pixels_spacing_patient_modality_and_layers() -> None:
    original = sample()
    payload = seal_image(original, KEY, device="us-0001", key_id=3)
    opened = open_image(payload, keys({("us-0001", 3): KEY}), device="us-0001", stream="image", object_id=7)
    got = opened.sealed
    assert np.array_equal(got.image.pixels, original.image.pixels)
    assert got.image.spacing_mm == (0.3, 0.3) and got.image.seq == 7 and got.image.t_us == T0 + 7
    assert got.patient == "patient-0001" and got.modality == "ultrasound"
    assert got.annotations == original.annotations
    assert np.array_equal(got.annotations[0].mask(), original.annotations[0].mask())
    assert opened.envelope.key_id == 3 and opened.envelope.device == "us-0001" and opened.payload == payload


@pytest.mark.parametrize("algorithm", [a for a in env.Algorithm if a.encrypted])
def test_both_algorithms_open_and_the_header_says_which(algorithm: env.Algorithm) -> None:
    payload = seal_image(sample(), KEY, device="us-0001", key_id=1, algorithm=algorithm)
    assert payload[3] == algorithm
    assert open_image(payload, keys({("us-0001", 1): KEY})).envelope.algorithm is algorithm


def test_an_unencrypted_envelope_is_refused_unless_legacy_devices_are_allowed() -> None:
    from iomt.wire.chunks import encode_image
    from iomt.wire.sealed_image import wrap_legacy_image

    plain = wrap_legacy_image(encode_image(Image(4, T0, np.ones((3, 5), np.uint8))), device="old-us")
    assert env.decode_envelope(plain).algorithm is env.Algorithm.NONE
    with pytest.raises(DecodeError, match="not encrypted") as info:
        open_image(plain, keys({}))
    assert info.value.field == "encryption"
    opened = open_image(plain, keys({}), allow_unencrypted=True, device="old-us", object_id=4)
    assert opened.sealed.image.seq == 4 and opened.sealed.patient is None
    # an encrypted envelope downgraded to "none" by a relay: the header rules say no
    downgraded = bytearray(sealed_payload())
    downgraded[3] = 0
    with pytest.raises(DecodeError) as info:
        open_image(bytes(downgraded), keys({("us-0001", 1): KEY}), allow_unencrypted=True)
    assert info.value.field == "key_id"
    with pytest.raises(ValueError, match="wrap_unencrypted"):
        env.seal(KEY, b"x", device="d", stream="image", object_id=1, key_id=1, algorithm=env.Algorithm.NONE)
    with pytest.raises(DecodeError):
        wrap_legacy_image(b"not an image", device="old-us")


def test_the_pixels_are_not_in_the_envelope() -> None:
    original = sample()
    payload = seal_image(original, KEY, device="us-0001", key_id=1)
    assert original.image.pixels.tobytes()[:64] not in payload
    assert b"IG" not in payload[env.FIXED.size + 20:] or payload.count(b"patient-0001") == 0
    assert b"patient-0001" not in payload and b"ground_truth" not in payload


def test_two_seals_of_the_same_image_use_different_nonces() -> None:
    a, b = sealed_payload(), sealed_payload()
    assert env.decode_envelope(a).nonce != env.decode_envelope(b).nonce and a != b


def flip(payload: bytes, index: int) -> bytes:
    out = bytearray(payload)
    out[index] ^= 0x01
    return bytes(out)


def test_any_flipped_bit_in_the_ciphertext_or_the_header_fails_or_is_refused() -> None:
    payload = sealed_payload()
    lookup = keys({("us-0001", 1): KEY, ("us-0001", 2): KEY, ("us-0002", 1): KEY, ("us-0001", 0x101): KEY})
    refused: dict[str, int] = {}
    for index in range(len(payload)):
        with pytest.raises(DecodeError) as info:
            open_image(flip(payload, index), lookup)
        refused[info.value.field] = refused.get(info.value.field, 0) + 1
    # every header byte is authenticated: a changed device, key id or object id that still parses fails the tag
    assert refused["tag"] > len(payload) - 60
    assert set(refused) <= {"tag", "magic", "version", "algorithm", "content", "flags", "key_id", "device", "stream",
                            "ciphertext"}


def test_wrong_key_wrong_key_id_and_unknown_key() -> None:
    payload = sealed_payload()
    with pytest.raises(DecodeError, match="authentication failed") as info:
        open_image(payload, keys({("us-0001", 1): OTHER}))
    assert info.value.field == "tag"
    with pytest.raises(env.UnknownKey) as unknown:
        open_image(payload, keys({("us-0001", 2): KEY}))
    assert unknown.value.field == "key_id" and unknown.value.key_id == 1
    # a relay that rewrites the key id to one the receiver has: the header is authenticated
    rewritten = bytearray(payload)
    rewritten[6:10] = (2).to_bytes(4, "little")
    with pytest.raises(DecodeError) as info:
        open_image(bytes(rewritten), keys({("us-0001", 1): KEY, ("us-0001", 2): KEY}))
    assert info.value.field == "tag"


def rename_device(payload: bytes, new: str) -> bytes:
    e = env.decode_envelope(payload)
    header = env.encode_header(e.algorithm, e.content, e.key_id, e.object_id, e.nonce, new, e.stream)
    return header + e.ciphertext


def test_an_envelope_moved_to_another_device_is_refused() -> None:
    payload = sealed_payload()
    # arriving on another device's topic, as it is
    with pytest.raises(DecodeError, match="sealed by 'us-0001', arrived as 'us-0002'") as info:
        open_image(payload, keys({("us-0001", 1): KEY}), device="us-0002")
    assert info.value.field == "device"
    # its header rewritten to name the other device (which even shares the key here): the tag fails
    with pytest.raises(DecodeError) as info:
        open_image(rename_device(payload, "us-0002"), keys({("us-0002", 1): KEY}), device="us-0002")
    assert info.value.field == "tag"


def test_an_envelope_replayed_as_another_object_or_stream_is_refused() -> None:
    payload = sealed_payload(seq=7)
    with pytest.raises(DecodeError, match="sealed as object 7, arrived as object 8") as info:
        open_image(payload, keys({("us-0001", 1): KEY}), object_id=8)
    assert info.value.field == "object_id"
    with pytest.raises(DecodeError) as info:
        open_image(payload, keys({("us-0001", 1): KEY}), stream="ecg")
    assert info.value.field == "stream"
    renumbered = bytearray(payload)
    renumbered[10:14] = (8).to_bytes(4, "little")
    with pytest.raises(DecodeError) as info:
        open_image(bytes(renumbered), keys({("us-0001", 1): KEY}), object_id=8)
    assert info.value.field == "tag"


def test_an_image_numbered_otherwise_than_its_envelope_is_refused() -> None:
    plain = encode_sealed_image(sample(seq=7))
    payload = env.seal(KEY, plain, device="us-0001", stream="image", object_id=9, key_id=1)
    with pytest.raises(DecodeError, match="image 7 sealed as object 9") as info:
        open_image(payload, keys({("us-0001", 1): KEY}))
    assert info.value.field == "seq"


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda p: p[:10], "header"),
    (lambda p: b"IG" + p[2:], "magic"),
    (lambda p: p[:2] + b"\x02" + p[3:], "version"),
    (lambda p: p[:3] + b"\x09" + p[4:], "algorithm"),
    (lambda p: p[:4] + b"\x07" + p[5:], "content"),
    (lambda p: p[:5] + b"\x01" + p[6:], "flags"),
    (lambda p: p[:6] + b"\x00\x00\x00\x00" + p[10:], "key_id"),
    (lambda p: p[:26] + b"\x00" + p[27:], "device"),
    (lambda p: p[:26] + b"\x41" + p[27:], "device"),
    (lambda p: p[:27] + b"\xff" + p[28:], "device"),
    (lambda p: p[:27] + b"/" + p[28:], "device"),
    (lambda p: p[:26 + 1 + 7] + b"\x00" + p[26 + 1 + 7 + 1:], "stream"),
    (lambda p: p[:26 + 1 + 7 + 1 + 5 + 3], "ciphertext"),
])
def test_every_malformed_header_field_is_named(mutate, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        env.decode_envelope(mutate(sealed_payload()))
    assert info.value.field == field, info.value


def sealed_with_meta(meta: bytes, image: bytes | None = None) -> bytes:
    from iomt.wire.chunks import encode_image
    from iomt.wire.sealed_image import HEAD

    body = image if image is not None else encode_image(Image(1, T0, np.zeros((4, 4), np.uint8)))
    return HEAD.pack(1, len(meta)) + meta + body


@pytest.mark.parametrize(("plaintext", "field"), [
    (b"\x01\x00", "sealed_image"),
    (b"\x02" + b"\x00" * 4, "sealed_image"),
    (b"\x01\xff\xff\xff\x7f", "meta"),
    (b"\x01\x10\x00\x00\x00{}", "meta"),
    (sealed_with_meta(b"[1]"), "meta"),
    (sealed_with_meta(b"\xff\xfe"), "meta"),
    (sealed_with_meta(b'{"x": 1}'), "x"),
    (sealed_with_meta(b'{"patient": "a/b"}'), "patient"),
    (sealed_with_meta(b'{"modality": "pet"}'), "modality"),
    (sealed_with_meta(b'{"annotations": {}}'), "annotations"),
    (sealed_with_meta(b'{"annotations": [1]}'), "annotations"),
    (sealed_with_meta(b'{"annotations": [{"layer": "gt", "source": "s", "shape": [4, 5], "mask_rle": [20]}]}'),
     "shape"),
    (sealed_with_meta(b'{"annotations": [{"layer": "gt", "source": "s", "shape": [4, 4], "mask_rle": [15]}]}'),
     "mask_rle"),
    (sealed_with_meta(b'{"annotations": [{"layer": "gt", "source": "s", "shape": [4, 4], "mask_rle": [1e3]}]}'),
     "mask_rle"),
    (sealed_with_meta(b'{"annotations": [{"layer": "gt", "source": "s", "shape": [4, 4], "mask_rle": [-1, 17]}]}'),
     "mask_rle"),
    (sealed_with_meta(b'{"annotations": [{"layer": "gt", "source": "", "shape": [4, 4], "mask_rle": [16]}]}'),
     "source"),
    (sealed_with_meta(b'{"annotations": [{"layer": "g t", "source": "s", "shape": [4, 4], "mask_rle": [16]}]}'),
     "layer"),
    (sealed_with_meta(b'{"annotations": [{"layer": "gt", "source": "s", "shape": [4, 4], "mask_rle": [16]},'
                      b'{"layer": "gt", "source": "s", "shape": [4, 4], "mask_rle": [16]}]}'), "layer"),
    (sealed_with_meta(b'{"patient": ' + b"1" * 5000 + b"}"), "meta"),
    (sealed_with_meta(b"", b"XX"), "header"),
    (sealed_with_meta(b"", b"IG\x02\x01\x04\x00\x04\x00" + b"\x00" * 20 + b"\x00" * 15), "size"),
])
def test_every_malformed_sealed_image_field_is_named(plaintext: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_sealed_image(plaintext)
    assert info.value.field == field, info.value


def test_a_device_cannot_seal_what_a_receiver_would_refuse() -> None:
    bad = SealedImage(Image(1, T0, np.zeros((4, 4), np.uint8)), "patient 1")
    with pytest.raises(DecodeError, match="patient"):
        encode_sealed_image(bad)
    with pytest.raises(ValueError, match="key must be 32 bytes"):
        seal_image(sample(), b"short", device="us-0001", key_id=1)
    with pytest.raises(ValueError, match="key_id"):
        seal_image(sample(), KEY, device="us-0001", key_id=0)


def test_keys_never_show_in_errors_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    key = secrets.token_bytes(32)
    caplog.set_level(logging.DEBUG)
    payload = seal_image(sample(), key, device="us-0001", key_id=1)
    texts = [repr(env.decode_envelope(payload)), repr(open_image(payload, keys({("us-0001", 1): key})))]
    for wrong in (secrets.token_bytes(32), key):
        try:
            open_image(flip(payload, len(payload) - 1), keys({("us-0001", 1): wrong}))
        except DecodeError as exc:
            texts.append(str(exc))
            logging.getLogger("iomt.test").warning("refused: %s", exc)
    try:
        seal_image(sample(), key[:31], device="us-0001", key_id=1)
    except ValueError as exc:
        texts.append(str(exc))
    texts.append(caplog.text)
    for text in texts:
        assert key.hex() not in text and key.hex().upper() not in text and repr(key) not in text
        assert key[:16].hex() not in text


# -- fuzzing: 10,000+ inputs per decoder, only DecodeError allowed -------------------------------------------

LOOKUP = keys({("us-0001", 1): KEY})
VALID = sealed_payload()
VALID_PLAIN = encode_sealed_image(sample())


def _mutate(base: bytes, seed: int) -> bytes:
    """``base`` with a few bytes changed, maybe cut short or extended: derived from ``seed`` (cheap to
    generate, so 10,000 examples take seconds, not minutes)."""
    rng = np.random.default_rng(seed)
    out = bytearray(base)
    for pos in rng.integers(0, len(out), int(rng.integers(0, 4))):
        out[pos] = int(rng.integers(0, 256))
    if rng.random() < 0.3:
        out = out[: int(rng.integers(0, len(out) + 1))]
    if rng.random() < 0.1:
        out += rng.bytes(int(rng.integers(1, 9)))
    return bytes(out)


_FUZZ = settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
_SEEDS = st.integers(0, 2**63)


@pytest.mark.slow
@_FUZZ
@given(st.one_of(st.binary(max_size=200), _SEEDS.map(lambda seed: _mutate(VALID, seed)),
                 _SEEDS.map(lambda seed: _mutate(VALID[:26] + bytes([len(VALID) % 70]) + VALID[27:], seed))))
def test_fuzz_envelope_decode_and_open(payload: bytes) -> None:
    try:
        opened = open_image(payload, LOOKUP, device="us-0001", stream="image")
    except DecodeError:
        return
    assert opened.payload == VALID  # only the untouched envelope opens


def _meta(seed: int) -> bytes:
    """Metadata JSON with keys and values drawn from what a decoder must check (valid and not)."""
    rng = np.random.default_rng(seed)
    values: list[object] = [None, True, -1, 0, 16, 10**6, 1.5, float("nan"), "", "patient-1", "a/b", "ultrasound",
                            "gt", "simulator", [4, 4], [4, 5], [16], [15, 1], [-1, 17], [0, 16], {}, [{}]]
    keys_ = ["patient", "modality", "annotations", "x"]
    meta: dict[str, object] = {}
    for key in rng.choice(keys_, int(rng.integers(0, 4)), replace=False):
        meta[str(key)] = values[int(rng.integers(0, len(values)))]
    if rng.random() < 0.6:
        layers = []
        for _ in range(int(rng.integers(0, 3))):
            layer = {"layer": "gt", "source": "s", "shape": [4, 4], "mask_rle": [16]}
            for key in rng.choice(list(layer), int(rng.integers(0, 3)), replace=False):
                if rng.random() < 0.5:
                    del layer[str(key)]
                else:
                    layer[str(key)] = values[int(rng.integers(0, len(values)))]  # type: ignore[assignment]
            layers.append(layer)
        meta["annotations"] = layers
    return json.dumps(meta).encode()


@pytest.mark.slow
@_FUZZ
@given(st.one_of(st.binary(max_size=300), _SEEDS.map(lambda seed: _mutate(VALID_PLAIN, seed)),
                 _SEEDS.map(lambda seed: sealed_with_meta(_meta(seed))), st.binary(max_size=120).map(sealed_with_meta)))
def test_fuzz_sealed_image_decode(plaintext: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_sealed_image(plaintext)


def test_rle_of_the_ground_truth_layer_matches_the_mask_helpers() -> None:
    layer = sample().annotations[0]
    assert list(layer.runs) == encode_rle(layer.mask())
