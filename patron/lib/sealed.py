"""Secrets at rest: provider passwords, API tokens and the like, sealed with Fernet.

A sealed value reads ``sealed:v1:<fernet token>`` in the database, so a dump or a backup
does not show the secret. The keys come from ``SEALING_KEYS`` (comma separated, newest
first, so a key can be rotated: new values use the first key and old ones still open with
the others). Without it, one key is derived from ``SECRET_KEY``.

``SealedTextField`` and ``SealedJSONField`` do the sealing on save and the opening on load,
so services and views see plain values. A value stored before sealing existed (no
prefix) is read as it is and sealed on its next save.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

PREFIX = "sealed:v1:"


class SealingError(Exception):
    """A sealed value that none of the configured keys opens."""


def _fernet_key(material: str) -> bytes:
    """Accept a ready Fernet key, or derive one from any other text."""
    try:
        if len(base64.urlsafe_b64decode(material.encode())) == 32:
            return material.encode()
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())


@cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def _keys() -> tuple[str, ...]:
    configured = tuple(getattr(settings, "SEALING_KEYS", ()) or ())
    return configured or ("patron-sealing:" + settings.SECRET_KEY,)


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def seal(text: str) -> str:
    """Seal ``text``; sealing an already sealed value returns it unchanged."""
    if not text or is_sealed(text):
        return text
    return PREFIX + _cipher(_keys()).encrypt(text.encode()).decode()


def unseal(value: str) -> str:
    """Open a sealed value; a plain (legacy) value comes back as it is."""
    if not value or not is_sealed(value):
        return value
    try:
        return _cipher(_keys()).decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken as error:
        raise SealingError("No sealing key opens this value; check SEALING_KEYS.") from error


class SealedTextField(models.TextField):
    """A text column that holds its value sealed."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else unseal(value)

    def to_python(self, value: Any) -> Any:
        return unseal(value) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return seal(value) if isinstance(value, str) else value


class SealedJSONField(models.TextField):
    """A JSON object kept sealed as a whole (it is never queried into)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return self.to_python(value)

    def to_python(self, value: Any) -> Any:
        if value is None or not isinstance(value, str):
            return value
        opened = unseal(value)
        return json.loads(opened) if opened else {}

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return seal(json.dumps(value, sort_keys=True))

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj))
