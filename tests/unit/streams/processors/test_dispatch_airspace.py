"""Dispatch reads the airspace in its own topic (issue 19): the copy the leader writes is
kept in the fleet table, a new owner has it, and the choice routes around its zones."""

from __future__ import annotations

import msgspec

from contracts import AssignDrone, GeoPoint, decode_command
from streams.processors.dispatcher import AIRSPACE_KEY, DispatchProcessor
from streams.processors.records import Outgoing, SourceRecord
from tests.support.airspaces import EAST_OF_SQUARE, WEST_OF_SQUARE, airspace
from tests.support.factories import T0, fix, requested
from tests.support.processor_inputs import record

FARTHER_BUT_CLEAR = GeoPoint(47.375, 8.5815)
"""2.37 km east of the pickup with nothing in the way; WEST_OF_SQUARE is 2.26 km by the
line and 2.80 km round the square."""


def assigned_to(outputs: list[Outgoing]) -> list[str]:
    return [
        command.drone_id
        for command in (decode_command(out.value) for out in outputs)
        if isinstance(command, AssignDrone)
    ]


def dispatcher_with_two_drones(fleet: dict[bytes, bytes]) -> DispatchProcessor:
    dispatcher = DispatchProcessor(fleet=fleet, queue={})
    dispatcher.process(record(fix("behind", position=WEST_OF_SQUARE), "dispatch"), T0)
    dispatcher.process(record(fix("clear", position=FARTHER_BUT_CLEAR), "dispatch"), T0)
    return dispatcher


def request_east_of_the_square() -> SourceRecord:
    """A delivery from east of the square, as the deliveries stage forwards it."""
    asked = msgspec.structs.replace(
        requested(), pickup=EAST_OF_SQUARE, dropoff=GeoPoint(47.39, 8.555)
    )
    return record(asked, "dispatch")


def test_without_an_airspace_the_line_picks_the_drone_behind_the_zone() -> None:
    dispatcher = dispatcher_with_two_drones({})
    out = dispatcher.process(request_east_of_the_square(), T0)
    assert assigned_to(out) == ["behind"]


def test_with_the_airspace_read_in_its_topic_the_route_picks_the_clear_drone() -> None:
    dispatcher = dispatcher_with_two_drones({})
    assert dispatcher.process(record(airspace(), "dispatch"), T0) == []  # nobody waits
    assert dispatcher.process(record(airspace(), "dispatch"), T0) == []  # a copy again
    out = dispatcher.process(request_east_of_the_square(), T0)
    assert assigned_to(out) == ["clear"]


def test_a_new_owner_reads_the_airspace_from_the_fleet_table() -> None:
    fleet: dict[bytes, bytes] = {}
    first = dispatcher_with_two_drones(fleet)
    first.process(record(airspace(), "dispatch"), T0)
    assert AIRSPACE_KEY in fleet
    second = DispatchProcessor(fleet=fleet, queue={})  # after a rebalance: same table
    out = second.process(request_east_of_the_square(), T0)
    assert assigned_to(out) == ["clear"]
    assert set(second._entries()) == {"behind", "clear"}  # the airspace is no drone
