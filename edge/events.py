"""The one place this node builds its events: inferences, signal-quality findings and alerts.

Every event carries the node's site and name, the model (and version) it came from, the window it
describes and ``t_us`` = the window's end. Alert events also carry ``detail.alert_id``; the raised
event's id *is* the alert id, and the resolving event names it, so the gateway closes that alert.

Alert ids follow one policy (:func:`alert_id`): derived from the site, device, model, label and the
device time of the window that raised the alert. A re-inference of the same signal (an edge that
crashed before its outbox committed, a second node taking over) therefore raises the alert under
the same id, and the store keeps it once. The resolving event's id derives from the alert id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge.dsp.quality import SignalProblem
from iomt.wire.descriptor import DESCRIPTOR_VERSION, EVENT_MODEL, DeviceDescriptor, Placement
from iomt.wire.events import AlertState, Event, EventKind, Priority
from models.preprocessing import PREPROCESSING_VERSION

if TYPE_CHECKING:
    from edge.alerts import AlertLabel

#: Namespace of the name-based (UUID version 5) alert and alert-event ids.
ALERT_NAMESPACE = uuid.UUID("5d1c3a8e-7f0b-4f43-9a35-1e0d6c2b9a41")
#: Model name of signal-quality events (not a model: the checks in :mod:`edge.dsp.quality`).
SIGNAL_QUALITY = "signal_quality"
#: Label of the event that says a stream's signal is usable again.
SIGNAL_OK = "signal_ok"
#: Model name of the event that forwards a device's descriptor to the gateway (not a model either).
DESCRIPTOR = EVENT_MODEL


def alert_id(site: str, device: str, model: str, label: str, raised_by_us: int) -> str:
    """The id of the alert that ``model`` raised with ``label`` for ``device`` on the window identified
    by the device time ``raised_by_us`` (a beat's R-peak, a fall's impact, a window's end).

    A hex string like every event id, so it can stand in a URL path (``/api/v1/alerts/{id}/...``).
    """
    return uuid.uuid5(ALERT_NAMESPACE, f"{site}\x1f{device}\x1f{model}\x1f{label}\x1f{raised_by_us}").hex


@dataclass(frozen=True, slots=True)
class EventFactory:
    """Builds the events of one edge node (``site``, ``node``)."""

    site: str
    node: str

    def inference(
        self, device: str, model: str, version: str, label: str, score: float, window: tuple[int, int],
        detail: Mapping[str, Any], value: float | None = None,
    ) -> Event:
        """A model's (or a derived measure's, e.g. heart rate's) output for the window ``(start, end)``."""
        return Event(
            device=device, model=model, model_version=version, kind=EventKind.INFERENCE, label=label,
            score=score, window_start_us=window[0], window_end_us=window[1], t_us=window[1], site=self.site,
            node=self.node, value=value, detail=detail,
        )

    def quality(self, device: str, stream: str, problem: SignalProblem | None, window: tuple[int, int]) -> Event:
        """A stream's signal went bad (``problem``) or recovered (``None``) in ``window``."""
        return Event(
            device=device, model=SIGNAL_QUALITY, model_version=PREPROCESSING_VERSION, kind=EventKind.QUALITY,
            label=problem or SIGNAL_OK, score=1.0 if problem else 0.0, window_start_us=window[0],
            window_end_us=window[1], t_us=window[1], site=self.site, node=self.node,
            priority=Priority.MEDIUM if problem else Priority.INFO, detail={"stream": stream},
        )

    def model_quality(
        self, device: str, model: str, version: str, label: str, problem: bool, window: tuple[int, int],
        detail: Mapping[str, Any],
    ) -> Event:
        """A model's input for ``device`` in ``window`` could not be analysed (``problem``; ``label`` says
        why, e.g. the emotion model's ``no_ppg``), or can be again: a ``quality`` event of the model itself,
        unlike :meth:`quality`, which is about one stream's signal."""
        return Event(
            device=device, model=model, model_version=version, kind=EventKind.QUALITY, label=label,
            score=1.0 if problem else 0.0, window_start_us=window[0], window_end_us=window[1], t_us=window[1],
            site=self.site, node=self.node, priority=Priority.MEDIUM if problem else Priority.INFO, detail=detail,
        )

    def descriptor(self, device: str, descriptor: DeviceDescriptor | None, t_us: int) -> Event:
        """``device`` declared ``descriptor`` (``None``: withdrew it), as this node learnt at ``t_us`` (its
        clock: a descriptor carries no time). An inference event of model ``descriptor`` whose label is
        the placement, so the gateway shows the newest one per device as it shows the heart rate."""
        motion = descriptor.motion if descriptor is not None else None
        detail: dict[str, Any] = {"declared": descriptor is not None, "placement": (
            motion.placement.value if motion is not None else Placement.UNKNOWN.value)}
        if motion is not None:
            detail.update(acc_unit=motion.acc_unit.value, axes=motion.axes.value,
                          gyro_unit=None if motion.gyro_unit is None else motion.gyro_unit.value)
        return Event(
            device=device, model=DESCRIPTOR, model_version=str(DESCRIPTOR_VERSION), kind=EventKind.INFERENCE,
            label=detail["placement"], score=1.0, window_start_us=t_us, window_end_us=t_us, t_us=t_us,
            site=self.site, node=self.node, detail=detail,
        )

    def alert(
        self, device: str, model: str, version: str, label: AlertLabel, priority: Priority, state: AlertState,
        score: float, window: tuple[int, int], raised_by_us: int, **detail: object,
    ) -> Event:
        """An alert raised or resolved in ``window``; ``raised_by_us`` identifies the window that raised
        it (the same value on the raising and the resolving event: see :func:`alert_id`)."""
        alert = alert_id(self.site, device, model, label, raised_by_us)
        # the raised event *is* the alert: its id is the alert id, which the resolving event refers to
        event_id = alert if state is AlertState.RAISED else uuid.uuid5(ALERT_NAMESPACE, f"{alert}\x1f{state}").hex
        return Event(
            device=device, model=model, model_version=version, kind=EventKind.ALERT, label=label,
            score=float(score), window_start_us=window[0], window_end_us=window[1], t_us=window[1],
            site=self.site, node=self.node, priority=priority, state=state, detail={"alert_id": alert, **detail},
            event_id=event_id,
        )
