"""The FastAPI application: the JSON API and the web pages."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Receive, Scope, Send

from rso.api import docs, errors
from rso.api import calendar as calendar_api
from rso.api import delegations as delegation_api
from rso.api import reports as report_api
from rso.api.routes import api
from rso.uploads import is_upload
from rso.web import act as act_pages
from rso.web import calendar as calendar_pages
from rso.web import delegations as delegation_pages
from rso.web import pages
from rso.web import reports as report_pages
from services.accounts.sessions import LiveSessions
from services.config.settings import Settings
from services.mail import deliver
from services.wiring import LIFECYCLES, build_services, mail_settings

log = logging.getLogger("rso")


class BodyLimit:
    """Read a request's body before the app does, and refuse one over `limit` bytes with 413:
    declared too long, or found too long as its chunks arrive (no Content-Length)."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int):
        self.app, self.limit, self.upload_limit = app, limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if is_upload(scope):
            # A document's file: streamed to the service, which stops it at the upload limit
            # (`rso.uploads`); refused here only when declared far too large.
            if declared is not None and declared.isdigit() and int(declared) > self.upload_limit + 1024 * 1024:
                return await self._refuse(send, self.upload_limit, "the file is larger than the limit of "
                                          f"{self.upload_limit // (1024 * 1024)} MB")
            return await self.app(scope, receive, send)
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size > self.limit:
                return await self._refuse(send)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body, given = b"".join(chunks), False

        async def replay():
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then wait for the client to go, as a server would

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, limit: int | None = None, why: str | None = None):
        body = json.dumps({"detail": why or f"request body too large (the limit is {limit or self.limit} bytes)"}
                          ).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


# Pages may load this site's own scripts, styles and images only; no frame may show them.
CSP = (b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       b"form-action 'self'; frame-ancestors 'none'; base-uri 'self'")


class SecurityHeaders:
    """On every answer: no content sniffing; nothing cached but the static files (a signed-in
    page or answer, shown again by Back after signing out, would leak); the pages' CSP."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
        if not path.startswith("/static/"):
            extra.append((b"cache-control", b"no-store"))
        if not path.startswith(("/api/", "/openapi")):
            extra += [(b"content-security-policy", CSP), (b"x-frame-options", b"DENY")]

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *((k, v) for k, v in extra if k not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _answer(request: Request, exc: Exception):
    """A refusal as JSON on the API, as a page for a person on the web pages."""
    status, body, headers = errors.refusal(exc)
    if status >= 500:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if pages.is_page(request):
        return pages.page_error(request, status, str(body.get("detail", "")))
    return JSONResponse(body, status_code=status, headers=headers)


class Deliverer:
    """The service delivers its own outbox, in the background: a pass soon after each commit
    that wrote emails, and one every `idle` seconds (for retries, and for what other processes
    wrote). A request never waits for SMTP, and the outbox keeps what a crash interrupts. At
    rest it sleeps: nothing but a commit with mail, or the `idle` timer, wakes it."""

    def __init__(self, svc, mail, wake: asyncio.Event, idle: float = 5.0):
        self.svc, self.mail, self.wake, self.idle = svc, mail, wake, idle
        self.passes = 0  # delivery passes made: at rest, one per `idle` seconds

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.idle)
            self.wake.clear()
            self.passes += 1
            try:
                report = await deliver(self.svc, self.mail)
                if report.claimed:
                    log.info("outbox: %s", report)
            except Exception:  # noqa: BLE001 - a bad pass must not end delivery; the rows wait
                log.exception("outbox delivery pass failed; will try again")


def create_app(settings: Settings | None = None, *, clock=None) -> FastAPI:
    """The app; `clock` replaces the service's clock (tests move time with it)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        wake = asyncio.Event()
        svc = build_services(settings, clock=clock, on_mail=wake.set)
        app.state.services = svc
        task = listener = None
        if svc.engine.dialect.name == "postgresql":
            svc.live_sessions = LiveSessions()
            listener = asyncio.create_task(svc.live_sessions.listen(svc.engine))
        if settings.deliver_in_background:
            app.state.deliverer = Deliverer(svc, mail_settings(settings), wake)
            task = asyncio.create_task(app.state.deliverer.run())
        try:
            yield
        finally:
            # Shutdown is bounded: a stop never hangs on a pass mid-way (the outbox keeps its rows).
            if listener is not None:
                listener.cancel()
                await asyncio.wait({listener}, timeout=5)
            if task is not None:
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=10)
                if not done:
                    log.error("the background deliverer did not stop within 10 s; leaving it")
            try:
                await asyncio.wait_for(svc.dispose(), 10)
            except TimeoutError:
                log.error("closing the database connections took over 10 s; leaving them")

    app = FastAPI(title="RSO Workflow", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Proposals and secondments of the Regional Support Office of the Bali Process.")
    app.state.settings = settings
    app.state.signing_key = settings.signing_key()
    router, body_models = api(LIFECYCLES)
    app.include_router(router)
    app.include_router(report_api.router)
    app.include_router(calendar_api.router)
    app.include_router(delegation_api.router)
    body_models = [*body_models, delegation_api.DelegationCreate]
    docs.install(app)
    app.include_router(calendar_pages.router)  # before the pages: a feed's address is no page
    pages.install(app, LIFECYCLES)
    app.include_router(report_pages.router)
    app.include_router(delegation_pages.router)
    app.include_router(act_pages.router)
    for exc_class in errors.HANDLED:
        app.add_exception_handler(exc_class, _answer)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes)
    app.add_middleware(SecurityHeaders)

    def openapi():
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _, defs = models_json_schema([(m, "validation") for m in body_models],
                                         ref_template="#/components/schemas/{model}")
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app
