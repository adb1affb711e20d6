"""The FastAPI application: the JSON API (and, later, the web pages)."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Receive, Scope, Send

from rso.api import errors
from rso.api.deps import UserCache
from rso.api.routes import BODY_MODELS, router
from rso.settings import Settings
from services.db import make_async_engine
from services.uow import Services


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413 before anything reads them whole."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen = 0

        async def counting_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge()
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send):
        body = b'{"detail":"request body too large (the limit is %d bytes)"}' % self.limit
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def create_app(settings: Settings | None = None, *, clock=None) -> FastAPI:
    """The app; `clock` replaces the wall clock (tests move time with it)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = Services(engine=make_async_engine(settings.database_url), timezone=settings.tz)
        if clock is not None:
            svc.clock = clock
        app.state.services = svc
        try:
            yield
        finally:
            await svc.dispose()

    app = FastAPI(title="RSO Workflow", version="0.1.0", lifespan=lifespan,
                  description="Proposals and secondments of the Regional Support Office of the Bali Process.")
    app.state.settings = settings
    app.state.signing_key = settings.signing_key()
    app.state.users = UserCache()
    errors.install(app)
    app.include_router(router)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    def openapi():
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _, defs = models_json_schema([(m, "validation") for m in BODY_MODELS],
                                         ref_template="#/components/schemas/{model}")
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app
