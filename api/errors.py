"""The API's error hierarchy; `main` maps it to RFC 9457 problem details."""

from typing import Literal

from contracts import Unservable

ProblemReason = Literal[Unservable, "airspace_unknown"]
"""A problem's machine-readable `reason`, where a client can act on it (an enum in the
OpenAPI document): why a delivery request can never be served (422), or why it cannot
be judged now (503)."""


class ApiError(Exception):
    """Base class: an error a client should see, with its HTTP status."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason: ProblemReason | None = None


class InvalidRequestError(ApiError):
    """A well-typed request whose value makes no sense (a forged page cursor, say)."""

    status = 422
    title = "Invalid request"


class NotAuthenticatedError(ApiError):
    """No, or an invalid, credential."""

    status = 401
    title = "Not authenticated"


class ForbiddenError(ApiError):
    """A valid credential that does not reach this resource."""

    status = 403
    title = "Forbidden"


class NotFoundError(ApiError):
    """No such resource (or not yet projected)."""

    status = 404
    title = "Not found"


class ConflictError(ApiError):
    """The resource's state does not allow the request (e.g. cancel after pickup)."""

    status = 409
    title = "Conflict"


class UnavailableError(ApiError):
    """A dependency (Kafka, the database) is not reachable."""

    status = 503
    title = "Service unavailable"


class UnservableRequestError(InvalidRequestError):
    """A delivery no drone could ever serve (inside a no-fly zone, out of the area, range)."""

    title = "Delivery cannot be served"

    def __init__(self, reason: Unservable, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class AirspaceUnknownError(UnavailableError):
    """The API has not read the platform's airspace yet: it cannot judge a request."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.reason = "airspace_unknown"
