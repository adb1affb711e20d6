"""Signing in for the pages: the session is a signed, expiring token (the API's own) in an
HttpOnly, SameSite=Lax cookie. Every form carries a CSRF token: bound to the session when
signed in, and a double-submitted random cookie on the sign-in form itself."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.responses import Response

from rso.security import issue_token, user_id_from_token
from services.engine.models import User

SESSION, PRE = "rso_session", "rso_csrf"


class CsrfError(Exception):
    pass


class SignInRequired(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


async def current_user(request: Request) -> User | None:
    token = request.cookies.get(SESSION)
    if not token:
        return None
    svc = request.app.state.services
    user_id = user_id_from_token(token, key=request.app.state.signing_key, now=svc.clock())
    return await request.app.state.users.get(svc, user_id) if user_id is not None else None


async def require_user(request: Request) -> User:
    user = await current_user(request)
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path if request.method == "GET" else "/")
    return user


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def sign_in(request: Request, response: Response, user: User) -> None:
    settings, svc = request.app.state.settings, request.app.state.services
    token = issue_token(user.id, key=request.app.state.signing_key, now=svc.clock(), minutes=settings.token_minutes)
    response.set_cookie(SESSION, token, max_age=settings.token_minutes * 60, httponly=True, samesite="lax",
                        secure=_secure(request), path="/")
    response.delete_cookie(PRE, path="/")


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION, path="/")


def csrf_token(request: Request) -> str:
    """The token the forms of this page carry."""
    session = request.cookies.get(SESSION)
    if session:
        return hmac.new(request.app.state.signing_key.encode(), b"csrf|" + session.encode(), hashlib.sha256).hexdigest()
    return request.scope.setdefault("rso.pre_csrf", request.cookies.get(PRE) or secrets.token_urlsafe(24))


def remember_pre_csrf(request: Request, response: Response) -> None:
    """The sign-in form's token, as a cookie to compare the form's copy with."""
    if not request.cookies.get(SESSION) and (token := request.scope.get("rso.pre_csrf")):
        response.set_cookie(PRE, token, httponly=True, samesite="lax", secure=_secure(request), path="/")


def check_csrf(request: Request, form) -> None:
    sent = form.get("csrf") or ""
    if not sent:
        raise CsrfError()
    session = request.cookies.get(SESSION)
    if session:
        expected = hmac.new(request.app.state.signing_key.encode(), b"csrf|" + session.encode(),
                            hashlib.sha256).hexdigest()
    else:
        expected = request.cookies.get(PRE) or ""
    if not expected or not hmac.compare_digest(sent, expected):
        raise CsrfError()
