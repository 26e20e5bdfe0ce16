"""Domain errors: one hierarchy, each with a stable machine code.

Services raise these; the API maps them to RFC 9457 problem+json in one place
(`patron.api.core`) and the staff app shows `message` to the person. A code, once
published, never changes meaning.
"""

from typing import Any


class PatronError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, message: str | None = None, *, field: str | None = None, **extra: Any):
        self.message = message or self.title
        self.field = field
        self.extra = extra
        super().__init__(self.message)


class InvalidInput(PatronError):
    status = 422
    code = "invalid_input"
    title = "The request has an invalid value"


class NotFound(PatronError):
    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(PatronError):
    status = 403
    code = "forbidden"
    title = "You may not do this"


class Conflict(PatronError):
    status = 409
    code = "conflict"
    title = "The request conflicts with the current state"
