"""Errors of the stream processors."""


class StreamsError(Exception):
    """Base class of the stream processors' errors."""


class IllegalTransitionError(StreamsError):
    """An event or command that the delivery's current state does not allow.

    Raised by the pure aggregate; the agent that sees it dead-letters the record with
    the message as its reason instead of crashing.
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
