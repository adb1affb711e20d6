"""Dependencies shared by the routes: the services container and the signed-in user."""
from __future__ import annotations

from typing import Annotated

import json
import time

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from rso.security import user_id_from_token
from services.engine.errors import InvalidInput, NotAuthenticated
from services.engine.models import User
from services.infra.uow import Services
from services.users import get_active_user

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_services(request: Request) -> Services:
    # async: a plain def would be run in the thread pool, a hop on every request.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_user(request: Request, svc: ServicesDep, token: Annotated[str | None, Depends(oauth2)]) -> User:
    if not token:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer <token>' from POST /api/v1/auth/token")
    user_id = user_id_from_token(token, key=request.app.state.signing_key, now=svc.clock())
    user = await request.app.state.users.get(svc, user_id) if user_id is not None else None
    if user is None:
        raise NotAuthenticated("the token is invalid or expired: sign in again")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


class UserCache:
    """The signed-in users of the last few seconds, so a request does not spend a
    transaction of its own on who is calling. A deactivated user is refused within `ttl`
    seconds (tokens also expire)."""

    def __init__(self, ttl: float = 10.0, size: int = 1000):
        self.ttl, self.size = ttl, size
        self._users: dict[int, tuple[float, User]] = {}

    async def get(self, svc: Services, user_id: int) -> User | None:
        now = time.monotonic()
        hit = self._users.get(user_id)
        if hit and hit[0] > now:
            return hit[1]
        user = await get_active_user(svc, user_id)
        if user is not None:
            if len(self._users) >= self.size:
                self._users.clear()
            self._users[user_id] = (now + self.ttl, user)
        return user


async def json_body(request: Request):
    """The request's JSON document (None when the body is empty).

    Read here rather than by a declared body model so that who may act (401/403/404/409)
    is answered before what they sent (422)."""
    raw = await request.body()
    if not raw.strip():
        return None
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise HTTPException(415, f"send the body as application/json (got {ctype})")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput.one("body", f"malformed JSON: {exc}") from None


JsonBody = Annotated[object, Depends(json_body)]
