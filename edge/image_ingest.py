"""Images at the edge: chunks reassembled, the device's envelope checked and opened, the envelope
forwarded to the gateway still sealed, the pixels handed on for analysis.

For each complete object on an imaging stream (``iomt.wire.streams.CHUNKED_STREAMS``):

* an envelope (:mod:`iomt.wire.envelope`) must name the device and stream of the topic it came on and
  the object id of its chunks; with the device's key here it is authenticated and decrypted (a
  tampered, foreign or malformed one raises ``DecodeError`` naming the field: the node dead-letters
  and counts it, and nothing is forwarded); without the key yet it is forwarded unopened for the
  gateway to authenticate, and opened for analysis once the key arrives (:meth:`ready`);
* a plain imaging object is refused (field ``encryption``) unless legacy devices are allowed; then it
  is wrapped in an unencrypted envelope so the gateway knows whose it is;
* the same envelope again (a QoS 1 redelivery, or a replay) is recognised and not forwarded twice.

The uplink record is the envelope exactly as the device sealed it: the edge never re-encrypts, so the
gateway checks the device's own tag.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from iomt.wire import envelope as env
from iomt.wire.chunks import Image, Reassembler, decode_chunk, decode_image
from iomt.wire.errors import DecodeError
from iomt.wire.sealed_image import open_image, wrap_legacy_image
from iomt.wire.uplink import RecordKind, UplinkRecord

#: Envelopes remembered to recognise a second arrival (QoS 1 redelivery or replay).
SEEN = 4096
#: Images waiting for their device's key before analysis (oldest dropped, counted).
MAX_WAITING = 64


@dataclass(frozen=True, slots=True)
class ImageArrival:
    """A complete, accepted image: what to forward, and its pixels when they could be opened here."""

    device: str
    record: UplinkRecord
    image: Image | None
    patient: str | None = None


@dataclass
class ImageCounters:
    opened: int = 0
    forwarded_unopened: int = 0
    legacy: int = 0
    duplicates: int = 0
    waiting_dropped: int = 0
    late_refused: int = 0


@dataclass
class _Waiting:
    device: str
    stream: str
    object_id: int
    payload: bytes = field(repr=False)


class ImageIngest:
    """See the module docstring. Not thread-safe: the node's worker owns it."""

    def __init__(self, keys: env.KeyLookup, *, allow_unencrypted: bool = False, max_partial: int = 64) -> None:
        self.keys = keys
        self.allow_unencrypted = allow_unencrypted
        self.reassembler = Reassembler(max_partial)
        self.counters = ImageCounters()
        self._seen: OrderedDict[tuple[str, int, bytes], None] = OrderedDict()
        self._waiting: deque[_Waiting] = deque()

    @property
    def waiting(self) -> int:
        """Images forwarded unopened that wait for their device's key."""
        return len(self._waiting)

    def chunk(self, device: str, stream: str, payload: bytes) -> ImageArrival | None:
        """Take one chunk; the accepted image once its object is complete (``DecodeError`` if refused)."""
        object_id = decode_chunk(payload).object_id
        obj = self.reassembler.add(f"{device}/{stream}", payload)
        if obj is None:
            return None
        if env.is_envelope(obj):
            return self._sealed(device, stream, object_id, obj)
        if obj[:2] == b"IG":
            return self._legacy(device, stream, object_id, obj)
        raise DecodeError("magic", f"an imaging object is an envelope (b'IE') or, from a legacy device, a plain "
                                   f"image (b'IG'); got {bytes(obj[:2])!r}")

    def _sealed(self, device: str, stream: str, object_id: int, obj: bytes) -> ImageArrival | None:
        envelope = env.decode_envelope(obj)
        env.check_binding(envelope, device=device, stream=stream, object_id=object_id)
        if not envelope.algorithm.encrypted and not self.allow_unencrypted:
            raise DecodeError("encryption", "an unencrypted envelope; images must be sealed end to end with the "
                                            "device's key (allow legacy devices with allow_unencrypted_images)")
        seen = (device, envelope.object_id, envelope.nonce)
        if seen in self._seen:
            self.counters.duplicates += 1
            return None
        record = UplinkRecord(RecordKind.IMAGE, obj)
        if envelope.algorithm.encrypted and self.keys(envelope.device, envelope.key_id) is None:
            self._remember(seen)
            self._wait(_Waiting(device, stream, object_id, obj))
            self.counters.forwarded_unopened += 1
            return ImageArrival(device, record, None)
        opened = open_image(obj, self.keys, device=device, stream=stream, object_id=object_id,
                            allow_unencrypted=self.allow_unencrypted)
        self._remember(seen)
        self.counters.opened += 1
        return ImageArrival(device, record, opened.sealed.image, opened.sealed.patient)

    def _legacy(self, device: str, stream: str, object_id: int, obj: bytes) -> ImageArrival:
        if not self.allow_unencrypted:
            raise DecodeError("encryption", "a plain (unencrypted) imaging object; images must be sealed end to end "
                                            "with the device's key (allow legacy devices with "
                                            "allow_unencrypted_images)")
        image = decode_image(obj)
        if image.seq != object_id & 0xFFFFFFFF:
            raise DecodeError("object_id", f"image {image.seq} arrived as object {object_id}")
        self.counters.legacy += 1
        return ImageArrival(device, UplinkRecord(RecordKind.IMAGE, wrap_legacy_image(obj, device=device,
                                                                                    stream=stream)), image)

    def ready(self) -> tuple[list[ImageArrival], list[DecodeError]]:
        """Images forwarded unopened whose key has arrived since: opened now for analysis (their records
        were forwarded already, so these arrivals are for the pipeline only); and the ones that, with the
        key, fail (the gateway refuses them too)."""
        done: list[ImageArrival] = []
        failed: list[DecodeError] = []
        still: deque[_Waiting] = deque()
        for item in self._waiting:
            envelope = env.decode_envelope(item.payload)
            if self.keys(envelope.device, envelope.key_id) is None:
                still.append(item)
                continue
            try:
                opened = open_image(item.payload, self.keys, device=item.device, stream=item.stream,
                                    object_id=item.object_id)
            except DecodeError as exc:
                self.counters.late_refused += 1
                failed.append(exc)
                continue
            self.counters.opened += 1
            done.append(ImageArrival(item.device, UplinkRecord(RecordKind.IMAGE, item.payload), opened.sealed.image,
                                     opened.sealed.patient))
        self._waiting = still
        return done, failed

    def _wait(self, item: _Waiting) -> None:
        self._waiting.append(item)
        while len(self._waiting) > MAX_WAITING:
            self._waiting.popleft()
            self.counters.waiting_dropped += 1

    def _remember(self, seen: tuple[str, int, bytes]) -> None:
        self._seen[seen] = None
        while len(self._seen) > SEEN:
            self._seen.popitem(last=False)
