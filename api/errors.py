"""The API's error hierarchy; `main` maps it to RFC 9457 problem details.

Every error carries a machine-readable `reason` (an enum in the OpenAPI document), so a
client branches on it rather than on the English of `detail`: each class has a default,
and a few cases name themselves more precisely (why a delivery cannot be served, why
the airspace is not known).
"""

from typing import Literal

from contracts import Unservable

ProblemReason = Literal[
    Unservable,
    "airspace_unknown",
    "invalid_request",
    "not_authenticated",
    "token_expired",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "unavailable",
    "internal_error",
    "body_too_large",
    "rate_limited",
    "too_many_sockets",
    "idempotency_key_reused",
]
"""A problem's machine-readable `reason` (an enum in the OpenAPI document)."""

REASON_OF_STATUS: dict[int, ProblemReason] = {
    400: "invalid_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}
"""The reason of a problem raised outside `ApiError` (Starlette's 404, 405, ...)."""


class ApiError(Exception):
    """Base class: an error a client should see, with its HTTP status and reason."""

    status = 500
    title = "Internal error"
    default_reason: ProblemReason = "internal_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason: ProblemReason = self.default_reason
        self.headers: dict[str, str] = {}


class InvalidRequestError(ApiError):
    """A well-typed request whose value makes no sense (a forged page cursor, say)."""

    status = 422
    title = "Invalid request"
    default_reason: ProblemReason = "invalid_request"


class NotAuthenticatedError(ApiError):
    """No, or an invalid, credential."""

    status = 401
    title = "Not authenticated"
    default_reason: ProblemReason = "not_authenticated"


class ForbiddenError(ApiError):
    """A valid credential that does not reach this resource."""

    status = 403
    title = "Forbidden"
    default_reason: ProblemReason = "forbidden"


class NotFoundError(ApiError):
    """No such resource (or not yet projected)."""

    status = 404
    title = "Not found"
    default_reason: ProblemReason = "not_found"


class ConflictError(ApiError):
    """The resource's state does not allow the request (e.g. cancel after pickup)."""

    status = 409
    title = "Conflict"
    default_reason: ProblemReason = "conflict"


class BodyTooLargeError(ApiError):
    """A request body over `max_body_bytes` (refused before authentication)."""

    status = 413
    title = "Request body too large"
    default_reason: ProblemReason = "body_too_large"


class RateLimitedError(ApiError):
    """Over a rate limit (per client address or per business); `Retry-After` says when."""

    status = 429
    title = "Too many requests"
    default_reason: ProblemReason = "rate_limited"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(max(1, retry_after_s))}


class IdempotencyKeyReusedError(InvalidRequestError):
    """An Idempotency-Key already used with a different request body (422)."""

    title = "Idempotency-Key reused"
    default_reason: ProblemReason = "idempotency_key_reused"


class UnavailableError(ApiError):
    """A dependency (Kafka, the database) is not reachable."""

    status = 503
    title = "Service unavailable"
    default_reason: ProblemReason = "unavailable"


class UnservableRequestError(InvalidRequestError):
    """A delivery no drone could ever serve (inside a no-fly zone, out of the area, range)."""

    title = "Delivery cannot be served"

    def __init__(self, reason: Unservable, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class AirspaceUnknownError(UnavailableError):
    """The API has not read the platform's airspace yet: it cannot judge a request."""

    default_reason: ProblemReason = "airspace_unknown"
