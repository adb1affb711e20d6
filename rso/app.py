"""The FastAPI application: the JSON API and the web pages."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Receive, Scope, Send

from rso.api import errors
from rso.api.deps import UserCache
from rso.api.routes import BODY_MODELS, router
from rso.settings import Settings
from rso.wiring import build_services, mail_settings
from services.mail import deliver_once

log = logging.getLogger("rso")


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


async def _deliver_forever(svc, mail, wake: asyncio.Event, idle: float = 5.0) -> None:
    """Deliver the outbox soon after each commit (and every few seconds, for retries), in
    the background: a request never waits for SMTP, and the outbox keeps what a crash
    interrupts."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=idle)
        wake.clear()
        try:
            report = await deliver_once(svc, mail)
            if report.claimed:
                log.info("outbox: %s", report)
        except Exception:  # noqa: BLE001 - a bad pass must not end delivery; the rows wait
            log.exception("outbox delivery pass failed; will try again")


def create_app(settings: Settings | None = None, *, clock=None) -> FastAPI:
    """The app; `clock` replaces the wall clock (tests move time with it)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = build_services(settings)
        if clock is not None:
            svc.clock = clock
        app.state.services = svc
        deliverer = None
        if settings.deliver_in_background:
            wake = asyncio.Event()
            svc.after_commit.append(lambda uow: wake.set())
            deliverer = asyncio.create_task(_deliver_forever(svc, mail_settings(settings), wake))
        try:
            yield
        finally:
            # Shutdown is bounded: a stop never hangs on a pass mid-way (the outbox keeps its rows).
            if deliverer is not None:
                deliverer.cancel()
                done, _ = await asyncio.wait({deliverer}, timeout=10)
                if not done:
                    log.error("the background deliverer did not stop within 10 s; leaving it")
            try:
                await asyncio.wait_for(svc.dispose(), 10)
            except TimeoutError:
                log.error("closing the database connections took over 10 s; leaving them")

    app = FastAPI(title="RSO Workflow", version="0.1.0", lifespan=lifespan,
                  description="Proposals and secondments of the Regional Support Office of the Bali Process.")
    app.state.settings = settings
    app.state.signing_key = settings.signing_key()
    app.state.users = UserCache()
    errors.install(app)
    app.include_router(router)
    from rso.web.pages import install as install_pages
    install_pages(app)
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
