"""Signed tokens for links that act without a session (an email's action link, a calendar
feed's address). Each purpose signs with its own key, derived from RSO_SECRET_KEY: a token made
for one purpose is refused by every other, and none is a session token. itsdangerous does the
signing (HMAC-SHA256); a token carries only ids, never anything secret, and no time of its own:
how long it lasts is the service's to decide, by its clock (an action link lives while its task
does). A token is the payload as compact JSON, base64url, then (for `sign_each`) a dot and a
variant, then a dot and the signature."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature
from itsdangerous import Signer as _ItsSigner

__all__ = ["BadSignature", "Signer", "token_hash"]


def purpose_key(secret: str, purpose: str) -> bytes:
    """The key of one purpose: HMAC-SHA256 of the purpose under the service's secret."""
    return hmac.new(secret.encode(), f"rso-workflow/{purpose}".encode(), hashlib.sha256).digest()


def token_hash(token: str) -> str:
    """What is kept of a token (to use it once): its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


@lru_cache(maxsize=16)
def _signer(secret: str, purpose: str) -> _ItsSigner:
    # Made once per key: a sweep's reminders sign tens of thousands of links.
    # The purpose key is derived already (HMAC of the purpose): itsdangerous need not derive again.
    return _ItsSigner(purpose_key(secret, purpose), salt=purpose, key_derivation="none", digest_method=hashlib.sha256)


def _encode(payload: Any) -> bytes:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=")


@dataclass(frozen=True)
class Signer:
    """Signs and reads the tokens of one purpose ("email-action", "calendar-feed")."""

    secret: str
    purpose: str

    def sign(self, payload: Any) -> str:
        return _signer(self.secret, self.purpose).sign(_encode(payload)).decode()

    def sign_each(self, payload: Any, variants: list[str]) -> list[str]:
        """One token per variant of the same payload (an email's link per choice), each signed
        over the payload and its variant: the payload encoded once. Variants are [A-Za-z0-9_]."""
        data, signer = _encode(payload), _signer(self.secret, self.purpose)
        return [signer.sign(data + b"." + v.encode()).decode() for v in variants]

    def read(self, token: str) -> Any:
        """The payload, or BadSignature (tampered, or made for another purpose or service)."""
        return self.read_variant(token)[0]

    def read_variant(self, token: str) -> tuple[Any, str | None]:
        """The payload and the variant it was signed with (None: `sign`), or BadSignature."""
        try:
            value = _signer(self.secret, self.purpose).unsign(token.encode())
            data, _, variant = value.partition(b".")
            payload = json.loads(base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4)))
            return payload, variant.decode() if _ else None
        except BadSignature:
            raise
        except (ValueError, UnicodeError) as exc:  # signed, yet not ours to read: never a 500
            raise BadSignature("unreadable token") from exc
