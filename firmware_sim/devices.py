"""Live devices on top of the signal generators: each turns its generator into encoded frames, one
per ``frame_s``, applies its signal faults, and queues ground truth as the events happen.

A patient's body-worn devices publish under the patient's id (their phone/hub relays them), one
stream name per signal: ECG patch ``ecg``; motion wearable ``acc`` + ``gyro``; emotion band ``ecg``,
``eda``, ``ppg``, ``resp``; vitals monitor ``vitals``. An imaging device has its own id and publishes
chunked ``image`` objects (:mod:`iomt.wire.chunks`), sealed end to end with its key
(:mod:`iomt.wire.sealed_image`), each naming the patient it imaged.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware_sim import faults as flt
from firmware_sim.cardiac import BeatGenerator, Episode
from firmware_sim.deterioration import CoursePlan
from firmware_sim.ecg import EcgStream
from firmware_sim.emotion import RATES as EMOTION_RATES
from firmware_sim.emotion import EmotionStream
from firmware_sim.imaging import draw_scanner, mask_bbox, mask_rle
from firmware_sim.imaging.ahead import RenderAhead
from firmware_sim.motion import MotionGenerator, MotionStream
from firmware_sim.persona import Persona
from firmware_sim.rates import REALISTIC
from firmware_sim.truth import TruthEvent
from firmware_sim.vitals import VitalsGenerator
from iomt.wire.chunks import Image, encode_image, split
from iomt.wire.descriptor import AccUnit, Axes, DeviceDescriptor, GyroUnit, MotionSensor, Placement
from iomt.wire.frames import Reading, encode_frame, encode_reading, int16_samples, make_frame
from iomt.wire.sealed_image import GROUND_TRUTH, MaskLayer, SealedImage, seal_image
from iomt.wire.vitals import FIELDS, parse_vitals
from models.clinical import news2
from models.clinical.risk import observation, risk_of

#: Samples go out as int16 at a power-of-two scale chosen per block from the data
#: (:func:`iomt.wire.frames.int16_samples`): nothing clips on the wire and nothing is left a handful
#: of steps, whatever the units (a replayed PPG in ADC counts, an EDA in siemens). The 1.0.0 devices
#: used one fixed scale per stream (0.001 for ECG/EDA/PPG/resp), which clipped a PPG in counts at
#: +-32.767. A device's own front-end limits are faults (saturation).
#: int16 counts and the scale they were taken at.
Quantized = tuple[np.ndarray, float]

Render = Callable[[int, int], "bytes | list[bytes]"]


@dataclass
class StreamSource:
    """One device stream: how to render the next frame and the sequence it is at."""

    device: str
    stream: str
    rate_hz: float
    frame_s: float
    render: Callable[[int, int], bytes | list[bytes]]
    seq: int = 0
    owner: SimDevice | None = None
    #: the first frame is due this much earlier than ``frame_s`` after the start (0 <= lead_s < frame_s):
    #: spreads sparse streams, e.g. an image per patient every 10 minutes, over their interval
    lead_s: float = 0.0

    @property
    def samples_per_frame(self) -> int:
        return max(1, round(self.rate_hz * self.frame_s))


class SimDevice:
    """Base of the live devices: timing, faults, truth queue."""

    kind = "device"

    def __init__(self, device_id: str, rng: np.random.Generator, faults: list[Any] | None = None) -> None:
        self.device_id = device_id
        self.rng = rng
        self.faults: list[Any] = [f for f in (faults or []) if f.matches(device_id)]
        self.sources: list[StreamSource] = []
        self.start_us = 0
        self.stagger_s = 0.0
        #: boot/session id written in every frame and reading (wire v2): new at every start of the device
        self.boot = 0
        # Pending truth in device seconds (start, end, kind, label, extra): converted to wall time when
        # taken, so rendering may happen before the run's start time is known.
        self._truth: list[tuple[float, float, str, str, dict[str, Any]]] = []
        self._blocks: list[_Blocks] = []

    def prime(self) -> None:
        """Do the first expensive rendering now, before the run's clock starts."""
        for blocks in self._blocks:
            blocks.prime()

    def bind(self, start_us: int, stagger_s: float) -> None:
        """Set the run's start (wall clock, us) and this device's offset within the frame period."""
        self.start_us = start_us
        self.stagger_s = stagger_s
        # a start is a boot: its id differs per device and per start, and is reproducible for a given start
        self.boot = zlib.crc32(f"{self.device_id}@{start_us}".encode()) or 1

    def t_us(self, t_stream_s: float) -> int:
        """True wall time of an instant ``t_stream_s`` seconds after this device's first sample."""
        return self.start_us + round((self.stagger_s + t_stream_s) * 1e6)

    def stamp(self, t0_us: int) -> int:
        """The timestamp the device writes for true time ``t0_us`` (clock faults included)."""
        if not self.faults:
            return t0_us
        return t0_us + flt.clock_offset_us(self.faults, self.device_id, (t0_us - self.start_us) / 1e6, self.rng)

    def take_truth(self, now_us: int) -> list[TruthEvent]:
        """Truth events that have started by ``now_us``."""
        now_s = (now_us - self.start_us) / 1e6 - self.stagger_s
        ready = [TruthEvent(self.device_id, kind, label, self.t_us(a), self.t_us(b), extra)
                 for a, b, kind, label, extra in self._truth if a <= now_s]
        self._truth = [e for e in self._truth if e[0] > now_s]
        return ready

    def note(self, kind: str, label: str, t_s: float, t_end_s: float | None = None,
             extra: dict[str, Any] | None = None) -> None:
        """Queue a truth event at ``t_s`` (seconds from this device's first sample)."""
        self._truth.append((t_s, t_s if t_end_s is None else t_end_s, kind, label, extra or {}))

    def _signal(self, stream: str, t0_us: int, fs: float, samples: np.ndarray) -> np.ndarray:
        if not self.faults:
            return samples
        t = (t0_us - self.start_us) / 1e6 + np.arange(len(samples)) / fs
        return flt.apply_signal_faults(self.faults, self.device_id, stream, t, samples, self.rng)

    def _frame(self, stream: str, seq: int, t0_us: int, fs: float, samples: np.ndarray | Quantized) -> bytes:
        """Encode one frame; ``samples`` are physical values, or already int16 counts with their scale."""
        if isinstance(samples, np.ndarray):
            samples = quantize(self._signal(stream, t0_us, fs, samples))
        counts, scale = samples
        return encode_frame(make_frame(self.device_id, stream, seq, self.stamp(t0_us), fs, counts, scale=scale,
                                       boot=self.boot))

    def descriptor(self) -> DeviceDescriptor | None:
        """What this device declares about its sensors on its retained descriptor topic (``None``:
        nothing; :mod:`iomt.wire.descriptor`). The fleet publishes it before the first frame."""
        return None

    def _source(self, stream: str, rate: float, frame_s: float, render: Callable[[int, int], bytes | list[bytes]]
                ) -> StreamSource:
        source = StreamSource(self.device_id, stream, rate, frame_s, render, owner=self)
        self.sources.append(source)
        return source

    def _block_sources(self, make: Callable[[float], dict[str, np.ndarray]], rates: dict[str, float],
                       frame_s: float, block_s: float) -> None:
        """Streams fed from a generator that renders ``block_s`` of every stream at once (numpy work per
        call dominates small frames, so rendering ahead in blocks makes a device ~10x cheaper); frames
        are still published at their acquisition time."""
        phase = zlib.crc32(f"{self.device_id}/{self.kind}".encode())
        blocks = _Blocks(make, rates, frame_s, block_s, quantized=not self.faults, phase=phase)
        self._blocks.append(blocks)
        for stream, fs in rates.items():
            self._source(stream, fs, frame_s, self._render_from(blocks, stream, fs))

    def _render_from(self, blocks: _Blocks, stream: str, fs: float) -> Callable[[int, int], bytes]:
        def render(seq: int, t0_us: int) -> bytes:
            return self._frame(stream, seq, t0_us, fs, blocks.take(stream))

        return render


def quantize(values: np.ndarray) -> Quantized:
    """Physical values -> int16 counts at a scale chosen from them."""
    return int16_samples(values)


class _Blocks:
    """Renders every stream of a device ``block_s`` at a time and hands each stream its frames."""

    def __init__(self, make: Callable[[float], dict[str, np.ndarray]], rates: dict[str, float], frame_s: float,
                 block_s: float, quantized: bool, phase: int = 0) -> None:
        self.make = make
        self.frames_per_block = max(1, round(block_s / frame_s))
        self.frame_s = frame_s
        self.block_s = self.frames_per_block * frame_s
        # The first block is shorter by ``phase`` frames so that devices render at different instants
        # (all devices rendering at t = 10 s, 20 s, ... would delay the frames due meanwhile).
        self._first = self.frames_per_block - phase % self.frames_per_block
        self.n = {s: round(fs * frame_s) for s, fs in rates.items()}
        self.quantized = quantized
        self._buf: dict[str, np.ndarray] = {}
        self._scale: dict[str, float | None] = {}
        self._pos: dict[str, int] = dict.fromkeys(rates, 0)
        #: rendered blocks per stream: int16 counts with the block's scale, or physical values (None)
        self._pending: dict[str, list[tuple[np.ndarray, float | None]]] = {s: [] for s in rates}

    def prime(self) -> None:
        """Render the first block now (before a run's clock starts) instead of on the first frame."""
        if not any(self._pending.values()) and not self._buf:
            self._render_next()

    def _render_next(self) -> None:
        seconds = self._first * self.frame_s if self._first else self.block_s
        self._first = 0
        for s, values in self.make(seconds).items():
            self._pending[s].append(quantize(values) if self.quantized else (values, None))

    def take(self, stream: str) -> np.ndarray | Quantized:
        """The next frame of ``stream``: int16 counts with their block's scale, or physical values."""
        n = self.n[stream]
        buf = self._buf.get(stream)
        pos = self._pos[stream]
        if buf is None or pos + n > len(buf):
            if not self._pending[stream]:
                self._render_next()
            buf, self._scale[stream] = self._pending[stream].pop(0)
            self._buf[stream] = buf
            pos = 0
        self._pos[stream] = pos + n
        scale = self._scale[stream]
        return buf[pos:pos + n] if scale is None else (buf[pos:pos + n], scale)


class EcgPatch(SimDevice):
    """Single-lead ECG (250/360/500 Hz) with per-beat truth (AAMI class) and rhythm episodes."""

    kind = "ecg_patch"

    def __init__(self, device_id: str, persona: Persona, rng: np.random.Generator, fs: float = 250.0,
                 frame_s: float = 0.5, faults: list[Any] | None = None, block_s: float = 10.0,
                 hr_offset: Callable[[float], float] | None = None, forced: list[Episode] | None = None) -> None:
        super().__init__(device_id, rng, faults)
        generator = None
        if hr_offset is not None or forced:
            control = (lambda t: persona.resting_hr + hr_offset(t)) if hr_offset is not None else None
            generator = BeatGenerator(persona, rng, hr_bpm=control, forced=list(forced or []))
        self.ecg = EcgStream(persona, fs, rng, generator)
        self.fs = fs

        def make(seconds: float) -> dict[str, np.ndarray]:
            signal = self.ecg.render(round(fs * seconds))
            for t, lab in self.ecg.take_beats():
                self.note("beat", lab, t)
            for e in self.ecg.take_episodes():
                self.note("rhythm", e.label, e.start, e.end)
            return {"ecg": signal}

        self._block_sources(make, {"ecg": fs}, frame_s, block_s)

    def heart_rate(self) -> float | None:
        """Heart rate over the last beats before the newest published sample."""
        t = self.ecg.beats.t
        now = (self.sources[0].seq * self.sources[0].frame_s) if self.sources else 0.0
        return _recent_rate(t[: int(np.searchsorted(t, now))])


def _recent_rate(beat_times: np.ndarray) -> float | None:
    """Beats per minute over the last five intervals."""
    recent = beat_times[-6:]
    return 60.0 * (len(recent) - 1) / float(recent[-1] - recent[0]) if len(recent) >= 3 else None


class MotionWearable(SimDevice):
    """3-axis accelerometer (g) and gyroscope (deg/s) at 50-100 Hz; activities, falls and impacts as truth."""

    kind = "motion"

    def __init__(self, device_id: str, persona: Persona, rng: np.random.Generator, fs: float = 50.0,
                 frame_s: float = 0.5, faults: list[Any] | None = None, block_s: float = 10.0,
                 schedule: list[str] | None = None, fall_rate_per_h: float | None = None) -> None:
        super().__init__(device_id, rng, faults)
        generator = MotionGenerator(persona, fs, rng, fall_rate_per_h=fall_rate_per_h)
        self.motion = MotionStream(generator, schedule=list(schedule or []))

        def make(seconds: float) -> dict[str, np.ndarray]:
            acc, gyro = self.motion.render(round(fs * seconds))
            for a, b, label, kind in self.motion.pending_events:
                self.note(kind, label, a, b)
            self.motion.pending_events.clear()
            return {"acc": acc, "gyro": gyro}

        self._block_sources(make, {"acc": fs, "gyro": fs}, frame_s, block_s)
        self.placement = Placement(persona.placement)

    def descriptor(self) -> DeviceDescriptor | None:
        """Its placement (the persona's), g and deg/s in the sensor's own axes (the simulated mount)."""
        return DeviceDescriptor(MotionSensor(self.placement, AccUnit.G, GyroUnit.DEG_S, Axes.SENSOR))


class EmotionBand(SimDevice):
    """ECG, EDA, PPG and respiration with baseline/stress/amusement episodes as truth."""

    kind = "emotion_band"

    def __init__(self, device_id: str, persona: Persona, rng: np.random.Generator, ecg_hz: float = 250.0,
                 frame_s: float = 1.0, cycle_s: float = 600.0, faults: list[Any] | None = None,
                 block_s: float = 10.0, hr_offset: Callable[[float], float] | None = None) -> None:
        super().__init__(device_id, rng, faults)
        self.band = EmotionStream(persona, rng, cycle_s=cycle_s, ecg_hz=ecg_hz, hr_offset=hr_offset)
        self._reported = 0

        def make(seconds: float) -> dict[str, np.ndarray]:
            block = self.band.render(seconds)
            for t, lab in self.band.take_beats():
                self.note("beat", lab, t)
            for a, b, label in self.band.episodes[self._reported:]:
                self.note("emotion", label, a, b)
            self._reported = len(self.band.episodes)
            return {k: v[:, 0] for k, v in block.items()}

        rates = {**EMOTION_RATES, "ecg": ecg_hz}
        self.heart_rate = lambda: _recent_rate(self.band.beats_before(self.sources[0].seq * self.sources[0].frame_s))
        self._block_sources(make, {s: rates[s] for s in ("ecg", "eda", "ppg", "resp")}, frame_s, block_s)


class VitalsMonitor(SimDevice):
    """Heart rate, SpO2, blood pressure, temperature and respiration rate at ~1 Hz as JSON readings,
    with the oxygen flow (``o2``, L/min, 0 on air) and, once a course scripts it, the consciousness
    code (``acvpu``); see :mod:`iomt.wire.vitals`. Values come from
    :class:`firmware_sim.vitals.VitalsGenerator`, rendered :data:`BLOCK` readings at a time.

    Truth: kind ``vitals`` for every reading (label: the course under way or ``stable``; ``seq``,
    ``phase``, the ``news2`` total, ``band`` and five-class ``risk`` the true values score, and the
    true ``values``), and kind ``deterioration`` when a course starts (label: the course; ``t_end``
    when it has resolved; ``duration_s`` onset to worst, ``severity``, ``forced``).
    """

    kind = "vitals"
    BLOCK = 64

    def __init__(self, device_id: str, persona: Persona, rng: np.random.Generator, period_s: float = 1.0,
                 heart_rate: Callable[[], float | None] | None = None, faults: list[Any] | None = None,
                 plan: CoursePlan | None = None) -> None:
        super().__init__(device_id, rng, faults)
        self.plan = plan if plan is not None else CoursePlan(REALISTIC, np.random.default_rng(rng.integers(2**63)))
        self.generator = VitalsGenerator(persona, rng, self.plan, hr_from_ecg=heart_rate is not None,
                                         period_s=period_s)
        block: list[tuple[float, np.ndarray, np.ndarray]] = []  # (t, measured row, true row), last first
        announced: set[int] = set()

        def render(seq: int, t0_us: int) -> bytes:
            if not block:
                t = (seq + np.arange(self.BLOCK)) * period_s
                rendered = self.generator.render(t)
                block.extend(zip(t.tolist(), rendered.measured, rendered.truth, strict=True))
                block.reverse()
            t_s, measured, truth = block.pop()
            hr = heart_rate() if heart_rate else None
            values = self.generator.reading_values(measured, t_s, hr)
            self._note_truth(seq, t_s, truth, announced)
            return encode_reading(Reading(device_id, "vitals", seq, self.stamp(t0_us), values, self.boot))

        self._source("vitals", 1.0 / period_s, period_s, render)

    def _note_truth(self, seq: int, t: float, truth: np.ndarray, announced: set[int]) -> None:
        course = self.plan.active(t)
        if course is not None and id(course) not in announced:
            announced.add(id(course))
            self.note("deterioration", course.kind, course.start_s, course.end_s, {
                "duration_s": course.duration_s, "severity": round(course.severity, 3), "forced": course.forced})
        values = dict(zip(FIELDS, (round(float(v), 2) for v in truth), strict=True))
        obs = observation(parse_vitals(values))
        assert obs is not None
        scored = news2.score(obs)
        self.note("vitals", course.kind if course is not None else "stable", t, t, {
            "seq": seq, "phase": course.phase(t) if course is not None else "stable", "news2": scored.total,
            "band": scored.band.value, "risk": risk_of(scored).value, "values": values})


class StatusReporter(SimDevice):
    """Battery level on the ``status`` stream (only for devices with a battery-drain fault)."""

    def __init__(self, device_id: str, rng: np.random.Generator, faults: list[Any], period_s: float = 10.0) -> None:
        super().__init__(device_id, rng, faults)

        def render(seq: int, t0_us: int) -> bytes:
            pct = flt.battery_pct(self.faults, device_id, (t0_us - self.start_us) / 1e6)
            values = {"battery_pct": round(pct or 0.0, 1)}
            return encode_reading(Reading(device_id, "status", seq, self.stamp(t0_us), values, self.boot))

        self._source("status", 1.0 / period_s, period_s, render)


class ImagingDevice(SimDevice):
    """Grayscale phantoms (ultrasound- or X-ray-like, :mod:`firmware_sim.imaging`) with or without
    lesions, chunked, with the device's pixel spacing in each image; the truth (kind ``lesion``) is the
    union mask of the lesions (run-length encoded), its bounding box, each lesion's shape, appearance and
    size, and the artefacts drawn. The device draws its scanner settings once.

    With a key (:meth:`use_key`, from the device's registry enrolment) each image is sealed end to end
    (:mod:`iomt.wire.sealed_image`): pixels, spacing, the patient imaged (``patients`` in turn) and the
    ground-truth mask as an annotation layer, so nothing between the device and the store reads them.
    Without one it sends the plain imaging object, as a legacy device would."""

    kind = "imaging"

    def __init__(self, device_id: str, rng: np.random.Generator, interval_s: float = 10.0, size: int = 128,
                 modality: str = "ultrasound", lesion_probability: float = 0.5, chunk_size: int = 4096,
                 faults: list[Any] | None = None, first_image_s: float | None = None,
                 patients: Sequence[str] = ()) -> None:
        """``first_image_s``: when the first image is taken (0 < first_image_s <= interval_s; default
        ``interval_s``), so many devices with long intervals need not all send at once."""
        super().__init__(device_id, rng, faults)
        if first_image_s is not None and not 0 < first_image_s <= interval_s:
            raise ValueError(f"first_image_s must be in (0, interval_s={interval_s}], got {first_image_s}")
        self.scanner = draw_scanner(rng, modality)
        self.patients = tuple(patients)
        self.key: tuple[int, bytes] | None = None

        # rendered one image ahead in a thread of its own (firmware_sim.imaging.ahead), from a generator of
        # its own: the device's ``rng`` is also drawn from by the fleet's thread (clock faults)
        ahead = RenderAhead(rng.spawn(1)[0], self.scanner, size, lesion_probability)

        def render(seq: int, t0_us: int) -> list[bytes]:
            p = ahead.next()
            stamp = self.stamp(t0_us)
            t_s = (t0_us - self.start_us) / 1e6 - self.stagger_s
            patient = self.patients[seq % len(self.patients)] if self.patients else None
            self.note("lesion", "lesion" if p.has_lesion else "none", t_s, t_s, {
                "seq": seq, "modality": modality, "bbox": mask_bbox(p.mask), "shape": [size, size],
                "mask_rle": mask_rle(p.mask), "spacing_mm": list(p.spacing_mm),
                "lesions": [info.as_dict() for info in p.lesions], "artefacts": list(p.artefacts),
                "patient": patient})
            image = Image(seq, stamp, p.image, p.spacing_mm)
            return split(self.package(image, modality, patient, p.mask), seq, chunk_size)

        source = self._source("image", 1.0 / interval_s, interval_s, render)
        source.lead_s = interval_s - (first_image_s if first_image_s is not None else interval_s)

    def use_key(self, key_id: int, key: bytes) -> None:
        """Seal every image from now on with this registry key (version ``key_id``)."""
        self.key = (key_id, key)

    def package(self, image: Image, modality: str, patient: str | None, mask: np.ndarray) -> bytes:
        """What goes into the chunks: the sealed image, or the plain object without a key."""
        if self.key is None:
            return encode_image(image)
        sealed = SealedImage(image, patient, modality, (MaskLayer.of(GROUND_TRUTH, "simulator", mask),))
        return seal_image(sealed, self.key[1], device=self.device_id, key_id=self.key[0])


@dataclass
class PatientKit:
    """The devices one patient wears (all publishing under the patient's id)."""

    patient_id: str
    persona: Persona
    devices: list[SimDevice] = field(default_factory=list)
