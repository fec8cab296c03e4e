"""Images at the edge: sealed chunks opened and forwarded as sealed; tampered, unencrypted, moved and replayed
chunks refused and counted (dead-lettered with the field), a redelivery forwarded once; images whose key is
not here yet forwarded unopened and opened once the key comes."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.image_ingest import ImageIngest
from edge.processor import EdgeProcessor
from iomt.wire import topics
from iomt.wire.chunks import CHUNK_HEADER, Image, decode_chunk, encode_image, split
from iomt.wire.deadletter import decode_deadletter
from iomt.wire.errors import DecodeError
from iomt.wire.sealed_image import GROUND_TRUTH, MaskLayer, SealedImage, seal_image
from iomt.wire.uplink import RecordKind

KEY = bytes(range(32))
OTHER = bytes(range(100, 132))
T0 = 1_764_000_000_000_000


def keys(d: str, k: int) -> bytes | None:
    return {("us-1", 1): KEY, ("us-2", 1): OTHER}.get((d, k))


def image(seq: int) -> tuple[SealedImage, np.ndarray]:
    pixels = np.random.default_rng(seq).integers(0, 256, (48, 48), dtype=np.uint8)
    mask = np.zeros((48, 48), bool)
    mask[10:20, 10:25] = True
    return SealedImage(Image(seq, T0 + seq, pixels, (0.3, 0.3)), "patient-0001", "ultrasound",
                       (MaskLayer.of(GROUND_TRUTH, "simulator", mask),)), pixels


def chunks_of(seq: int, device: str = "us-1", key: bytes = KEY, size: int = 700) -> tuple[bytes, list[bytes]]:
    sealed = seal_image(image(seq)[0], key, device=device, key_id=1)
    return sealed, split(sealed, seq, size)


def feed(processor: EdgeProcessor, device: str, chunks: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(forwarded image records, dead letters)."""
    topic = topics.data("default", device, "image")
    forwarded, letters = [], []
    for chunk in chunks:
        records, _, letter = processor.handle(topic, chunk)
        forwarded += [r.payload for r in records if r.kind is RecordKind.IMAGE]
        if letter is not None:
            letters.append(letter)
    return forwarded, letters


def reheader(chunk: bytes, *, object_id: int | None = None, crc: int | None = None) -> bytes:
    magic, version, flags, oid, index, count, total, old_crc = CHUNK_HEADER.unpack_from(chunk)
    return CHUNK_HEADER.pack(magic, version, flags, oid if object_id is None else object_id, index, count, total,
                             old_crc if crc is None else crc) + chunk[CHUNK_HEADER.size:]


def processor(**config: object) -> EdgeProcessor:
    return EdgeProcessor(EdgeConfig(models=(), **config), keys=keys)  # type: ignore[arg-type]


def test_a_sealed_image_is_opened_for_analysis_and_forwarded_exactly_as_sealed() -> None:
    p = processor()
    sealed, chunks = chunks_of(3)
    result = p.handle_batch([(topics.data("default", "us-1", "image"), c, 0) for c in chunks])
    assert [r.payload for r in result.records] == [sealed] and not result.deadletters
    (arrival,) = result.images
    assert np.array_equal(arrival.image.pixels, image(3)[1]) and arrival.patient == "patient-0001"
    assert p.images.counters.opened == 1


def test_a_tampered_chunk_is_refused_counted_and_nothing_is_forwarded() -> None:
    p = processor()
    sealed, chunks = chunks_of(4)
    # a relay flips a bit in one chunk: the object's CRC catches it
    bad = bytearray(chunks[1])
    bad[-5] ^= 0x40
    forwarded, letters = feed(p, "us-1", [chunks[0], bytes(bad), *chunks[2:]])
    assert forwarded == [] and decode_deadletter(letters[0]).field == "crc32"
    # a relay that also rewrites every chunk's CRC: the envelope's tag catches it
    tampered = bytearray(sealed)
    tampered[len(tampered) // 2] ^= 0x01
    crc = zlib.crc32(bytes(tampered))
    rewritten = [reheader(c, crc=crc) for c in split(bytes(tampered), 4, 700)]
    forwarded, letters = feed(p, "us-1", rewritten)
    assert forwarded == [] and [decode_deadletter(x).field for x in letters] == ["tag"]
    assert p.counters.dead_letter == 2 and p.rejections == {"crc32": 1, "tag": 1}
    # the dead letter keeps the chunk header only, never ciphertext or pixels
    assert all(decode_deadletter(x).payload_head_b64 for x in letters)


def test_unencrypted_images_are_refused_unless_legacy_devices_are_allowed() -> None:
    pixels = image(5)[1]
    plain = split(encode_image(Image(5, T0, pixels)), 5, 700)
    p = processor()
    forwarded, letters = feed(p, "old-us", plain)
    assert forwarded == [] and [decode_deadletter(x).field for x in letters] == ["encryption"]
    legacy = processor(allow_unencrypted_images=True)
    forwarded, letters = feed(legacy, "old-us", plain)
    assert len(forwarded) == 1 and letters == [] and forwarded[0][:2] == b"IE" and forwarded[0][3] == 0


def test_an_envelope_moved_to_another_device_or_replayed_as_another_image_is_refused() -> None:
    p = processor()
    _, chunks = chunks_of(6, device="us-1")
    # us-1's image published on us-2's topic (a compromised relay, or us-2 replaying what it saw)
    forwarded, letters = feed(p, "us-2", chunks)
    assert forwarded == [] and [decode_deadletter(x).field for x in letters] == ["device"]
    # the same chunks renumbered as image 7 (CRC still fits: it covers the object, not its number)
    forwarded, letters = feed(p, "us-1", [reheader(c, object_id=7) for c in chunks])
    assert forwarded == [] and [decode_deadletter(x).field for x in letters] == ["object_id"]
    # one chunk of image 6 smuggled into image 8
    _, eight = chunks_of(8)
    forwarded, letters = feed(p, "us-1", [eight[0], reheader(chunks[1], object_id=8), *eight[2:]])
    # refused by the CRC, or earlier by the reassembler when the chunk contradicts the others (count)
    assert forwarded == [] and decode_deadletter(letters[0]).field in ("crc32", "total_size", "count")
    assert p.counters.dead_letter == 3


def test_the_same_envelope_twice_is_forwarded_once() -> None:
    p = processor()
    sealed, chunks = chunks_of(9)
    assert feed(p, "us-1", chunks) == ([sealed], [])
    assert feed(p, "us-1", chunks) == ([], [])  # QoS 1 redelivery or a replay: recognised, not sent twice
    assert p.images.counters.duplicates == 1


def test_without_the_key_an_image_goes_on_unopened_and_is_opened_when_the_key_comes() -> None:
    held: dict[tuple[str, int], bytes] = {}
    ingest = ImageIngest(lambda d, k: held.get((d, k)))
    sealed, chunks = chunks_of(10)
    arrivals = [a for c in chunks if (a := ingest.chunk("us-1", "image", c)) is not None]
    assert len(arrivals) == 1 and arrivals[0].image is None and arrivals[0].record.payload == sealed
    assert ingest.waiting == 1 and ingest.ready() == ([], [])
    held[("us-1", 1)] = KEY
    opened, failed = ingest.ready()
    assert failed == [] and len(opened) == 1 and np.array_equal(opened[0].image.pixels, image(10)[1])
    assert ingest.waiting == 0
    # a forged one without a key goes on (the gateway refuses it) and fails here once the key comes
    held.clear()
    forged = bytearray(chunks_of(11)[0])
    forged[-3] ^= 1
    for c in split(bytes(forged), 11, 700):
        ingest.chunk("us-1", "image", c)
    held[("us-1", 1)] = KEY
    opened, failed = ingest.ready()
    assert opened == [] and [e.field for e in failed] == ["tag"] and ingest.counters.late_refused == 1


def test_a_chunk_that_is_not_a_chunk_names_its_field() -> None:
    ingest = ImageIngest(keys)
    with pytest.raises(DecodeError) as info:
        ingest.chunk("us-1", "image", b"XX" + bytes(30))
    assert info.value.field == "magic"
    with pytest.raises(DecodeError):
        decode_chunk(struct.pack("<2s", b"IC"))
