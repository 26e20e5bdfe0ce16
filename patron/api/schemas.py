"""Schemas shared by every router."""

from ninja import Schema


class Problem(Schema):
    type: str
    title: str
    status: int
    code: str
    detail: str
    field: str | None = None


ERRORS = {400: Problem, 401: Problem, 404: Problem, 409: Problem, 422: Problem}
