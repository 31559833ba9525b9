"""The only code shared between dronefleet's services: events, their codec and the topics.

Every service imports these names from here and nothing from another service, so the
wire format has exactly one definition.
"""

from contracts.codec import decode_event, encode_event
from contracts.commands import (
    AnyCommand,
    AssignDrone,
    CancelDelivery,
    Command,
    ReportDropoff,
    ReportPickup,
    decode_command,
    encode_command,
)
from contracts.deadletter import DeadLetter, decode_dead_letter, encode_dead_letter
from contracts.errors import ContractError, DecodeError
from contracts.events import (
    FINAL_STATUSES,
    Delivered,
    DeliveryCancelled,
    DeliveryEvent,
    DeliveryRequested,
    DeliveryStatus,
    DroneAssigned,
    DronePhase,
    Event,
    GeoPoint,
    PickedUp,
    TelemetryReported,
    TrackingUpdated,
    new_event_id,
    utc_now,
)
from contracts.topics import Topics, TopicSpec

__all__ = [
    "FINAL_STATUSES",
    "AnyCommand",
    "AssignDrone",
    "CancelDelivery",
    "Command",
    "ContractError",
    "DeadLetter",
    "DecodeError",
    "Delivered",
    "DeliveryCancelled",
    "DeliveryEvent",
    "DeliveryRequested",
    "DeliveryStatus",
    "DroneAssigned",
    "DronePhase",
    "Event",
    "GeoPoint",
    "PickedUp",
    "ReportDropoff",
    "ReportPickup",
    "TelemetryReported",
    "TopicSpec",
    "Topics",
    "TrackingUpdated",
    "decode_command",
    "decode_dead_letter",
    "decode_event",
    "encode_command",
    "encode_dead_letter",
    "encode_event",
    "new_event_id",
    "utc_now",
]
