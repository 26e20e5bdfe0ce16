"""RFC 9457 problem details: the one shape every API error takes."""

import json
from typing import Any

from django.http import HttpResponse

PROBLEM_TYPE = "https://patron.invalid/problems/"
CONTENT_TYPE = "application/problem+json"


def problem_body(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    from http import HTTPStatus

    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"type": PROBLEM_TYPE + code, "title": title, "status": status, "code": code}
    body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(status: int, code: str, detail: str, **extra: Any) -> HttpResponse:
    body = problem_body(status, code, detail, **extra)
    return HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
