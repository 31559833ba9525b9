"""The socket sends the ETA's window the update carries (issue 19 part 4): the stream
worker learned it, so every API replica sends the same; a snapshot read back from the
read model sends the window recorded with it."""

from __future__ import annotations

import json
from datetime import timedelta

import msgspec

from api.routes.tracking import _recorded, message
from tests.support.factories import T0, tracking


def test_the_socket_s_update_carries_the_update_s_own_window() -> None:
    update = msgspec.structs.replace(
        tracking("d1", 1, T0, eta_in=timedelta(seconds=300)),
        eta_earliest=T0 + timedelta(seconds=290),
        eta_latest=T0 + timedelta(seconds=320),
    )
    sent = json.loads(message("update", update))
    assert sent["eta_earliest"] == "2026-11-27T12:04:50Z"
    assert sent["eta_latest"] == "2026-11-27T12:05:20Z"
    older = tracking("d1", 2, T0, eta_in=timedelta(seconds=300))  # before the window
    assert json.loads(message("update", older))["eta_earliest"] is None


def test_a_recorded_snapshot_carries_the_window_recorded_with_it() -> None:
    update = tracking("d1", 7, T0, eta_in=timedelta(seconds=60))
    row = {
        "delivery_id": "d1",
        "sequence": 7,
        "status": update.status,
        "lat": update.lat,
        "lon": update.lon,
        "altitude_m": update.altitude_m,
        "remaining_m": update.remaining_m,
        "eta": update.eta,
        "observed_at": T0,
        "eta_earliest": T0 + timedelta(seconds=55),
        "eta_latest": T0 + timedelta(seconds=70),
    }
    sent = json.loads(_recorded(row))
    assert (sent["eta_earliest"], sent["eta_latest"]) == (
        "2026-11-27T12:00:55Z",
        "2026-11-27T12:01:10Z",
    )
