"""The routes of /api/v1. Each calls one service function: no rule lives here. `api(lifecycles)`
builds them for the lifecycles the service serves."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from datetime import timedelta

from fastapi import APIRouter, Depends, Form, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from rso.api import errors
from rso.api.deps import CurrentUser, JsonBody, ServicesDep, SettingUpUser
from rso.exports import export_response
from rso.security import issue_token
from rso.uploads import attach_upload, document_response
from services import conversation, mail
from services.accounts import second_factor, sessions, signin, users
from services.engine import delegations, workflow
from services.engine.items import parse
from services.engine.schemas import HistoryPublic, Strict, TaskPublic
from services.engine.listing import EXPORT_MAX, PAGE_MAX, SEARCH_MAX
from services.engine.workflow import MAX_ID, Workflow
from services.infra.tables import XLSX_TYPE
from states.conversation import DocumentKind, Visibility

IfMatch = Annotated[str | None, Header(alias="If-Match", description="the version you last saw; 409 if it is not current")]


def _etag(response: Response, item):
    response.headers["ETag"] = f'"{item.version}"'
    return item


def api(lifecycles: Iterable[Workflow]) -> tuple[APIRouter, list[type[BaseModel]]]:
    """The /api/v1 router, and the models of the bodies it takes (for the OpenAPI document)."""
    router = APIRouter(prefix="/api/v1", responses=errors.RESPONSES)
    add = router.add_api_route
    add("/health", health, methods=["GET"], tags=["service"], summary="Liveness: the service answers")
    add("/auth/token", token, methods=["POST"], tags=["auth"],
        summary="Sign in: an OAuth2 password form (and `otp`, with two-factor sign-in) gives a bearer token")
    add("/auth/sign-out", sign_out, methods=["POST"], tags=["auth"], status_code=204,
        summary="End this token's session, now")
    add("/me", me, methods=["GET"], tags=["auth"], summary="Who am I")
    add("/me/password", change_password, methods=["POST"], tags=["auth"], status_code=204,
        summary="Change your password (your other sessions end)")
    add("/me/two-factor", two_factor_status, methods=["GET"], tags=["auth"], summary="Your two-factor sign-in")
    add("/me/two-factor", two_factor_begin, methods=["POST"], tags=["auth"],
        summary="Set up two-factor sign-in: a secret for your authenticator app")
    add("/me/two-factor/confirm", two_factor_confirm, methods=["POST"], tags=["auth"],
        summary="Turn two-factor sign-in on with a first code: your recovery codes, once")
    add("/me/two-factor/off", two_factor_off, methods=["POST"], tags=["auth"], status_code=204,
        summary="Switch two-factor sign-in off, with a current code (not for admins)")
    add("/tasks", tasks, methods=["GET"], response_model=list[TaskPublic], tags=["tasks"],
        summary="Your open tasks (inbox), soonest due first")
    add("/admin/emails", captured, methods=["GET"], tags=["admin"],
        summary="Emails captured locally (no SMTP server set), newest first")
    add("/admin/sign-ins", sign_ins, methods=["GET"], tags=["admin"], summary="The sign-in log, newest first")
    add("/admin/users/{user_id}/unlock", unlock, methods=["POST"], tags=["admin"], status_code=204,
        summary="Lift a user's lock after failed sign-ins")
    add("/admin/users/{user_id}/deactivate", deactivate, methods=["POST"], tags=["admin"], status_code=204,
        summary="Deactivate a user: their sessions end at once")
    add("/admin/users/{user_id}/reactivate", reactivate, methods=["POST"], tags=["admin"], status_code=204,
        summary="Reactivate a user")
    add("/admin/users/{user_id}/two-factor/reset", reset_two_factor, methods=["POST"], tags=["admin"],
        status_code=204, summary="Take away a user's second factor (lost phone and recovery codes)")
    models = [*errors.REFUSAL_MODELS, PasswordChange, Code, conversation.CommentIn, *(m for wf in lifecycles for m in _item_routes(router, wf))]
    return router, list(dict.fromkeys(models))


async def health() -> dict:
    return {"status": "ok"}


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def token(request: Request, svc: ServicesDep, form: Annotated[OAuth2PasswordRequestForm, Depends()],
                otp: Annotated[str | None, Form(description="the code of your second factor, if you have one")] = None,
                ) -> dict:
    settings = request.app.state.settings
    done = await signin.sign_in(svc, email=form.username, password=form.password, code=otp, via="api",
                                address=_address(request), lasts=timedelta(minutes=settings.token_minutes))
    now = svc.clock()
    return {"access_token": issue_token(done.session.id, key=request.app.state.signing_key, now=now,
                                        expires_at=done.session.expires_at),
            "token_type": "bearer", "expires_in": int((done.session.expires_at - now).total_seconds()),
            "two_factor_setup_required": done.session.stage == sessions.Stage.SETUP}


async def sign_out(request: Request, svc: ServicesDep, user: SettingUpUser) -> Response:
    await sessions.end(svc, request.state.session_id)
    return Response(status_code=204)


async def me(svc: ServicesDep, user: SettingUpUser) -> dict:
    """Who you are; if you are away today, until when and who acts for you; whom you act for."""
    async with svc.uow(write=False) as uow:
        away, acting_for = await delegations.away(uow, user), await delegations.principals(uow, user)
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "member_state": user.member_state, "country": user.country, "organisation": user.organisation,
            "away": {"until": away.until, "acting": away.delegates} if away else None,
            "acting_for": [p.name for p in acting_for]}


class PasswordChange(Strict):
    current_password: str
    new_password: str


class Code(Strict):
    code: str


async def change_password(request: Request, svc: ServicesDep, user: CurrentUser, data: JsonBody) -> Response:
    body = parse(PasswordChange, data)
    await users.change_password(svc, user=user, current=body.current_password, new=body.new_password,
                                keep=request.state.session_id)
    return Response(status_code=204)


async def two_factor_status(svc: ServicesDep, user: SettingUpUser) -> dict:
    return await second_factor.status(svc, user=user)


async def two_factor_begin(svc: ServicesDep, user: SettingUpUser) -> dict:
    enrolment = await second_factor.begin(svc, user=user)
    return {"secret": enrolment.secret, "otpauth_uri": enrolment.uri}


async def two_factor_confirm(request: Request, svc: ServicesDep, user: SettingUpUser, data: JsonBody) -> dict:
    confirmed = await second_factor.confirm(svc, user=user, code=parse(Code, data).code)
    return {"recovery_codes": confirmed.recovery_codes,
            "note": "each recovery code works once, instead of a code; keep them somewhere safe. "
                    "Sign in again: this session was for setting up only" if user.role == "admin" else
                    "each recovery code works once, instead of a code; keep them somewhere safe"}


async def two_factor_off(svc: ServicesDep, user: CurrentUser, data: JsonBody) -> Response:
    await second_factor.switch_off(svc, user=user, code=parse(Code, data).code)
    return Response(status_code=204)


async def sign_ins(svc: ServicesDep, user: CurrentUser, email: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
    return [{"at": a.at, "email": a.email, "user_id": a.user_id, "address": a.address, "via": a.via,
             "outcome": a.outcome} for a in await signin.attempts(svc, user=user, email=email, limit=limit)]


UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def unlock(svc: ServicesDep, user: CurrentUser, user_id: UserId) -> Response:
    await signin.unlock(svc, user=user, user_id=user_id)
    return Response(status_code=204)


async def deactivate(svc: ServicesDep, user: CurrentUser, user_id: UserId) -> Response:
    await users.set_active(svc, user=user, user_id=user_id, active=False)
    return Response(status_code=204)


async def reactivate(svc: ServicesDep, user: CurrentUser, user_id: UserId) -> Response:
    await users.set_active(svc, user=user, user_id=user_id, active=True)
    return Response(status_code=204)


async def reset_two_factor(svc: ServicesDep, user: CurrentUser, user_id: UserId) -> Response:
    await second_factor.remove(svc, user=user, of_user=user_id)
    return Response(status_code=204)


async def captured(svc: ServicesDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    return [{"id": m.id, "to": m.to_email, "to_name": m.to_name, "subject": m.subject, "template": m.template,
             "reference": m.reference, "message_id": m.message_id, "created_at": m.created_at,
             "captured_at": m.sent_at, "text": m.body_text, "html": m.body_html}
            for m in await mail.captured_emails(svc, user=user, limit=limit)]


async def tasks(svc: ServicesDep, user: CurrentUser):
    return await workflow.inbox(svc, user=user)


class MermaidResponse(PlainTextResponse):
    media_type = "text/vnd.mermaid"


_LIST_RESPONSES = {200: {
    "description": "A page of the list (JSON), or with `format` the whole filtered list as a file",
    "headers": {"Link": {"description": 'the next page, when there may be one: `<…>; rel="next"`',
                         "schema": {"type": "string"}},
                "Content-Disposition": {"description": "with `format`: `attachment; filename=\"proposals-2026-12-05.csv\"`",
                                        "schema": {"type": "string"}}},
    "content": {"text/csv": {"schema": {"type": "string"}},
                XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}


def _list_parameters(wf: Workflow) -> list[dict]:
    """The list's query parameters, as `Workflow.list_query` reads them (the service checks
    them all, so that the API and the pages refuse the same things in the same words)."""
    def param(name: str, description: str, **schema) -> dict:
        return {"name": name, "in": "query", "required": False, "description": description,
                "schema": schema or {"type": "string"}}

    sorts = [f"{way}{name}" for name in wf.sorts for way in ("", "-")]
    return [
        param("q", f"search: a part of the reference or of the {wf.title_sort} (any case; at most {SEARCH_MAX} characters)",
              type="string", maxLength=SEARCH_MAX),
        param("state", "only items in this state", type="string", enum=[s.value for s in wf.lifecycle.states]),
        param("member_state", "only items of this member state (its code)", type="string",
              **({"enum": sorted(wf.member_codes())} if wf.member_codes else {})),
        *(param(f.name, f.description or f"only items with this {f.name.replace('_', ' ')}", type="string",
                enum=list(f.values)) for f in wf.list_filters),
        param("overdue", "true: only items with an open task past its due moment; false: only items without one",
              type="boolean"),
        param("submitted_from", "only items submitted on this day or later (YYYY-MM-DD, in the RSO's time zone)",
              type="string", format="date"),
        param("submitted_to", "only items submitted on this day or earlier (YYYY-MM-DD, in the RSO's time zone); "
              "a range that ends before it starts matches nothing", type="string", format="date"),
        param("sort", "the order: " + "; ".join(f"{s.name}: {s.description or 'its ' + s.name.replace('_', ' ')}"
                                                for s in wf.sorts.values())
              + ". Ascending, or descending after a '-'; an empty value sorts last either way. Default: -created "
                "(newest first)", type="string", enum=sorts),
        param("limit", f"items in a page (default 50; at most {PAGE_MAX})", type="integer", minimum=1,
              maximum=PAGE_MAX),
        param("before", "only items older than this id: in the default order, the id of the last item of the "
              "previous page", type="integer", minimum=1, maximum=MAX_ID),
        param("after", "the items that follow this one in the order chosen: the id of the last item of the previous "
              "page (the Link header gives the next page's address); an id not in your list gives an empty page",
              type="integer", minimum=1, maximum=MAX_ID),
    ]


def _list_description(wf: Workflow) -> str:
    return (f"The {wf.path} you may see that match the filter, in the order asked, a page at a time (the "
            f"`Link` header names the next page). The whole filter is in the address, so it can be kept and "
            f"shared. With `format=csv` or `format=xlsx`, every item that matches (up to {EXPORT_MAX:,}), as a "
            "file, with the same visibility as the list. A value that cannot be read is a 422 naming the parameter.")


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

    async def list_(request: Request, response: Response, svc: ServicesDep, user: CurrentUser,
                    format: Annotated[Literal["json", "csv", "xlsx"], Query(description=(
                        "json: a page of the list; csv or xlsx: the whole filtered list as a file "
                        "(the filter, search and order apply; limit, before and after do not)"))] = "json"):
        query = wf.list_query(svc, request.query_params)
        if format != "json":
            return export_response(await wf.export(svc, user=user, query=query, format=format))
        found = await wf.listing(svc, user=user, query=query)
        if found.next:  # there may be more: where the next page starts (RFC 8288)
            nxt = request.url.remove_query_params(["before", "after"]).include_query_params(**found.next)
            response.headers["Link"] = f'<{nxt.path}?{nxt.query}>; rel="next"'
        return found.items

    async def get(response: Response, svc: ServicesDep, user: CurrentUser, id_or_ref: str):
        return _etag(response, await wf.get(svc, user=user, id_or_ref=id_or_ref))

    async def update(response: Response, svc: ServicesDep, user: CurrentUser, id_or_ref: str, data: JsonBody,
                     if_match: IfMatch = None):
        return _etag(response, await wf.update(svc, user=user, id_or_ref=id_or_ref, data=data, if_match=if_match))

    async def history(svc: ServicesDep, user: CurrentUser, id_or_ref: str):
        return await wf.history(svc, user=user, id_or_ref=id_or_ref)

    async def diagram(svc: ServicesDep, user: CurrentUser, id_or_ref: str):
        return MermaidResponse(await wf.diagram(svc, user=user, id_or_ref=id_or_ref))

    def body(model: type[BaseModel]) -> dict:
        return {"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}

    for fn in (create, list_, get, update, history, diagram):
        fn.__name__ = f"{wf.kind}_{fn.__name__.strip('_')}"
    router.add_api_route(path, create, methods=["POST"], status_code=201, response_model=public, tags=[tag],
                         summary=f"A member state drafts a {noun}", openapi_extra=body(wf.create_schema))
    router.add_api_route(path, list_, methods=["GET"], response_model=list[public], tags=[tag],
                         summary=f"The {wf.path} you may see: filtered, searched, sorted, paged, or exported",
                         description=_list_description(wf), responses=_LIST_RESPONSES,
                         openapi_extra={"parameters": _list_parameters(wf)})
    router.add_api_route(f"{path}/{{id_or_ref}}", get, methods=["GET"], response_model=public, tags=[tag],
                         summary=f"One {noun}, by id or reference ({reference_example})")
    router.add_api_route(f"{path}/{{id_or_ref}}", update, methods=["PATCH"], response_model=public, tags=[tag],
                         summary="The owner edits a draft", openapi_extra=body(wf.update_schema))
    router.add_api_route(f"{path}/{{id_or_ref}}/history", history, methods=["GET"],
                         response_model=list[HistoryPublic], tags=[tag], summary="Every event, oldest first")
    router.add_api_route(f"{path}/{{id_or_ref}}/diagram", diagram, methods=["GET"],
                         response_class=MermaidResponse, tags=[tag],
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
    _conversation_routes(router, wf)

    async def unknown_action(svc: ServicesDep, user: CurrentUser, id_or_ref: str, action: str,
                             data: JsonBody, if_match: IfMatch = None):
        # Not one of the routes above: the service answers 404 with the actions there are.
        return await wf.act(svc, user=user, id_or_ref=id_or_ref, action=action, arguments=data, if_match=if_match)

    unknown_action.__name__ = f"{wf.kind}_unknown_action"
    router.add_api_route(f"{path}/{{id_or_ref}}/actions/{{action}}", unknown_action, methods=["POST"],
                         response_model=public, include_in_schema=False)
    return [wf.create_schema, wf.update_schema, *models]


def _conversation_routes(router: APIRouter, wf: Workflow) -> None:
    """An item's documents (upload, list, download) and comments (add, list)."""
    path, tag = f"/{wf.path}/{{id_or_ref}}", f"{wf.noun} documents and comments"

    async def upload(request: Request, response: Response, svc: ServicesDep, user: CurrentUser, id_or_ref: str):
        doc = await attach_upload(request, svc, wf, user, id_or_ref)
        response.headers["Location"] = f"/api/v1/{wf.path}/{id_or_ref}/documents/{doc.id}"
        return doc

    async def list_documents(svc: ServicesDep, user: CurrentUser, id_or_ref: str):
        return await conversation.documents(svc, wf, user=user, id_or_ref=id_or_ref)

    async def download(svc: ServicesDep, user: CurrentUser, id_or_ref: str,
                       document_id: Annotated[int, Path(ge=1, le=MAX_ID)]):
        return document_response(await conversation.download(svc, wf, user=user, id_or_ref=id_or_ref,
                                                             document_id=document_id))

    async def add_comment(response: Response, svc: ServicesDep, user: CurrentUser, id_or_ref: str, data: JsonBody):
        return await conversation.comment(svc, wf, user=user, id_or_ref=id_or_ref, data=data)

    async def list_comments(svc: ServicesDep, user: CurrentUser, id_or_ref: str):
        return await conversation.comments(svc, wf, user=user, id_or_ref=id_or_ref)

    for fn in (upload, list_documents, download, add_comment, list_comments):
        fn.__name__ = f"{wf.kind}_{fn.__name__}"
    upload_body = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file", "kind"], "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": f"{conversation.ACCEPTED_WORDS}; at most the upload limit (20 MB by default)"},
            "kind": {"type": "string", "enum": [k.value for k in DocumentKind]},
            "visibility": {"type": "string", "enum": [v.value for v in Visibility], "default": "shared"}}}}}}}
    router.add_api_route(f"{path}/documents", upload, methods=["POST"], status_code=201,
                         response_model=conversation.DocumentPublic, tags=[tag], openapi_extra=upload_body,
                         summary="Attach a document (multipart: file, kind, visibility)")
    router.add_api_route(f"{path}/documents", list_documents, methods=["GET"],
                         response_model=list[conversation.DocumentPublic], tags=[tag],
                         summary="The documents you may read, every version (by kind and name, newest first)")
    router.add_api_route(f"{path}/documents/{{document_id}}", download, methods=["GET"], tags=[tag],
                         response_class=FileResponse, summary="Download a document (as an attachment)")
    router.add_api_route(f"{path}/comments", add_comment, methods=["POST"], status_code=201,
                         response_model=conversation.CommentPublic, tags=[tag], summary="Comment on the item",
                         openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/CommentIn"}}}}})
    router.add_api_route(f"{path}/comments", list_comments, methods=["GET"],
                         response_model=list[conversation.CommentPublic], tags=[tag],
                         summary="The comments you may read, oldest first")
