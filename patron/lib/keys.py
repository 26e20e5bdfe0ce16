"""Idempotency keys that one request's key gives to the several rows it writes.

A reward claim keeps the caller's key on its redemption and `claim:<key>` on its coupon
and ledger row; a transfer keeps `<key>` on the outgoing ledger row and `<key>:in` on the
incoming one. Every key column holds 255 characters, as many as the API accepts, so a
derived key that would not fit takes a digest of the caller's key in its place: the
same key always gives the same derived key, and two keys give two.
"""

import hashlib

MAX_LENGTH = 255


def derived_key(key: str, *, prefix: str = "", suffix: str = "") -> str:
    whole = f"{prefix}{key}{suffix}"
    if len(whole) <= MAX_LENGTH:
        return whole
    # "#" marks a digest; a caller's own key of 255 characters or fewer never gets here.
    return f"{prefix}#{hashlib.sha256(key.encode()).hexdigest()}{suffix}"
