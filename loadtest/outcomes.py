"""How a scenario's deliveries ended, read from the deliveries topic (the system of record).

A fault scenario that silences drones or stops the simulator must leave no delivery
behind: once the simulator has stopped, every drone is silent, so dispatch takes back
every mission (rescheduled or failed with `drone_lost`) and a delivery that waits longer
than the promise fails with `no_drone_available`. `settle` reads the topic until every
requested delivery has reached a final state, or its time is up, and counts the ends
and the reasons.

It also holds every accepted request against the airspace in force (the last record of
the `airspace` topic, with the API's own rules, `contracts.AirspaceRules`): a request
no drone could ever serve must have been refused at the door, so none may be in the
log. This is the platform's side of the `impossible-requests` scenario, read from the
system of record rather than from what the simulator says it was answered.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from contracts import (
    FINAL_STATUSES,
    AirspacePublished,
    AirspaceRules,
    DeliveryCancelled,
    DeliveryFailed,
    DeliveryRequested,
    DeliveryRescheduled,
    Topics,
    decode_event,
)
from kafkaio.last_value import last_value
from kafkaio.log_range import read_to_end

STATUS_OF = {
    "DeliveryRequested": "requested",
    "DroneAssigned": "assigned",
    "PickedUp": "picked_up",
    "Delivered": "delivered",
    "DeliveryCancelled": "cancelled",
    "DeliveryRescheduled": "rescheduled",
    "DeliveryFailed": "failed",
}
"""The status each delivery event leaves its delivery in (the aggregate's fold, in short)."""


@dataclass
class Outcomes:
    """Deliveries by last status, and the reasons of reschedules and failures."""

    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    waited_s: float = 0.0
    unservable_accepted: Counter[str] = field(default_factory=Counter)
    """Requests in the log that the airspace in force refuses, by the reason: must be none."""
    airspace_known: bool = False
    """Whether the airspace topic had an airspace to hold the requests against."""

    @property
    def not_final(self) -> int:
        """Deliveries left in a state that is not an end."""
        return sum(n for status, n in self.statuses.items() if status not in FINAL_STATUSES)

    def as_dict(self) -> dict[str, object]:
        """Plain values, for JSON."""
        return {
            "statuses": dict(self.statuses),
            "reasons": dict(self.reasons),
            "not_final": self.not_final,
            "waited_s": round(self.waited_s, 1),
            "unservable_accepted": dict(self.unservable_accepted),
            "airspace_known": self.airspace_known,
        }


async def read_outcomes(bootstrap: str, topics: Topics) -> Outcomes:
    """Every delivery's last status and every reason, from the deliveries topic."""
    partitions = [
        TopicPartition(topics.deliveries.name, p) for p in range(topics.deliveries.partitions)
    ]
    last: dict[str, tuple[int, str]] = {}
    outcomes = Outcomes()
    rules = await airspace_rules(bootstrap, topics)
    outcomes.airspace_known = rules is not None
    async for batch in read_to_end(bootstrap, partitions):
        for records in batch.fetched.values():
            for record in records:
                if record.value is None:
                    continue
                event = decode_event(record.value)
                status = STATUS_OF.get(event.event_type)
                delivery_id = getattr(event, "delivery_id", None)
                if status is None or delivery_id is None:
                    continue
                if rules is not None and isinstance(event, DeliveryRequested):
                    count_unservable(rules, event, outcomes.unservable_accepted)
                if event.sequence > last.get(delivery_id, (0, ""))[0]:
                    last[delivery_id] = (event.sequence, status)
                if isinstance(event, DeliveryRescheduled | DeliveryFailed):
                    outcomes.reasons[f"{status}:{event.reason}"] += 1
                elif isinstance(event, DeliveryCancelled):
                    outcomes.reasons["cancelled"] += 1
    outcomes.statuses.update(status for _, status in last.values())
    return outcomes


async def airspace_rules(bootstrap: str, topics: Topics) -> AirspaceRules | None:
    """The API's rules over the airspace in force (None: none published)."""
    raw = await last_value(bootstrap, topics.airspace.name)
    event = decode_event(raw) if raw is not None else None
    return AirspaceRules(event) if isinstance(event, AirspacePublished) else None


def count_unservable(
    rules: AirspaceRules, request: DeliveryRequested, unservable: Counter[str]
) -> None:
    """Count `request` under its reason if no drone could ever serve it."""
    refused = rules.refusal(request.pickup, request.dropoff)
    if refused is not None:
        unservable[refused[0]] += 1


def settle(bootstrap: str, topics: Topics, timeout_s: float) -> Outcomes:
    """The outcomes once no delivery is left in a non-final state, or at `timeout_s`."""
    started = time.monotonic()
    while True:
        outcomes = asyncio.run(read_outcomes(bootstrap, topics))
        outcomes.waited_s = time.monotonic() - started
        if outcomes.not_final == 0 or outcomes.waited_s >= timeout_s:
            return outcomes
        time.sleep(2.0)
