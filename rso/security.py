"""Bearer tokens: signed (HS256), expiring, naming the user."""
from __future__ import annotations

from datetime import datetime, timedelta

import jwt

ALGORITHM = "HS256"


def issue_token(user_id: int, *, key: str, now: datetime, minutes: int) -> str:
    claims = {"sub": str(user_id), "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=minutes)).timestamp())}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def user_id_from_token(token: str, *, key: str, now: datetime) -> int | None:
    """The user the token names, or None when it is forged, malformed or expired, by the
    service's clock (the one that issued it)."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp"], "verify_exp": False, "verify_iat": False})
        if not float(claims["exp"]) > now.timestamp():
            return None
        return int(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
