"""The routes of /api/v1. Each calls one service function: no rule lives here. `api(lifecycles)`
builds them for the lifecycles the service serves."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from rso.api.deps import CurrentUser, JsonBody, ServicesDep
from rso.security import issue_token
from services import mail
from services.engine import workflow
from services.engine.schemas import HistoryPublic, TaskPublic
from services.engine.workflow import Workflow
from services.users import authenticate

IfMatch = Annotated[str | None, Header(alias="If-Match", description="the version you last saw; 409 if it is not current")]


def _etag(response: Response, item):
    response.headers["ETag"] = f'"{item.version}"'
    return item


def api(lifecycles: Iterable[Workflow]) -> tuple[APIRouter, list[type[BaseModel]]]:
    """The /api/v1 router, and the models of the bodies it takes (for the OpenAPI document)."""
    router = APIRouter(prefix="/api/v1")
    router.add_api_route("/health", health, methods=["GET"], tags=["service"],
                         summary="Liveness: the service answers")
    router.add_api_route("/auth/token", token, methods=["POST"], tags=["auth"],
                         summary="Sign in: an OAuth2 password form gives a bearer token")
    router.add_api_route("/me", me, methods=["GET"], tags=["auth"], summary="Who am I")
    router.add_api_route("/tasks", tasks, methods=["GET"], response_model=list[TaskPublic], tags=["tasks"],
                         summary="Your open tasks (inbox), soonest due first")
    router.add_api_route("/admin/emails", captured, methods=["GET"], tags=["admin"],
                         summary="Emails captured locally (no SMTP server set), newest first")
    models = [m for wf in lifecycles for m in _item_routes(router, wf)]
    return router, list(dict.fromkeys(models))


async def health() -> dict:
    return {"status": "ok"}


async def token(request: Request, svc: ServicesDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict:
    user = await authenticate(svc, email=form.username, password=form.password)
    settings = request.app.state.settings
    return {"access_token": issue_token(user.id, key=request.app.state.signing_key, now=svc.clock(),
                                        minutes=settings.token_minutes),
            "token_type": "bearer", "expires_in": settings.token_minutes * 60}


async def me(user: CurrentUser) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "member_state": user.member_state, "country": user.country, "organisation": user.organisation}


async def captured(svc: ServicesDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    return [{"id": m.id, "to": m.to_email, "to_name": m.to_name, "subject": m.subject, "template": m.template,
             "reference": m.reference, "message_id": m.message_id, "created_at": m.created_at,
             "captured_at": m.sent_at, "text": m.body_text, "html": m.body_html}
            for m in await mail.captured_emails(svc, user=user, limit=limit)]


async def tasks(svc: ServicesDep, user: CurrentUser):
    return await workflow.inbox(svc, user=user)


def _item_routes(router: APIRouter, wf: Workflow) -> list:
    """The routes of one lifecycle's collection, all of the same shape: create (with
    Idempotency-Key), list, get by id or reference, edit a draft, history, diagram, and one
    route per action (If-Match). Returns the body models, for the OpenAPI document."""
    path, tag, noun, public = f"/{wf.path}", wf.path, wf.noun, wf.public_schema
    reference_example = f"{wf.prefix}-2026-0001"

    async def create(response: Response, svc: ServicesDep, user: CurrentUser, data: JsonBody,
                     idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None):
        item, created = await wf.create(svc, user=user, data=data, idempotency_key=idempotency_key)
        if not created:
            response.headers["Idempotent-Replayed"] = "true"
        response.headers["Location"] = f"/api/v1{path}/{item.id}"
        return _etag(response, item)

    async def list_(svc: ServicesDep, user: CurrentUser, state: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
        return await wf.list(svc, user=user, state=state, limit=limit, offset=offset)

    async def get(response: Response, svc: ServicesDep, user: CurrentUser, id_or_ref: str):
        return _etag(response, await wf.get(svc, user=user, id_or_ref=id_or_ref))

    async def update(response: Response, svc: ServicesDep, user: CurrentUser, id_or_ref: str, data: JsonBody,
                     if_match: IfMatch = None):
        return _etag(response, await wf.update(svc, user=user, id_or_ref=id_or_ref, data=data, if_match=if_match))

    async def history(svc: ServicesDep, user: CurrentUser, id_or_ref: str):
        return await wf.history(svc, user=user, id_or_ref=id_or_ref)

    async def diagram(svc: ServicesDep, user: CurrentUser, id_or_ref: str):
        return PlainTextResponse(await wf.diagram(svc, user=user, id_or_ref=id_or_ref),
                                 media_type="text/vnd.mermaid; charset=utf-8")

    def body(model: type[BaseModel]) -> dict:
        return {"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}

    for fn in (create, list_, get, update, history, diagram):
        fn.__name__ = f"{wf.kind}_{fn.__name__.strip('_')}"
    router.add_api_route(path, create, methods=["POST"], status_code=201, response_model=public, tags=[tag],
                         summary=f"A member state drafts a {noun}", openapi_extra=body(wf.create_schema))
    router.add_api_route(path, list_, methods=["GET"], response_model=list[public], tags=[tag],
                         summary=f"The {wf.path} you may see, newest first")
    router.add_api_route(f"{path}/{{id_or_ref}}", get, methods=["GET"], response_model=public, tags=[tag],
                         summary=f"One {noun}, by id or reference ({reference_example})")
    router.add_api_route(f"{path}/{{id_or_ref}}", update, methods=["PATCH"], response_model=public, tags=[tag],
                         summary="The owner edits a draft", openapi_extra=body(wf.update_schema))
    router.add_api_route(f"{path}/{{id_or_ref}}/history", history, methods=["GET"],
                         response_model=list[HistoryPublic], tags=[tag], summary="Every event, oldest first")
    router.add_api_route(f"{path}/{{id_or_ref}}/diagram", diagram, methods=["GET"],
                         response_class=PlainTextResponse, tags=[tag],
                         summary="The lifecycle as Mermaid text, the current state marked")

    def action_route(action) -> type[BaseModel]:
        model = wf.arguments[action]

        async def run(response: Response, svc: ServicesDep, user: CurrentUser, id_or_ref: str,
                      data: JsonBody, if_match: IfMatch = None):
            return _etag(response, await wf.act(svc, user=user, id_or_ref=id_or_ref, action=action.value,
                                                arguments=data, if_match=if_match))

        run.__name__ = f"{wf.kind}_{action.value}"
        router.add_api_route(
            f"{path}/{{id_or_ref}}/actions/{action.value}", run, methods=["POST"], response_model=public,
            tags=[f"{noun} actions"], summary=action.value.replace("_", " ").capitalize(),
            openapi_extra={"requestBody": {"content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}})
        return model

    models = [action_route(a) for a in wf.lifecycle.actions]

    async def unknown_action(svc: ServicesDep, user: CurrentUser, id_or_ref: str, action: str,
                             data: JsonBody, if_match: IfMatch = None):
        # Not one of the routes above: the service answers 404 with the actions there are.
        return await wf.act(svc, user=user, id_or_ref=id_or_ref, action=action, arguments=data, if_match=if_match)

    unknown_action.__name__ = f"{wf.kind}_unknown_action"
    router.add_api_route(f"{path}/{{id_or_ref}}/actions/{{action}}", unknown_action, methods=["POST"],
                         response_model=public, include_in_schema=False)
    return [wf.create_schema, wf.update_schema, *models]
