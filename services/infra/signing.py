"""Signed tokens for links that act without a session (an email's action link, a calendar
feed's address). Each purpose signs with its own key, derived from RSO_SECRET_KEY: a token made
for one purpose is refused by every other, and none is a session token. itsdangerous does the
signing; a token carries only ids, never anything secret, and no time of its own: how long
it lasts is the service's to decide, by its clock (an action link lives while its task does)."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

__all__ = ["BadSignature", "Signer", "token_hash"]


def purpose_key(secret: str, purpose: str) -> bytes:
    """The key of one purpose: HMAC-SHA256 of the purpose under the service's secret."""
    return hmac.new(secret.encode(), f"rso-workflow/{purpose}".encode(), hashlib.sha256).digest()


def token_hash(token: str) -> str:
    """What is kept of a token (to use it once): its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Signer:
    """Signs and reads the tokens of one purpose ("email-action", "calendar-feed")."""

    secret: str
    purpose: str

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(purpose_key(self.secret, self.purpose), salt=self.purpose)

    def sign(self, payload: Any) -> str:
        return self._serializer().dumps(payload)

    def read(self, token: str) -> Any:
        """The payload, or BadSignature (tampered, or made for another purpose or service)."""
        return self._serializer().loads(token)
