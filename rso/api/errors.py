"""Every refusal as a status and a readable body; never a 500 for bad input. The app answers
with it as JSON on the API and as a page on the web pages (`rso.app`)."""
from __future__ import annotations

import logging

from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.engine.errors import (
    ActionNotAvailable, Forbidden, InvalidInput, NotAuthenticated, NotFound, NotPermitted, UnknownAction,
    VersionConflict,
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
        case InvalidInput():
            return 422, {"detail": "invalid input", "errors": exc.errors}, None
        case RequestValidationError():
            return 422, {"detail": "invalid input", "errors": _validation_errors(exc)}, None
        case StarletteHTTPException():
            return exc.status_code, {"detail": exc.detail}, getattr(exc, "headers", None)
    return 500, {"detail": "internal error: the change was not made; it has been logged"}, None


# What `refusal` answers, for the app to install a handler of each.
HANDLED = (NotAuthenticated, Forbidden, NotPermitted, NotFound, UnknownAction, ActionNotAvailable, VersionConflict,
           StaleDataError, InvalidInput, RequestValidationError, StarletteHTTPException, Exception)
