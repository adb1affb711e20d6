"""Every refusal as a readable JSON body; never a 500 for bad input."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import (
    ActionNotAvailable, Forbidden, InvalidInput, NotAuthenticated, NotFound, NotPermitted, UnknownAction,
    VersionConflict,
)

log = logging.getLogger("rso.api")


def _json(status: int, body: dict, headers: dict | None = None, request: Request | None = None):
    """The refusal as JSON on the API; as a page for a person on the web pages."""
    if request is not None:
        from rso.web.pages import is_page, page_error
        if is_page(request):
            return page_error(request, status, str(body.get("detail", "")))
    return JSONResponse(body, status_code=status, headers=headers)


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


def install(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _401(request: Request, exc: NotAuthenticated):
        return _json(401, {"detail": str(exc)}, {"WWW-Authenticate": "Bearer"}, request=request)

    @app.exception_handler(Forbidden)
    @app.exception_handler(NotPermitted)
    async def _403(request: Request, exc: Exception):
        return _json(403, {"detail": str(exc)}, request=request)

    @app.exception_handler(NotFound)
    async def _404(request: Request, exc: NotFound):
        return _json(404, {"detail": str(exc)}, request=request)

    @app.exception_handler(UnknownAction)
    async def _404_action(request: Request, exc: UnknownAction):
        return _json(404, {"detail": str(exc), "actions": exc.actions}, request=request)

    @app.exception_handler(ActionNotAvailable)
    async def _409(request: Request, exc: ActionNotAvailable):
        return _json(409, {"detail": str(exc), "action": exc.action, "state": exc.state,
                           "available_actions": exc.available}, request=request)

    @app.exception_handler(VersionConflict)
    async def _409_version(request: Request, exc: VersionConflict):
        return _json(409, {"detail": str(exc), "current_version": exc.current}, request=request)

    @app.exception_handler(StaleDataError)
    async def _409_stale(request: Request, exc: StaleDataError):
        return _json(409, {"detail": "the item was changed by someone else meanwhile: reload it and try again"},
                     request=request)

    @app.exception_handler(InvalidInput)
    async def _422(request: Request, exc: InvalidInput):
        return _json(422, {"detail": "invalid input", "errors": exc.errors}, request=request)

    @app.exception_handler(RequestValidationError)
    async def _422_request(request: Request, exc: RequestValidationError):
        return _json(422, {"detail": "invalid input", "errors": _validation_errors(exc)}, request=request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return _json(exc.status_code, {"detail": exc.detail}, getattr(exc, "headers", None), request=request)

    @app.exception_handler(Exception)
    async def _500(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _json(500, {"detail": "internal error: the change was not made; it has been logged"}, request=request)
