"""A small client for the Shopify Admin GraphQL API.

Every answer is classified once here, so callers only see three outcomes: data, a
`ShopifyRetry` (the store is down, slow or rate-limiting: try again later, after
`retry_after` seconds when the store said so) or a `ShopifyRefused` (the request itself
is wrong: retrying will not help).
"""

from typing import Any

import httpx
from django.conf import settings

TIMEOUT_SECONDS = 15


class ShopifyError(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ShopifyRetry(ShopifyError):
    """A temporary failure: 429, 5xx, a timeout, a THROTTLED answer."""


class ShopifyRefused(ShopifyError):
    """A permanent failure: bad token (401/403), unknown shop (404), bad query."""


def admin_url(shop_domain: str, api_version: str) -> str:
    template: str = getattr(
        settings,
        "SHOPIFY_ADMIN_URL",
        "https://{shop}/admin/api/{version}/graphql.json",
    )
    return template.format(shop=shop_domain, version=api_version)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def graphql(
    *, shop_domain: str, access_token: str, api_version: str, query: str, variables: Any = None
) -> dict[str, Any]:
    """Run one query or mutation; return its `data`."""
    try:
        response = httpx.post(
            admin_url(shop_domain, api_version),
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": access_token, "Accept": "application/json"},
            timeout=TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise ShopifyRetry(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise ShopifyRetry(
            f"HTTP {response.status_code} from the store", retry_after=_retry_after(response)
        )
    if response.status_code >= 400:
        raise ShopifyRefused(f"HTTP {response.status_code}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError as exc:
        raise ShopifyRetry("The store answered with something that is not JSON.") from exc
    errors = body.get("errors") or []
    if errors:
        codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
        message = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
        if "THROTTLED" in codes:
            # The cost bucket refills in about a second per 50 points.
            raise ShopifyRetry(message or "Throttled", retry_after=2.0)
        raise ShopifyRefused(message or str(errors)[:300])
    data: dict[str, Any] = body.get("data") or {}
    return data


SHOP_QUERY = "query { shop { name myshopifyDomain } }"

BASIC_CREATE = """
mutation discountCodeBasicCreate($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""

FREE_SHIPPING_CREATE = """
mutation discountCodeFreeShippingCreate($freeShippingCodeDiscount: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $freeShippingCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""

DELETE = """
mutation discountCodeDelete($id: ID!) {
  discountCodeDelete(id: $id) {
    deletedCodeDiscountId
    userErrors { field message code }
  }
}
"""

BY_CODE = """
query codeDiscountNodeByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) { id }
}
"""
