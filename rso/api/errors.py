"""Every refusal as a status and a readable body; never a 500 for bad input. The app answers
with it as JSON on the API and as a page on the web pages (`rso.app`)."""
from __future__ import annotations

import logging

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from services.engine.errors import (
    ActionNotAvailable, Forbidden, InvalidInput, NotAuthenticated, NotFound, NotPermitted, TooLarge, TooManyAttempts,
    UnknownAction, UnsupportedType, VersionConflict,
)

log = logging.getLogger("rso.api")


def _validation_errors(exc: RequestValidationError) -> list[dict]:
    errors = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            where, loc = loc[0], loc[1:]
        else:
            where = "body"
        field = ".".join(loc) or where
        msg = e.get("msg", "invalid")
        if e.get("type") == "json_invalid":
            field, msg = "body", f"malformed JSON: {e.get('ctx', {}).get('error', 'cannot be parsed')}"
        elif e.get("type") == "extra_forbidden":
            msg = "unknown field"
        errors.append({"field": field, "message": msg})
    return errors


def refusal(exc: Exception) -> tuple[int, dict, dict | None]:
    """(status, body, headers) of the answer to `exc`."""
    match exc:
        case NotAuthenticated():
            return 401, {"detail": str(exc)}, {"WWW-Authenticate": "Bearer"}
        case TooManyAttempts():
            return 429, {"detail": str(exc)}, {"Retry-After": str(exc.retry_after)}
        case Forbidden() | NotPermitted():
            return 403, {"detail": str(exc)}, None
        case NotFound():
            return 404, {"detail": str(exc)}, None
        case UnknownAction():
            return 404, {"detail": str(exc), "actions": exc.actions}, None
        case ActionNotAvailable():
            return 409, {"detail": str(exc), "action": exc.action, "state": exc.state,
                         "available_actions": exc.available}, None
        case VersionConflict():
            return 409, {"detail": str(exc), "current_version": exc.current}, None
        case StaleDataError():
            return 409, {"detail": "the item was changed by someone else meanwhile: reload it and try again"}, None
        case ClientDisconnect():  # nobody is left to read it; nothing was kept
            return 400, {"detail": "the client went away before the request ended"}, None
        case TooLarge():
            return 413, {"detail": str(exc)}, None
        case UnsupportedType():
            return 415, {"detail": str(exc)}, None
        case InvalidInput():
            return 422, {"detail": "invalid input", "errors": exc.errors}, None
        case RequestValidationError():
            return 422, {"detail": "invalid input", "errors": _validation_errors(exc)}, None
        case StarletteHTTPException():
            return exc.status_code, {"detail": exc.detail}, getattr(exc, "headers", None)
    return 500, {"detail": "internal error: the change was not made; it has been logged"}, None


# What `refusal` answers, for the app to install a handler of each.
HANDLED = (NotAuthenticated, TooManyAttempts, Forbidden, NotPermitted, NotFound, UnknownAction, ActionNotAvailable, VersionConflict,
           StaleDataError, TooLarge, UnsupportedType, ClientDisconnect, InvalidInput, RequestValidationError, StarletteHTTPException, Exception)


# --- the refusals as the OpenAPI document tells them --------------------------------------------

class Refusal(BaseModel):
    detail: str


class FieldProblem(BaseModel):
    field: str  # "title", "budget.amount", "changes.proposed_end", "body"
    message: str


class Invalid(BaseModel):
    detail: str  # "invalid input"
    errors: list[FieldProblem]


class Conflict(BaseModel):
    detail: str
    action: str | None = None  # the action refused...
    state: str | None = None  # ...in this state,
    available_actions: list[str] | None = None  # ...where these are available
    current_version: int | None = None  # a stale If-Match: the version now


class UnknownActionRefusal(BaseModel):
    detail: str
    actions: list[str] | None = None


def _answer(model: type[BaseModel], description: str, **extra) -> dict:
    # JSON whatever the route's own answers are (the diagram's are Mermaid text).
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}, **extra}


# Every route may answer with these, whatever it takes.
RESPONSES = {
    401: _answer(Refusal, "Not signed in, or the token is no longer good"),
    403: _answer(Refusal, "Outside your role"),
    404: _answer(UnknownActionRefusal, "No such item or action, or not one you may see"),
    409: _answer(Conflict, "Not available now (the available actions are listed), or a stale version"),
    413: _answer(Refusal, "The request body (or an uploaded file) is too large"),
    415: _answer(Refusal, "The request body is not JSON, or an uploaded file is not of a type accepted"),
    422: _answer(Invalid, "Invalid input: a message per field"),
    429: _answer(Refusal, "Too many failed sign-ins: wait", headers={
        "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}),
}
REFUSAL_MODELS = [Refusal, UnknownActionRefusal, Conflict, Invalid]
