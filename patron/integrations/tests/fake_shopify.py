"""A Shopify-like Admin GraphQL server on 127.0.0.1, speaking the documented shapes.

It keeps discount codes in memory, checks the access token, and can be told to answer
the next requests with failures: a 429 with Retry-After, a 5xx, a THROTTLED error.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from patron.integrations.tests.loopback import LoopbackServer, Received

TOKEN = "shpat_test_token"
_OPERATION = re.compile(r"\b(discountCode\w+|codeDiscountNodeByCode|shop)\s*[({]")


@dataclass
class FakeShopify:
    token: str = TOKEN
    discounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # gid -> input
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    server: LoopbackServer | None = None
    _next_id: int = 1000

    def start(self, port: int = 0) -> "FakeShopify":
        self.server = LoopbackServer(handle=self.handle, port=port).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop()

    @property
    def domain(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"

    def fail_next(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        self.failures.append((status, headers or {}, body))

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None):
        return (
            status,
            {"Content-Type": "application/json", **(headers or {})},
            json.dumps(body).encode(),
        )

    def handle(self, request: Received) -> tuple[int, dict[str, str], bytes]:
        if request.headers.get("x-shopify-access-token") != self.token:
            return self._answer(401, {"errors": "[API] Invalid API key or access token"})
        if self.failures:
            status, headers, body = self.failures.pop(0)
            return self._answer(status, body if body is not None else {"errors": "down"}, headers)
        payload = request.json()
        match = _OPERATION.search(payload["query"].split("{", 1)[1])
        name = match.group(1) if match else "?"
        variables = payload.get("variables") or {}
        self.calls.append((name, variables))
        return self._answer(200, {"data": self._run(name, variables), "extensions": {}})

    def _user_error(self, name: str, message: str, code: str) -> dict[str, Any]:
        return {
            name: {
                "codeDiscountNode": None,
                "userErrors": [
                    {"field": ["basicCodeDiscount", "code"], "message": message, "code": code}
                ],
            }
        }

    def _run(self, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        if name == "shop":
            return {"shop": {"name": "Alpha Store", "myshopifyDomain": "alpha.myshopify.com"}}
        if name in {"discountCodeBasicCreate", "discountCodeFreeShippingCreate"}:
            data = variables.get("basicCodeDiscount") or variables.get("freeShippingCodeDiscount")
            if any(d["code"] == data["code"] for d in self.discounts.values()):
                return self._user_error(
                    name, "Code must be unique. Please try a different code.", "TAKEN"
                )
            gid = f"gid://shopify/DiscountCodeNode/{self._next_id}"
            self._next_id += 1
            self.discounts[gid] = {"kind": name, **data}
            return {name: {"codeDiscountNode": {"id": gid}, "userErrors": []}}
        if name == "discountCodeDelete":
            gid = variables["id"]
            if self.discounts.pop(gid, None) is None:
                return {
                    name: {
                        "deletedCodeDiscountId": None,
                        "userErrors": [
                            {"field": ["id"], "message": "Discount does not exist", "code": None}
                        ],
                    }
                }
            return {name: {"deletedCodeDiscountId": gid, "userErrors": []}}
        if name == "codeDiscountNodeByCode":
            for gid, data in self.discounts.items():
                if data["code"] == variables["code"]:
                    return {"codeDiscountNodeByCode": {"id": gid}}
            return {"codeDiscountNodeByCode": None}
        return {}

    def codes(self) -> set[str]:
        return {d["code"] for d in self.discounts.values()}
