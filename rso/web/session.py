"""Signing in for the pages: a signed, expiring token naming a session on the server (the API's
own kind) in an HttpOnly, SameSite=Lax cookie; signing out ends the session itself, so a copy
of the cookie opens nothing afterwards. Every form carries a CSRF token: bound to the session
when signed in, and a double-submitted random cookie on the sign-in form itself."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from fastapi import Request
from starlette.responses import Response

from rso.security import issue_token, session_of
from services.accounts import sessions
from services.accounts.models import Session
from services.engine.errors import Forbidden
from services.engine.models import User

SESSION, PRE, PENDING = "rso_session", "rso_csrf", "rso_pending"


class CsrfError(Exception):
    pass


class SignInRequired(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


def session_id(request: Request, cookie: str = SESSION) -> str | None:
    return session_of(request.cookies.get(cookie), key=request.app.state.signing_key,
                      now=request.app.state.services.clock())


class SetUpSecondFactor(Exception):
    """An admin signed in without a second factor: the set-up page, and nothing else."""


async def current_user(request: Request, *, setting_up: bool = False) -> User | None:
    try:
        user = await sessions.signed_in(request.app.state.services, session_id(request), setting_up=setting_up)
    except Forbidden:
        raise SetUpSecondFactor() from None
    request.state.web_user = user
    return user


async def require_user(request: Request, *, setting_up: bool = False) -> User:
    user = await current_user(request, setting_up=setting_up)
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path if request.method == "GET" else "/")
    return user


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def sign_in(request: Request, response: Response, session: Session) -> None:
    """The cookie of a session just opened (the page goes on with it)."""
    svc = request.app.state.services
    token = issue_token(session.id, key=request.app.state.signing_key, now=svc.clock(), expires_at=session.expires_at)
    response.set_cookie(SESSION, token, max_age=int((session.expires_at - svc.clock()).total_seconds()),
                        httponly=True, samesite="lax", secure=_secure(request), path="/")
    response.delete_cookie(PRE, path="/")
    response.delete_cookie(PENDING, path="/")


def wait_for_code(request: Request, response: Response, pending: str) -> None:
    """The session waiting for a second factor's code, in a cookie of its own (5 minutes)."""
    svc = request.app.state.services
    token = issue_token(pending, key=request.app.state.signing_key, now=svc.clock(),
                        expires_at=svc.clock() + timedelta(minutes=5))
    response.set_cookie(PENDING, token, max_age=300, httponly=True, samesite="lax", secure=_secure(request),
                        path="/")


async def sign_out(request: Request, response: Response) -> None:
    await sessions.end(request.app.state.services, session_id(request))
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
