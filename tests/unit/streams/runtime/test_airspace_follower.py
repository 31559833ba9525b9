"""The worker's airspace follower: rules for the routes, one copy per version for dispatch."""

from __future__ import annotations

import msgspec

from contracts import encode_event
from streams.processors.tracking_emitter import AirspaceInForce
from streams.runtime.airspace_follower import AirspaceFollower
from tests.support.airspaces import airspace
from tests.support.factories import requested


def test_each_version_is_in_force_at_once_and_copied_to_dispatch_once() -> None:
    follower = AirspaceFollower("localhost:1", "airspace", AirspaceInForce())
    assert follower.uncopied() is None and follower.in_force.rules is None
    first = encode_event(airspace())
    follower.on_value(first)
    assert follower.in_force.rules is not None
    assert follower.uncopied() == first
    follower.copied = first  # the leader sent it
    assert follower.uncopied() is None
    second = encode_event(msgspec.structs.replace(airspace(), event_id="v2", sequence=2))
    follower.on_value(second)
    assert follower.uncopied() == second
    assert follower.in_force.rules.airspace.sequence == 2


def test_unreadable_and_foreign_records_change_nothing() -> None:
    follower = AirspaceFollower("localhost:1", "airspace", AirspaceInForce())
    follower.on_value(b"\x00 not json")
    follower.on_value(encode_event(requested()))
    assert follower.in_force.rules is None and follower.uncopied() is None
