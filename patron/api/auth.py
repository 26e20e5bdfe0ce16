"""Bearer keys for the public API.

TenantMiddleware has already looked the key up (it needs the merchant to open the
tenant scope); this class only tells django-ninja and the OpenAPI document that the
operations need it.
"""

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return getattr(request, "api_key", None)
