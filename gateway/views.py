"""The views people look at — patients, edges, the summary — built from the store in one place.

The REST API serves them (``/api/v1/patients``, ``/edges``, ``/summary``), the dashboard polls them, and
``iomt demo`` writes its summary from the same :func:`summary`; :mod:`gateway.serde` turns them into JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.alerts import OPEN_STATES
from gateway.store.base import Store
from gateway.store.records import AlertQuery, Table
from gateway.vitals.news2_score import DERIVED_STREAMS
from iomt.wire.descriptor import EVENT_MODEL as DESCRIPTOR_MODEL
from iomt.wire.events import Event

#: The model whose latest value is a patient's heart rate.
HEART_RATE_MODEL = "heart_rate"
#: Most alerts a patient view counts as open.
MAX_OPEN_ALERTS = 10_000


@dataclass(frozen=True, slots=True)
class StreamLoss:
    """One stream of a patient: records stored, sequence numbers missing, redeliveries refused, last one."""

    frames: int
    missing: int
    duplicates: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class PatientView:
    """A patient (identified by the device): streams, their loss counters, heart rate, open alerts."""

    device: str
    site: str
    streams: tuple[str, ...]
    last_seen_us: int | None
    heart_rate: float | None
    heart_rate_t_us: int | None
    heart_rate_state: str | None
    loss: Mapping[str, StreamLoss]
    open_alerts: int
    #: where the device's motion sensor is worn, as the device declared it (its descriptor, forwarded by
    #: the edge); ``None`` when it declared none
    placement: str | None = None


@dataclass(frozen=True, slots=True)
class ModelInUse:
    model: str
    version: str
    last_seen_us: int


@dataclass(frozen=True, slots=True)
class EdgeView:
    """An edge node: its availability (``unknown`` before it announced any) and the models it used."""

    node: str
    site: str | None
    status: str
    updated_us: int | None
    models: tuple[ModelInUse, ...]


@dataclass(frozen=True, slots=True)
class NodeModels:
    """The models one edge node used."""

    node: str
    models: tuple[ModelInUse, ...]


@dataclass(frozen=True, slots=True)
class Totals:
    """Records held per table, and the redeliveries refused over every stream."""

    frames: int
    readings: int
    events: int
    deadletters: int
    alerts: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class Summary:
    patients: tuple[PatientView, ...]
    totals: Totals
    edges: tuple[EdgeView, ...]


@dataclass
class _PatientDraft:
    device: str
    site: str = "default"
    streams: list[str] = field(default_factory=list)
    last_seen_us: int | None = None
    loss: dict[str, StreamLoss] = field(default_factory=dict)


def patients(store: Store) -> list[PatientView]:
    """Every device the store knows (by its streams, events or counters), sorted by device."""
    drafts = {d.device: _PatientDraft(d.device, d.site, [s for s in d.streams if s not in DERIVED_STREAMS],
                                      d.last_seen_us) for d in store.devices()}
    for s in store.stream_stats():
        if s.stream in DERIVED_STREAMS:
            continue  # the gateway's own (NEWS2 per vitals reading), not a device's
        draft = drafts.setdefault(s.device, _PatientDraft(s.device, streams=[s.stream]))
        draft.loss[s.stream] = StreamLoss(s.frames, s.missing, s.duplicates, s.last_seq)
    heart = store.latest_events(HEART_RATE_MODEL)
    declared = store.latest_events(DESCRIPTOR_MODEL)
    open_alerts = Counter(
        a.event.device for a in store.alerts(AlertQuery(states=OPEN_STATES, limit=MAX_OPEN_ALERTS))
    )
    views = []
    for device in sorted(drafts):
        d, hr = drafts[device], heart.get(device)
        views.append(PatientView(
            device=device, site=d.site, streams=tuple(d.streams), last_seen_us=d.last_seen_us,
            heart_rate=hr.value if hr else None, heart_rate_t_us=hr.t_us if hr else None,
            heart_rate_state=hr.label if hr else None, loss=d.loss, open_alerts=open_alerts[device],
            placement=declared_placement(declared.get(device)),
        ))
    return views


def declared_placement(event: Event | None) -> str | None:
    """The placement a device's newest ``descriptor`` event declares (``None``: none, or withdrawn)."""
    if event is None or event.detail.get("declared") is not True:
        return None
    placement = event.detail.get("placement")
    return placement if isinstance(placement, str) else None


def patient(store: Store, device: str) -> PatientView | None:
    return next((p for p in patients(store) if p.device == device), None)


def edges(store: Store) -> list[EdgeView]:
    """Every edge node that announced itself or sent events, with the model versions it used, by node."""
    status = {e.node: e for e in store.edges()}
    models: dict[str, list[ModelInUse]] = {node: [] for node in status}
    for m in store.edge_models():
        models.setdefault(m.node, []).append(ModelInUse(m.model, m.version, m.last_seen_us))
    views = []
    for node in sorted(models):
        e = status.get(node)
        views.append(EdgeView(node, e.site if e else None, e.status if e else "unknown", e.updated_us if e else None,
                              tuple(models[node])))
    return views


def node_models(store: Store, node: str) -> NodeModels | None:
    return next((NodeModels(e.node, e.models) for e in edges(store) if e.node == node), None)


def totals(store: Store, duplicates: int | None = None) -> Totals:
    """Rows per :class:`~gateway.store.records.Table`; ``duplicates`` summed over the streams unless given."""
    if duplicates is None:
        duplicates = sum(s.duplicates for s in store.stream_stats())
    return Totals(**{t.value: store.count(t) for t in Table}, duplicates=duplicates)


def summary(store: Store) -> Summary:
    """Patients, totals and edges in one view (the dashboard's status line, the demo's summary)."""
    listed = patients(store)
    refused = sum(loss.duplicates for p in listed for loss in p.loss.values())
    return Summary(tuple(listed), totals(store, refused), tuple(edges(store)))
