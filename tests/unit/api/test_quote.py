"""The quote at request time (`api.quote`, issue 19): its parts add up, it follows the
routes round the zones, it waits for drones only when too few are free, and it is
counted with the stream worker's flight profile."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api import queries
from api.airspace import AirspaceKeeper
from api.main import create_app
from api.quote import (
    PREFLIGHT_S,
    QUOTE_WIND_MPS,
    Fleet,
    FreeDrones,
    moved,
    public,
    quote,
    quote_now,
    track_deg,
    track_slowdown,
    wind_slowdown,
)
from api.routes import deliveries
from api.schemas import DeliveryRequestIn, PointIn, QuotePublic
from api.settings import ApiSettings
from api.waiting import WaitingLine
from contracts import GeoPoint, Topics
from contracts.airspace import distance_m
from contracts.eta import FlightProfile
from streams.domain.eta import EtaModel
from streams.settings import StreamsSettings
from tests.support.airspaces import (
    DEPOT_EAST,
    EAST_OF_SQUARE,
    WEST_OF_SQUARE,
    square_rules,
)
from tests.support.factories import T0

RULES = square_rules()
PROFILE = FlightProfile()
LEG_FIXED_S = 60.0 / 5.0 + 60.0 / 4.0 + 15.0 / 8.0 + 15.0 / 8.0
"""Climb, descent, and speeding up from rest to 15 m/s then braking, at 4 m/s^2."""


def test_the_flight_profile_is_the_stream_worker_s() -> None:
    eta, streams = EtaModel(), StreamsSettings.model_fields
    assert PROFILE.cruise_speed_mps == eta.cruise_speed_mps == streams["cruise_speed_mps"].default
    assert PROFILE.cruise_altitude_m == eta.cruise_altitude_m
    assert PROFILE.climb_rate_mps == eta.climb_rate_mps == streams["climb_rate_mps"].default
    assert PROFILE.descent_rate_mps == eta.descent_rate_mps
    assert PROFILE.pickup_dwell_s == eta.pickup_dwell_s == eta.dropoff_dwell_s
    assert PROFILE.dropoff_dwell_s == streams["dwell_s"].default
    assert (
        PROFILE.acceleration_mps2 == eta.acceleration_mps2 == streams["acceleration_mps2"].default
    )
    assert PROFILE.deceleration_mps2 == streams["deceleration_mps2"].default
    assert isinstance(eta, FlightProfile)  # one profile, in contracts: the quote's is the ETA's


def test_with_a_free_drone_the_parts_add_up_along_the_routes() -> None:
    fleet = Fleet.of([DEPOT_EAST], busy=3)
    made = quote(EAST_OF_SQUARE, WEST_OF_SQUARE, 0, fleet, RULES, PROFILE, T0)
    assert made.wait_s == 0.0
    to_pickup = RULES.route_m(DEPOT_EAST, EAST_OF_SQUARE)
    carry = RULES.route_m(EAST_OF_SQUARE, WEST_OF_SQUARE)
    assert carry - distance_m(EAST_OF_SQUARE, WEST_OF_SQUARE) > 500  # round the square
    assert abs(made.to_pickup_s - (LEG_FIXED_S + to_pickup / 15.0)) < 1e-9
    assert abs(made.to_dropoff_s - (LEG_FIXED_S + carry / 15.0 + 10.0)) < 1e-9
    assert made.preflight_s == PREFLIGHT_S
    # The pickup is the parcel on board (`PickedUp`): the landing and its 10 s dwell.
    assert made.pickup_at == T0 + timedelta(seconds=PREFLIGHT_S + made.to_pickup_s + 10.0)
    assert made.dropoff_at == made.pickup_at + timedelta(seconds=made.to_dropoff_s)


def test_the_time_before_take_off_is_its_own_term_of_the_hand_sum() -> None:
    fleet = Fleet.of([DEPOT_EAST], busy=0)
    made = quote(EAST_OF_SQUARE, WEST_OF_SQUARE, 0, fleet, RULES, PROFILE, T0, preflight_s=7.5)
    to_pickup = RULES.route_m(DEPOT_EAST, EAST_OF_SQUARE)
    carry = RULES.route_m(EAST_OF_SQUARE, WEST_OF_SQUARE)
    by_hand = (
        7.5  # the request to the take-off
        + LEG_FIXED_S
        + to_pickup / 15.0
        + 10.0  # the pickup's dwell
        + LEG_FIXED_S
        + carry / 15.0
        + 10.0  # the drop-off's
    )
    assert made.preflight_s == 7.5
    on_board = 7.5 + LEG_FIXED_S + to_pickup / 15 + 10.0
    assert abs((made.pickup_at - T0).total_seconds() - on_board) < 1e-5
    assert abs((made.dropoff_at - T0).total_seconds() - by_hand) < 1e-5
    # The API's setting is the term, defaulting to the measured figure.
    assert ApiSettings(token_secret="s" * 32).quote_preflight_s == PREFLIGHT_S


def test_the_nearest_free_drone_flies_it() -> None:
    near = quote(EAST_OF_SQUARE, WEST_OF_SQUARE, 0, Fleet.of([DEPOT_EAST], 0), RULES, PROFILE, T0)
    both = Fleet.of([GeoPoint(47.40, 8.60), DEPOT_EAST], 0)
    assert quote(EAST_OF_SQUARE, WEST_OF_SQUARE, 0, both, RULES, PROFILE, T0) == near


def test_a_delivery_waits_only_when_too_few_drones_are_free() -> None:
    fleet = Fleet.of([DEPOT_EAST, DEPOT_EAST], busy=4)
    waits = [
        quote(EAST_OF_SQUARE, WEST_OF_SQUARE, ahead, fleet, RULES, PROFILE, T0).wait_s
        for ahead in range(5)
    ]
    assert waits[0] == waits[1] == 0.0
    assert 0.0 < waits[2] < waits[3] < waits[4]
    # Each delivery waited out takes a busy drone for about one mission, shared by four.
    assert abs(waits[3] - 2 * waits[2]) < 1e-6 and abs(waits[4] - 3 * waits[2]) < 1e-6


@settings(max_examples=200, deadline=None)
@given(
    ahead=st.integers(0, 500),
    free=st.integers(0, 5),
    busy=st.integers(0, 500),
    lat=st.floats(47.35, 47.40),
    lon=st.floats(8.50, 8.58),
)
def test_never_before_now_and_the_drop_off_after_the_pickup(
    ahead: int, free: int, busy: int, lat: float, lon: float
) -> None:
    pickup = GeoPoint(lat, lon)
    if RULES.zone_at(pickup) is not None:
        return
    fleet = Fleet.of([DEPOT_EAST] * free, busy)
    made = quote(pickup, WEST_OF_SQUARE, ahead, fleet, RULES, PROFILE, T0)
    assert made.wait_s >= 0.0 and T0 < made.pickup_at < made.dropoff_at


def test_the_customer_hears_of_a_quote_that_moved_by_more_than_30_s() -> None:
    made = quote(EAST_OF_SQUARE, WEST_OF_SQUARE, 0, Fleet.of([DEPOT_EAST], 0), RULES, PROFILE, T0)
    first = public(made, T0)

    def shifted(seconds: float) -> QuotePublic:
        later = first.dropoff_eta + timedelta(seconds=seconds)
        return first.model_copy(update={"dropoff_eta": later})

    assert moved(None, first)
    assert not moved(first, shifted(29.0)) and not moved(first, shifted(-29.0))
    assert moved(first, shifted(31.0)) and moved(first, shifted(-31.0))


def test_free_drones_are_read_once_per_refresh_period_for_everyone() -> None:
    now = [0.0]
    drones = FreeDrones(refresh_s=5.0, clock=lambda: now[0])
    rows = [
        {"lat": 47.375, "lon": 8.56, "free": True},
        {"lat": 47.39, "lon": 8.55, "free": False},
    ]

    async def read() -> list[dict[str, Any]]:
        return rows

    async def scenario() -> None:
        fleets = await asyncio.gather(*(drones.fleet(read) for _ in range(10)))
        assert drones.reads == 1
        assert fleets[0].free == 1 and fleets[0].busy == 1
        now[0] = 4.9
        await drones.fleet(read)
        assert drones.reads == 1
        now[0] = 5.0
        await drones.fleet(read)
        assert drones.reads == 2

    asyncio.run(scenario())


def test_the_openapi_document_has_the_quote_in_the_202_and_the_state_message() -> None:
    document = create_app(ApiSettings(token_secret="s" * 32)).openapi()
    schemas = document["components"]["schemas"]
    assert {"pickup_eta", "dropoff_eta", "wait_s"} <= set(schemas["QuotePublic"]["properties"])
    accepted = schemas["DeliveryAcceptedPublic"]["properties"]["quote"]
    assert {"$ref": "#/components/schemas/QuotePublic"} in accepted["anyOf"]
    created = document["paths"]["/v1/deliveries"]["post"]["responses"]["202"]
    assert created["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DeliveryAcceptedPublic"
    }


def test_quote_now_counts_the_whole_queue_ahead_of_a_new_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def free_drones(pool: object, silent_after_s: float) -> list[dict[str, Any]]:
        return [{"lat": DEPOT_EAST.lat, "lon": DEPOT_EAST.lon, "free": True}]

    async def waiting(pool: object) -> list[str]:
        return ["x", "y"]  # two waiting: more than the one free drone

    monkeypatch.setattr(queries, "free_drones", free_drones)
    monkeypatch.setattr(queries, "waiting_deliveries", waiting)
    keeper = AirspaceKeeper()

    async def scenario() -> None:
        args = (FreeDrones(5.0), WaitingLine(5.0), EAST_OF_SQUARE, WEST_OF_SQUARE)
        assert await quote_now(None, keeper, *args, None, T0) is None  # no airspace yet
        keeper.rules = RULES
        made = await quote_now(None, keeper, *args, None, T0)  # type: ignore[arg-type]
        assert made is not None and made.wait_s > 0 and made.quoted_at == T0
        next_in_line = await quote_now(None, keeper, *args, 0, T0)  # type: ignore[arg-type]
        assert next_in_line is not None and next_in_line.wait_s == 0.0
        assert next_in_line.dropoff_eta < made.dropoff_eta

    asyncio.run(scenario())


def test_a_read_model_that_fails_gives_no_quote_rather_than_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(pool: object, silent_after_s: float) -> list[dict[str, Any]]:
        raise psycopg.errors.UndefinedTable("drone_latest_view")

    monkeypatch.setattr(queries, "free_drones", broken)
    keeper = AirspaceKeeper()
    keeper.rules = RULES
    args = (FreeDrones(5.0), WaitingLine(5.0), EAST_OF_SQUARE, WEST_OF_SQUARE, 0, T0)
    assert asyncio.run(quote_now(None, keeper, *args)) is None  # type: ignore[arg-type]


@dataclass
class KeyedServices:
    """What a keyed delivery request uses of `api.deps.Services` (the log is faked)."""

    airspace: AirspaceKeeper
    settings: ApiSettings = field(default_factory=lambda: ApiSettings(token_secret="s" * 32))
    topics: Topics = field(default_factory=Topics.with_prefix)
    pool: None = None
    metrics: Any = field(
        default_factory=lambda: type("M", (), {"deliveries_requested": _Count()})()
    )
    line: WaitingLine = field(default_factory=lambda: WaitingLine(0.0))
    drones: FreeDrones = field(default_factory=lambda: FreeDrones(0.0))

    def waiting_line(self) -> WaitingLine:
        return self.line

    def free_drones(self) -> FreeDrones:
        return self.drones


class _Count:
    def inc(self) -> None:
        pass


def test_a_keyed_request_gets_a_quote_first_and_on_a_retry_while_it_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded: list[str] = []
    rows: dict[str, dict[str, Any]] = {}

    async def record(services: object, topic: str, key: str, value: bytes, what: str) -> None:
        recorded.append(key)

    async def delivery_status(pool: object, delivery_id: str) -> dict[str, Any] | None:
        return rows.get(delivery_id)

    async def free_drones(pool: object, silent_after_s: float) -> list[dict[str, Any]]:
        return [{"lat": DEPOT_EAST.lat, "lon": DEPOT_EAST.lon, "free": True}]

    async def waiting(pool: object) -> list[str]:
        return list(rows)

    monkeypatch.setattr(deliveries, "record", record)
    monkeypatch.setattr(queries, "delivery_status", delivery_status)
    monkeypatch.setattr(queries, "free_drones", free_drones)
    monkeypatch.setattr(queries, "waiting_deliveries", waiting)
    keeper = AirspaceKeeper()
    keeper.rules = RULES
    services = KeyedServices(keeper)
    body = DeliveryRequestIn(
        pickup=PointIn(lat=EAST_OF_SQUARE.lat, lon=EAST_OF_SQUARE.lon),
        dropoff=PointIn(lat=WEST_OF_SQUARE.lat, lon=WEST_OF_SQUARE.lon),
    )

    def ask() -> Any:
        return asyncio.run(deliveries._keyed_request(body, "b1", services, "order-1"))  # type: ignore[arg-type]

    first = ask()
    assert len(recorded) == 1 and first.quote is not None and first.quote.wait_s == 0.0
    row = {
        "business_id": "b1",
        "status": "requested",
        "requested_at": first.quote.quoted_at,
        "pickup_lat": EAST_OF_SQUARE.lat,
        "pickup_lon": EAST_OF_SQUARE.lon,
        "dropoff_lat": WEST_OF_SQUARE.lat,
        "dropoff_lon": WEST_OF_SQUARE.lon,
    }
    rows[first.delivery_id] = row
    again = ask()  # the retry: nothing recorded, the same delivery, a quote as of now
    assert len(recorded) == 1 and again.delivery_id == first.delivery_id
    assert again.tracking_token == first.tracking_token
    assert again.quote is not None and again.quote.wait_s == 0.0  # first in the queue
    assert abs((again.quote.dropoff_eta - first.quote.dropoff_eta).total_seconds()) < 60
    row["status"] = "assigned"  # a drone has it: the tracking's ETA says more
    assert ask().quote is None


def test_the_api_s_preflight_setting_is_the_quote_s_term(monkeypatch: pytest.MonkeyPatch) -> None:
    async def free_drones(pool: object, silent_after_s: float) -> list[dict[str, Any]]:
        return [{"lat": DEPOT_EAST.lat, "lon": DEPOT_EAST.lon, "free": True}]

    async def waiting(pool: object) -> list[str]:
        return []

    monkeypatch.setattr(queries, "free_drones", free_drones)
    monkeypatch.setattr(queries, "waiting_deliveries", waiting)
    keeper = AirspaceKeeper()
    keeper.rules = RULES

    def quoted(settings: ApiSettings) -> QuotePublic:
        services = KeyedServices(keeper, settings=settings)
        made = asyncio.run(deliveries._quote_new(services, EAST_OF_SQUARE, WEST_OF_SQUARE, T0))  # type: ignore[arg-type]
        assert made is not None
        return made

    default = quoted(ApiSettings(token_secret="s" * 32))
    slow = quoted(ApiSettings(token_secret="s" * 32, quote_preflight_s=45.0))
    shift = (slow.pickup_eta - default.pickup_eta).total_seconds()
    assert abs(shift - (45.0 - PREFLIGHT_S)) < 1e-6
    assert slow.dropoff_eta - default.dropoff_eta == slow.pickup_eta - default.pickup_eta
    calm = quoted(ApiSettings(token_secret="s" * 32, quote_wind_mps=0.0))
    assert calm.to_pickup_s < default.to_pickup_s and calm.to_dropoff_s < default.to_dropoff_s


def test_the_wind_slowdown_is_the_mean_over_every_direction_of_the_time_in_it() -> None:
    """Against the ground speed averaged directly: g = w cos t + sqrt(a^2 - (w sin t)^2)."""
    for wind in (1.0, 3.0, 6.0, 10.0):
        headings = [2 * math.pi * (i + 0.5) / 7_200 for i in range(7_200)]
        direct = sum(
            15.0 / (wind * math.cos(t) + math.sqrt(15.0**2 - (wind * math.sin(t)) ** 2))
            for t in headings
        ) / len(headings)
        assert abs(wind_slowdown(wind, 15.0) - direct) < 1e-9
    assert wind_slowdown(0.0, 15.0) == 1.0
    assert 1.0 < wind_slowdown(3.0, 15.0) < wind_slowdown(6.0, 15.0)


def test_in_the_wind_each_cruise_is_slower_by_the_slowdown() -> None:
    fleet = Fleet.of([DEPOT_EAST], busy=0)
    made = quote(EAST_OF_SQUARE, WEST_OF_SQUARE, 0, fleet, RULES, PROFILE, T0, 0.0, wind_mps=4.5)
    factor = wind_slowdown(4.5, 15.0)
    to_pickup = RULES.route_m(DEPOT_EAST, EAST_OF_SQUARE)
    carry = RULES.route_m(EAST_OF_SQUARE, WEST_OF_SQUARE)

    def by_hand(metres: float) -> float:
        ground = 15.0 / factor  # the mean ground speed: the ramps are counted at it
        return 12.0 + metres / ground + ground / 8.0 + ground / 8.0 + 15.0

    assert abs(made.to_pickup_s - by_hand(to_pickup)) < 1e-9
    assert abs(made.to_dropoff_s - (by_hand(carry) + 10.0)) < 1e-9
    assert ApiSettings(token_secret="s" * 32).quote_wind_mps == QUOTE_WIND_MPS


def test_a_known_wind_times_each_leg_by_its_direction() -> None:
    """Into the wind a / (a - w), with it a / (a + w), across a / sqrt(a^2 - w^2)."""
    assert abs(track_slowdown(3.0, 240.0, 240.0, 15.0) - 15.0 / 12.0) < 1e-12  # into it
    assert abs(track_slowdown(3.0, 240.0, 60.0, 15.0) - 15.0 / 18.0) < 1e-12  # behind
    assert abs(track_slowdown(3.0, 240.0, 150.0, 15.0) - 15.0 / math.sqrt(216.0)) < 1e-12
    assert abs(track_deg(GeoPoint(47.0, 8.0), GeoPoint(47.01, 8.0)) - 0.0) < 1e-9  # north
    assert abs(track_deg(GeoPoint(47.0, 8.0), GeoPoint(47.0, 7.99)) - 270.0) < 1e-9  # west


def test_with_the_wind_s_direction_the_quote_times_the_legs_into_it_and_with_it() -> None:
    fleet = Fleet.of([DEPOT_EAST], busy=0)
    into = track_deg(DEPOT_EAST, EAST_OF_SQUARE)
    made = quote(EAST_OF_SQUARE, WEST_OF_SQUARE, 0, fleet, RULES, PROFILE, T0, 0.0, 3.0, into)
    to_pickup = RULES.route_m(DEPOT_EAST, EAST_OF_SQUARE)
    carry = RULES.route_m(EAST_OF_SQUARE, WEST_OF_SQUARE)

    def by_hand(metres: float, ground: float) -> float:
        return 12.0 + metres / ground + ground / 8.0 + ground / 8.0 + 15.0

    assert abs(made.to_pickup_s - by_hand(to_pickup, 12.0)) < 1e-9  # straight into the wind
    carry_factor = track_slowdown(3.0, into, track_deg(EAST_OF_SQUARE, WEST_OF_SQUARE), 15.0)
    assert abs(made.to_dropoff_s - (by_hand(carry, 15.0 / carry_factor) + 10.0)) < 1e-9
    unknown = quote(EAST_OF_SQUARE, WEST_OF_SQUARE, 0, fleet, RULES, PROFILE, T0, 0.0, 3.0)
    assert made.to_pickup_s > unknown.to_pickup_s  # into it: longer than the mean
