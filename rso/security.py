"""Bearer tokens and session cookies: signed (HS256), expiring, naming a session on the server
(which may have ended since: `services.accounts.sessions` decides)."""
from __future__ import annotations

from datetime import datetime

import jwt

ALGORITHM = "HS256"


def issue_token(session_id: str, *, key: str, now: datetime, expires_at: datetime) -> str:
    claims = {"sid": session_id, "iat": int(now.timestamp()), "exp": int(expires_at.timestamp())}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def session_of(token: str | None, *, key: str, now: datetime) -> str | None:
    """The session a token names, or None when it is forged, malformed or expired by the
    service's clock (the one that issued it)."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM],
                            options={"require": ["sid", "exp"], "verify_exp": False, "verify_iat": False})
        if not float(claims["exp"]) > now.timestamp() or not isinstance(claims["sid"], str):
            return None
        return claims["sid"]
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
