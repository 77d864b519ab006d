"""Domain errors. Each carries the HTTP status it maps to; the API renders them as problems."""

from __future__ import annotations


class TelerecordError(Exception):
    """Base of every error the API reports to clients."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(TelerecordError):
    status = 400
    title = "Bad Request"


class Unauthorized(TelerecordError):
    status = 401
    title = "Unauthorized"


class Forbidden(TelerecordError):
    status = 403
    title = "Forbidden"


class NotFound(TelerecordError):
    status = 404
    title = "Not Found"


class NotAcceptable(TelerecordError):
    status = 406
    title = "Not Acceptable"


class Conflict(TelerecordError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(TelerecordError):
    status = 413
    title = "Content Too Large"


class UnsupportedMediaType(TelerecordError):
    status = 415
    title = "Unsupported Media Type"


class Unprocessable(TelerecordError):
    status = 422
    title = "Unprocessable Content"


class ServiceUnavailable(TelerecordError):
    status = 503
    title = "Service Unavailable"
