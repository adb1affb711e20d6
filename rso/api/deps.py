"""Dependencies shared by the routes: the services container and the signed-in user."""
from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from rso.security import session_of
from services.accounts import sessions
from services.engine.errors import InvalidInput, NotAuthenticated
from services.engine.models import User
from services.infra.uow import Services

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
MAX_DEPTH = 32  # of a JSON body: no form of the service nests deeper than a few levels


async def get_services(request: Request) -> Services:
    # async: a plain def would be run in the thread pool, a hop on every request.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def session_id(request: Request, svc: Services, token: str | None) -> str | None:
    return session_of(token, key=request.app.state.signing_key, now=svc.clock())


async def _signed_in(request: Request, svc: Services, token: str | None, *, setting_up: bool) -> User:
    if not token:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer <token>' from POST /api/v1/auth/token")
    sid = session_id(request, svc, token)
    user = await sessions.signed_in(svc, sid, setting_up=setting_up)
    if user is None:
        raise NotAuthenticated("the token is invalid, expired or signed out: sign in again")
    request.state.session_id = sid
    return user


async def current_user(request: Request, svc: ServicesDep, token: Annotated[str | None, Depends(oauth2)]) -> User:
    return await _signed_in(request, svc, token, setting_up=False)


async def setting_up_user(request: Request, svc: ServicesDep, token: Annotated[str | None, Depends(oauth2)]) -> User:
    """The signed-in user, also an admin whose session may only set up a second factor."""
    return await _signed_in(request, svc, token, setting_up=True)


CurrentUser = Annotated[User, Depends(current_user)]
SettingUpUser = Annotated[User, Depends(setting_up_user)]


def _depth(value) -> int:
    """How deep a parsed JSON document nests, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


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
    too_deep = InvalidInput.one("body", f"nested too deeply: at most {MAX_DEPTH} levels")
    try:
        data = json.loads(raw)
    except RecursionError:
        raise too_deep from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput.one("body", f"malformed JSON: {exc}") from None
    if _depth(data) > MAX_DEPTH:
        raise too_deep
    return data


JsonBody = Annotated[object, Depends(json_body)]
