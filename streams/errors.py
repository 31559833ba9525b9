"""Errors of the stream processors.

Two families. `IllegalTransitionError` and its cases are the pure aggregate's: a command
or an event its state does not allow. `RecordRefusedError` and its cases are the
processors': a record they will not apply, with the short `reason` the dead-letter topic
counts by. A processor raises a refusal where it finds the fault and turns it into a
dead letter in one place, its `process` (with the codec's `contracts.DecodeError`, which
has the same `reason` and `detail`), so no refusal is lost, stops a stage, or is worded
differently at each call site.
"""


class StreamsError(Exception):
    """Base class of the stream processors' errors."""


class IllegalTransitionError(StreamsError):
    """An event or command that the delivery's current state does not allow.

    Raised by the pure aggregate; the deliveries processor refuses the record with it
    (`CommandRefusedError` for a command, `EventRefusedError` for an event), so the
    record is dead-lettered with this message as its detail instead of crashing.
    """

    def __init__(self, delivery_id: str, status: str | None, attempted: str) -> None:
        super().__init__(f"delivery {delivery_id}: {attempted} is not allowed in state {status}")
        self.delivery_id = delivery_id
        self.status = status
        self.attempted = attempted


class TooLateToCancelError(IllegalTransitionError):
    """A cancel that arrived after the drone reported the pickup: the parcel is flying."""


class NotTheAssignedDroneError(IllegalTransitionError):
    """A report or refusal from a drone that does not fly (or never flew) the delivery."""


class RecordRefusedError(StreamsError):
    """A record a processor will not apply: dead-lettered with `reason` and `detail`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class UnexpectedRecordError(RecordRefusedError):
    """A valid event of a type the processor's topics never carry (a producer's mistake)."""

    def __init__(self, event_type: str) -> None:
        super().__init__("unexpected_type", event_type)


class CommandRefusedError(RecordRefusedError):
    """A command the delivery's state does not allow (the aggregate said why)."""

    def __init__(self, refusal: IllegalTransitionError) -> None:
        super().__init__("command_refused", str(refusal))


class EventRefusedError(RecordRefusedError):
    """An event of the deliveries topic that does not follow from the delivery's state."""

    def __init__(self, refusal: IllegalTransitionError) -> None:
        super().__init__("illegal_transition", str(refusal))


class ParkingLotFullError(RecordRefusedError):
    """Too many commands wait for a delivery nobody requested: abuse or a bug, not order."""

    def __init__(self, delivery_id: str) -> None:
        super().__init__("too_many_parked", delivery_id)
