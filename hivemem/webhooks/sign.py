"""Standard Webhooks signatures (https://www.standardwebhooks.com).

A secret is ``whsec_`` + base64 of 24-64 random bytes; the key is those bytes. A message is
signed as ``v1,`` + base64 of HMAC-SHA256 over ``<webhook-id>.<webhook-timestamp>.<body>``
and sent with the headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``. Any Standard Webhooks library verifies it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from hivemem.errors import InvalidArgument

__all__ = ["PREFIX", "check_secret", "headers", "new_secret", "sign"]

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh secret: ``whsec_`` + base64 of 24 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret[len(PREFIX) :], validate=True)


def check_secret(secret: object) -> str:
    """Return ``secret`` if it is ``whsec_`` + base64 of 24 to 64 bytes.

    Raises:
        InvalidArgument: anything else (reason ``webhook_secret``).
    """
    try:
        ok = isinstance(secret, str) and secret.startswith(PREFIX)
        ok = ok and 24 <= len(_key(secret)) <= 64  # type: ignore[arg-type]
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise InvalidArgument(
            "a webhook secret is 'whsec_' + base64 of 24-64 random bytes (or give None: "
            "one is made for you)",
            reason="webhook_secret",
        )
    return secret  # type: ignore[return-value]


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of a message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of a message."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }
