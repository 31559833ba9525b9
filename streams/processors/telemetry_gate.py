"""The telemetry gate: validate raw fixes, dead-letter the bad, route the good.

Telemetry is keyed by drone, so one worker sees every fix of the drones of its
partitions; the last accepted fix per drone is all the validator needs. Valid fixes of
drones on a mission go to `delivery-telemetry`, keyed by delivery. Dispatch hears of a
drone when its availability or its mission changes, and at least every `fleet_refresh`
(liveness: a drone dispatch does not hear of is lost), not on every fix, and in one
`FleetHeard` record per batch (`fleet_heard`) rather than a record per drone: at 10,000
drones the refresh alone is 2,000 drones a second, and as single records through the
dispatcher's Faust agent they were 18 % of the worker's profile, in the event loop the
gate shares (BENCHMARKS.md, "After issues 17 and 18"). A drone's milestones (`DroneMilestone`:
returned, charged, battery low, aborted) share its topic and go to dispatch at once as
they are (see `streams.processors.dispatcher` for why); dispatch orders a drone's
milestones and fixes by their times, so the batch record coming after a milestone of the
same batch changes nothing.

Everything the gate accepts (valid fixes and milestones) also goes to
`accepted-telemetry`, as the original bytes and keyed by drone: that topic, not the raw
`telemetry`, is what the projections keep as history, so a refused fix (null island,
future-dated, too old, an impossible jump, a duplicate) is in the dead letters and
nowhere else. Forwarding the bytes unchanged costs no re-encoding and keeps the record
the drone sent, event id included; the key is the drone id the event carries (the
simulator keys `telemetry` the same way), so each drone's history stays on one
partition in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from contracts import (
    FLEET_HEARD_MAX,
    DecodeError,
    DroneHeard,
    DroneMilestone,
    FleetHeard,
    TelemetryReported,
    decode_event,
    encode_event,
    new_event_id,
)
from streams.domain.validation import LastFix, ValidationPolicy, check_fix, remember
from streams.processors.records import Outgoing, SourceRecord, dead_letter

FLEET_KEY = b"fleet"
"""The dispatch topic has one partition; every record carries this key."""


@dataclass
class TelemetryGate:
    """Validates raw telemetry; forwards what the deliveries and dispatch need."""

    policy: ValidationPolicy = field(default_factory=ValidationPolicy)
    fleet_refresh: timedelta = timedelta(seconds=5)
    """Dispatch hears of every drone at least this often: well under its `silent_after`."""
    last_fixes: dict[str, LastFix] = field(default_factory=dict)
    told_dispatch: dict[str, tuple[str | None, datetime]] = field(default_factory=dict)
    """Per drone: what dispatch was last told it flies ("" idle, None busy with no
    delivery, else the delivery), and the fix time."""
    counts: dict[str, int] = field(default_factory=dict)
    name: str = "gate"
    """Who tells dispatch (the worker's instance): the `gate` of its `FleetHeard` records."""
    heard: list[DroneHeard] = field(default_factory=list)
    """The drones to tell dispatch of at the end of the batch, in fix order."""
    told: int = 0
    """`FleetHeard` records written since the gate started (their sequence)."""

    def process(self, record: SourceRecord, now: datetime) -> list[Outgoing]:
        """Dead-letter an invalid fix; accept a valid one, routing it to its delivery."""
        try:
            event = decode_event(record.value)
        except DecodeError as error:
            return self._refuse(record, error.reason, error.detail, now)
        if isinstance(event, DroneMilestone):
            self.counts["milestone"] = self.counts.get("milestone", 0) + 1
            return [
                Outgoing("accepted_telemetry", event.drone_id.encode(), record.value),
                Outgoing("dispatch", FLEET_KEY, record.value),
            ]
        if not isinstance(event, TelemetryReported):
            return self._refuse(record, "unexpected_type", event.event_type, now)
        reason = check_fix(event, self.last_fixes.get(event.drone_id), now, self.policy)
        if reason is not None:
            return self._refuse(record, reason, f"drone {event.drone_id} seq {event.sequence}", now)
        self.last_fixes[event.drone_id] = remember(event)
        self.counts["valid"] = self.counts.get("valid", 0) + 1
        out = [Outgoing("accepted_telemetry", event.drone_id.encode(), record.value)]
        if event.delivery_id is not None:
            out.append(Outgoing("delivery_telemetry", event.delivery_id.encode(), record.value))
        if self._dispatch_needs(event):
            self.heard.append(
                DroneHeard(
                    drone_id=event.drone_id,
                    occurred_at=event.occurred_at,
                    lat=event.lat,
                    lon=event.lon,
                    battery_pct=event.battery_pct,
                    phase=event.phase,
                    delivery_id=event.delivery_id,
                )
            )
        return out

    def fleet_heard(self, now: datetime) -> list[Outgoing]:
        """The batch's word to dispatch: `FleetHeard` records naming the drones due, if any.

        Call it once per batch, after its records; it empties `heard`.
        """
        heard, self.heard = self.heard, []
        out = []
        for start in range(0, len(heard), FLEET_HEARD_MAX):
            self.told += 1
            event = FleetHeard(
                event_id=new_event_id(),
                sequence=self.told,
                occurred_at=now,
                recorded_at=now,
                gate=self.name,
                drones=tuple(heard[start : start + FLEET_HEARD_MAX]),
            )
            out.append(Outgoing("dispatch", FLEET_KEY, encode_event(event)))
        return out

    def _dispatch_needs(self, fix: TelemetryReported) -> bool:
        """True when availability or mission changed, or dispatch has not heard lately.

        Dispatch sees every change of a drone's mission, so that a drone back from one
        (no delivery, flying home) is not taken for a drone that forgot it.
        """
        doing = "" if fix.phase == "idle" and fix.delivery_id is None else fix.delivery_id
        told = self.told_dispatch.get(fix.drone_id)
        if told is not None and told[0] == doing and fix.occurred_at - told[1] < self.fleet_refresh:
            return False
        self.told_dispatch[fix.drone_id] = (doing, fix.occurred_at)
        return True

    def _refuse(
        self, record: SourceRecord, reason: str, detail: str, now: datetime
    ) -> list[Outgoing]:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        return [dead_letter(record, "validate-telemetry", reason, detail, now)]
