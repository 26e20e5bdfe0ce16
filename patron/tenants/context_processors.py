from typing import Any

from django.http import HttpRequest


def tenant(request: HttpRequest) -> dict[str, Any]:
    """The current merchant and the merchants the staff user may switch to."""
    return {
        "merchant": getattr(request, "merchant", None),
        "staff_role": getattr(request, "staff_role", None),
        "reachable_merchants": getattr(request, "reachable_merchants", []),
    }
