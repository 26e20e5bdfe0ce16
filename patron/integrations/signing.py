"""Standard Webhooks signatures for the payloads Patron sends.

The scheme (standardwebhooks.com): `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the
base64-decoded part of a `whsec_` secret. Receivers verify with any Standard Webhooks
library; the timestamp is the time of the attempt, so a retry hours later still verifies.
"""

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format marker, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signed_headers(*, secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }
