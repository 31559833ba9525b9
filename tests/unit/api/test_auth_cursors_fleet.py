"""The API's new pure parts: API keys, page cursors, the fleet feed's coalescing, OpenAPI."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from api import auth_keys, cursors
from api.auth_ws import credential_from_subprotocols, origin_allowed
from api.errors import InvalidRequestError
from api.fleet_feed import FleetHub
from api.main import create_app
from api.settings import ApiSettings
from tests.support.factories import T0, tracking


def test_keys_are_random_hashed_and_parsed() -> None:
    one, two = auth_keys.issue(), auth_keys.issue()
    assert one.key != two.key and one.key_id != two.key_id
    assert auth_keys.key_id_of(one.key) == one.key_id
    assert one.sha256 == auth_keys.fingerprint(one.key) and one.key not in one.sha256
    assert auth_keys.matches(one.key, one.sha256)
    assert not auth_keys.matches(two.key, one.sha256)
    for malformed in ("", "dfk", one.key + "x", one.key.replace("dfk.", "dfx."), "dfk.zz.yy"):
        assert auth_keys.key_id_of(malformed) is None, malformed


def test_the_key_cache_is_bounded_and_expires() -> None:
    cache = auth_keys.KeyCache(size=2, ttl_s=10)
    row = auth_keys.KnownKey("b1", "ab" * 32)
    cache.put("k1", row, now=0)
    assert cache.get("k1", now=10) == row
    assert cache.get("k1", now=10.5) is None, "expired"
    for index, key_id in enumerate(("k1", "k2", "k3")):
        cache.put(key_id, row, now=20 + index)
    assert cache.get("k1", now=23) is None and cache.get("k3", now=23) == row


def test_cursors_round_trip_and_refuse_forgeries() -> None:
    at = T0 + timedelta(microseconds=123)
    assert cursors.decode_deliveries(cursors.encode_deliveries(at, "d1")) == (at, "d1")
    assert cursors.decode_drones(cursors.encode_drones("drone-7")) == "drone-7"
    forged = [
        "!!!",
        "e30",  # {}
        cursors.encode_drones("drone-7"),  # another list's cursor
        cursors.encode("deliveries", ["not a time", "d1"]),
        cursors.encode("deliveries", ["2026-01-01T00:00:00", "d1"]),  # naive
        cursors.encode("drones", ["a\x00b"]),
        "x" * 600,
    ]
    for cursor in forged:
        with pytest.raises(InvalidRequestError):
            cursors.decode_deliveries(cursor) if "drone" not in cursor else cursors.decode_drones(
                cursor
            )


def test_websocket_handshake_helpers() -> None:
    assert credential_from_subprotocols(["dronefleet.v1", "bearer.abc"]) == "abc"
    assert credential_from_subprotocols(["dronefleet.v1"]) is None
    assert origin_allowed(None, ["http://a"]) and origin_allowed("http://a", ["http://a"])
    assert not origin_allowed("http://evil", ["http://a"])


def test_a_slow_operator_gets_each_deliverys_newest_update_never_a_backlog() -> None:
    hub = FleetHub(latest_cache_size=100, max_missed=1000)
    fleet = hub.subscribe_fleet()
    customer = hub.subscribe("d1")
    for seq in range(1, 51):
        for delivery in ("d1", "d2", "d3"):
            hub.publish(tracking(delivery, seq, T0))
    hub.publish(tracking("d1", 7, T0))  # stale: not offered
    taken = asyncio.run(fleet.take())
    assert [(u.delivery_id, u.sequence) for u in taken] == [("d1", 50), ("d2", 50), ("d3", 50)]
    assert fleet.pending() == 0 and fleet.coalesced == 147
    assert customer.queue.get_nowait().sequence == 50, "customers are served as before"


def test_the_fleet_buffer_is_bounded_and_a_stuck_operator_is_dropped() -> None:
    hub = FleetHub(latest_cache_size=10, max_missed=5)
    fleet = hub.subscribe_fleet()
    for index in range(100):
        hub.publish(tracking(f"d{index}", 1, T0))
    assert fleet.pending() == 10
    for seq in range(2, 8):
        hub.publish(tracking("d99", seq, T0))
    assert fleet.dropped.is_set() and hub.fleet_subscribers() == 0 and hub.fleet_dropped == 1


def test_the_openapi_document_describes_errors_and_credentials() -> None:
    app = create_app(ApiSettings(token_secret="s" * 32))
    document = app.openapi()
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == {"BusinessKey", "OperatorKey", "OperatorBearer", "TrackingToken"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        path,
                        method,
                        status,
                    )
    listing = document["paths"]["/v1/deliveries"]["get"]
    assert listing["security"] == [{"BusinessKey": []}]
    assert {"401", "422"} <= set(listing["responses"])
    assert document["paths"]["/v1/fleet/summary"]["get"]["security"] == [{"OperatorKey": []}]
    assert {"429", "413"} <= set(document["paths"]["/v1/deliveries"]["post"]["responses"])
    assert "429" not in document["paths"]["/healthz"]["get"]["responses"]
    metrics = document["paths"]["/metrics"]["get"]
    assert {"OperatorBearer": []} in metrics["security"] and "401" in metrics["responses"]
