"""The API's error hierarchy; `main` maps it to RFC 9457 problem details."""


class ApiError(Exception):
    """Base class: an error a client should see, with its HTTP status."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


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
