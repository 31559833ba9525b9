"""The demo's pure parts: its demand sized to its fleet, its lines for socket messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.demo import MISSION_MINUTES, describe, sized_demand


@given(st.integers(min_value=1, max_value=10_000))
def test_the_demand_keeps_half_the_fleet_busy(drones: int) -> None:
    per_minute = sized_demand(drones)
    busy_drones = per_minute * MISSION_MINUTES  # Little's law: arrivals x time in service
    assert busy_drones == pytest.approx(drones / 2)


def test_each_socket_message_is_one_readable_line() -> None:
    update = {
        "type": "update",
        "status": "en_route_to_pickup",
        "remaining_m": 1234.4,
        "eta": "2026-12-05T15:20:31.5+00:00",
    }
    assert describe(update) == "en_route_to_pickup       1234 m to go   ETA 15:20:31"
    waiting = {"type": "state", "status": "requested", "waiting_ahead": 2, "reason": None}
    assert describe(waiting) == "requested            waiting for a drone, 2 deliveries ahead"
    failed = {"type": "state", "status": "failed", "waiting_ahead": None, "reason": "battery"}
    assert describe(failed) == "failed               battery"
