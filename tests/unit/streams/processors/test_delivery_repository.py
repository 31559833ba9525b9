"""The deliveries tables' stored format: what a restarted worker reads back from the changelogs.

Workers that ran before a change wrote these bytes; a format change here must still read
them, so the tests pin the JSON, not only the round trip.
"""

from __future__ import annotations

import msgspec

from streams.domain.delivery import evolve
from streams.processors.delivery_repository import DeliveryRepository, TrackingMemory
from tests.support.factories import PICKUP, T0, requested


def new_repository() -> DeliveryRepository:
    return DeliveryRepository(states={}, tracking={}, parked={})


def test_parked_commands_are_a_json_list_of_the_raw_commands_in_arrival_order() -> None:
    repository = new_repository()
    repository.park("d1", b'{"command_type":"CancelDelivery"}')
    repository.park("d1", b'{"command_type":"AssignDrone"}')
    assert repository.parked[b"d1"] == (
        b'["{\\"command_type\\":\\"CancelDelivery\\"}","{\\"command_type\\":\\"AssignDrone\\"}"]'
    )
    assert repository.unpark("d1") == [
        '{"command_type":"CancelDelivery"}',
        '{"command_type":"AssignDrone"}',
    ]
    assert repository.parked == {}, "taken away, not copied"
    assert repository.unpark("d1") == []


def test_states_and_tracking_memory_are_stored_as_their_json() -> None:
    repository = new_repository()
    assert repository.state("d1") is None
    assert repository.tracking_memory("d1") == TrackingMemory(), "nothing tracked yet"
    state = evolve(None, requested())
    repository.save_state(state)
    assert msgspec.json.decode(repository.states[b"d1"])["status"] == "requested"
    assert repository.state("d1") == state
    memory = TrackingMemory(sequence=3, last_status="en_route_to_pickup", last_position=PICKUP)
    repository.save_tracking_memory("d1", memory)
    stored = msgspec.json.decode(repository.tracking[b"d1"])
    assert (stored["sequence"], stored["last_status"]) == (3, "en_route_to_pickup")
    assert repository.tracking_memory("d1") == memory


def test_a_tracking_memory_written_before_the_split_still_reads() -> None:
    repository = new_repository()
    repository.tracking[b"d1"] = (
        b'{"sequence":2,"smoothed_speed_mps":14.5,"last_emitted_at":"2026-11-27T12:00:00Z",'
        b'"last_status":"en_route_to_dropoff","last_position":{"lat":47.378,"lon":8.54},'
        b'"drone_id":"drone-1","hovering_since":null}'
    )
    memory = repository.tracking_memory("d1")
    assert (memory.sequence, memory.last_emitted_at, memory.last_status) == (
        2,
        T0,
        "en_route_to_dropoff",
    )
