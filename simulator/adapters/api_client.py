"""The simulator as a business on the platform's public REST API: one delivery request.

Why in the adapters: it is HTTP, and the world (`simulator.world.demand`) only draws
the orders; the runner decides whether they go through the API (this module) or
straight to Kafka, and owns the client and its connection pool.

A request no drone could ever serve is an answer, not an error: the API refuses it at
once with 422 and a machine-readable `reason` (`contracts.Unservable`). `post_order`
returns that reason, and `DemandTally` holds it against the reason the order was drawn
with (`DeliveryOrder.unservable`), so a fault scenario can count every impossible
request refused with the right reason and none accepted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import httpx

from simulator.world.demand import DeliveryOrder


@dataclass(frozen=True, slots=True)
class OrderAnswer:
    """The API's answer to one order: accepted (202), or refused as unservable (422)."""

    body: dict[str, object]
    refused: str | None = None
    """The problem's `reason` when the API refused the order as unservable; None: accepted."""


async def post_order(client: httpx.AsyncClient, api_key: str, order: DeliveryOrder) -> OrderAnswer:
    """Request a delivery through the API, as a business would.

    Raises `httpx.HTTPError` on every other failure (a 422 without a `reason` is a body
    the API could not read: the simulator's bug, not a refusal).
    """
    response = await client.post(
        "/v1/deliveries",
        json={
            "pickup": {"lat": order.pickup.lat, "lon": order.pickup.lon},
            "dropoff": {"lat": order.dropoff.lat, "lon": order.dropoff.lon},
        },
        headers={"X-API-Key": api_key} if api_key else {},
    )
    if response.status_code == httpx.codes.UNPROCESSABLE_ENTITY:
        problem = response.json()
        reason = problem.get("reason") if isinstance(problem, dict) else None
        if isinstance(reason, str):
            return OrderAnswer(problem, refused=reason)
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return OrderAnswer(body)


@dataclass
class DemandTally:
    """The API's answers held against what each order was drawn to be."""

    accepted: int = 0
    """Servable orders the API accepted."""
    servable_refused: int = 0
    """Servable orders the API refused: the simulator and the platform disagree."""
    unservable_asked: Counter[str] = field(default_factory=Counter)
    """Impossible orders sent, by the reason they must be refused with."""
    unservable_refused: Counter[str] = field(default_factory=Counter)
    """Impossible orders refused with exactly that reason."""
    unservable_refused_otherwise: int = 0
    """Impossible orders refused with another reason."""
    unservable_accepted: int = 0
    """Impossible orders the API accepted: a delivery that will wait for nothing."""

    def record(self, order: DeliveryOrder, answer: OrderAnswer) -> None:
        """Count one answered order."""
        if order.unservable is None:
            if answer.refused is None:
                self.accepted += 1
            else:
                self.servable_refused += 1
            return
        self.unservable_asked[order.unservable] += 1
        if answer.refused is None:
            self.unservable_accepted += 1
        elif answer.refused == order.unservable:
            self.unservable_refused[order.unservable] += 1
        else:
            self.unservable_refused_otherwise += 1

    def summary(self) -> dict[str, int]:
        """Flat counts for the run's summary (a restarted run's are added up key by key).

        Nothing when no impossible order was asked, so ordinary runs read as before.
        """
        if not self.unservable_asked and not self.servable_refused:
            return {}
        counts = {
            "servable_refused": self.servable_refused,
            "unservable_asked": self.unservable_asked.total(),
            "unservable_refused_as_expected": self.unservable_refused.total(),
            "unservable_refused_otherwise": self.unservable_refused_otherwise,
            "unservable_accepted": self.unservable_accepted,
        }
        for reason, asked in sorted(self.unservable_asked.items()):
            counts[f"unservable_asked:{reason}"] = asked
            counts[f"unservable_refused:{reason}"] = self.unservable_refused[reason]
        return counts
