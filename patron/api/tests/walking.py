"""Helpers for the suites that walk every operation and page: real ids, bodies, digests.

Nothing here knows an app by name. Values for path parameters come from the models the
parameters name (patron.lib.urlwalk); request bodies from the OpenAPI schema; "did
anything change" from a digest of every row the merchant owns.
"""

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django_scopes import scopes_disabled

from patron.lib import urlwalk
from patron.tenants.models import Merchant

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def parameter_value(
    merchant: Merchant, parameter: str, previous_segment: str, app_label: str = ""
) -> str | None:
    """A real value of merchant's data for a path parameter, or None if none is known."""
    if parameter in {"slug", "merchant_slug"}:
        return merchant.slug
    with scopes_disabled():
        for model, field_name in urlwalk.models_for_parameter(
            parameter, previous_segment, app_label
        ):
            rows = model._base_manager.filter(merchant=merchant)
            if _has_field(model, "deleted_at"):
                rows = rows.filter(deleted_at__isnull=True)
            value = rows.order_by("pk").values_list(field_name, flat=True).first()
            if value not in (None, ""):
                return str(value)
    return None


def _has_field(model: type[models.Model], name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def merchant_digest(merchant: Merchant) -> dict[str, str]:
    """One hash per model of every row the merchant owns: equal digests, nothing changed."""
    digests = {}
    with scopes_disabled():
        for model in urlwalk.patron_models():
            rows = list(model._base_manager.filter(merchant=merchant).order_by("pk").values())
            for row in rows:
                # Read bookkeeping, not data: a key's last use moves when A itself calls.
                row.pop("last_used_at", None)
            text = json.dumps(rows, cls=DjangoJSONEncoder, sort_keys=True, default=str)
            digests[model._meta.label] = hashlib.sha256(text.encode()).hexdigest()
    return digests


def changed_models(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(label for label in before if before[label] != after.get(label))


def resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def example_body(schema: dict[str, Any], spec: dict[str, Any], depth: int = 0) -> Any:
    """A small value that satisfies the schema's types and required fields."""
    schema = resolve(schema, spec)
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            options = [o for o in schema[combinator] if resolve(o, spec).get("type") != "null"]
            return example_body(options[0] if options else schema[combinator][0], spec, depth)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        properties = schema.get("properties", {})
        return {
            name: example_body(properties[name], spec, depth + 1)
            for name in schema.get("required", [])
            if name in properties
        }
    if kind == "array":
        return []
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "string":
        return _example_string(schema)
    return None


def _example_string(schema: dict[str, Any]) -> str:
    fmt = schema.get("format", "")
    if fmt == "date":
        return "2026-01-01"
    if fmt == "date-time":
        return "2026-01-01T00:00:00Z"
    if fmt == "email":
        return "someone@example.com"
    if fmt in {"uri", "url"}:
        return "https://example.com/"
    if schema.get("pattern") == r"^#[0-9a-fA-F]{6}$":
        return "#123456"
    length = max(1, int(schema.get("minLength", 1)))
    return "x" * length if length > 1 else "test"


@dataclass
class Operation:
    method: str
    path: str  # the OpenAPI path, "/api/v1/contacts/{contact_id}"
    spec: dict[str, Any]

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"\{([^}]+)\}", self.path)

    @property
    def app_label(self) -> str:
        tags = self.spec.get("tags") or [""]
        return str(tags[0])


def operations(spec: dict[str, Any]) -> Iterator[Operation]:
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield Operation(method, path, item[method])


def json_body(operation: Operation, spec: dict[str, Any]) -> Any:
    content = operation.spec.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return None if schema is None else example_body(schema, spec)


def fill_openapi_path(operation: Operation, merchant: Merchant) -> tuple[str, list[str]]:
    """The path with merchant's real values, and the parameters no value was found for."""
    previous = urlwalk.previous_segments(operation.path)
    path, missing = operation.path, []
    for name in operation.parameters:
        value = parameter_value(merchant, name, previous.get(name, ""), operation.app_label)
        if value is None:
            missing.append(name)
            value = "1"
        path = path.replace("{" + name + "}", value)
    return path, missing


@dataclass
class Markers:
    """Strings that only merchant A's private data contains."""

    texts: list[str] = field(default_factory=list)

    def found_in(self, body: str) -> list[str]:
        return [t for t in self.texts if t in body]


def decoded(content: bytes) -> str:
    text = content.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def write_figures(name: str, figures: dict[str, Any]) -> Path:
    """Keep the figures of the last run for the README's Reliability table."""
    folder = Path(settings.VAR_DIR) / "reliability"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.json"
    target.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return target
