"""The routes of /api/v1. Each calls one service function: no rule lives here."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse
from fastapi.security import OAuth2PasswordRequestForm

from rso.api.deps import CurrentUser, JsonBody, ServicesDep
from rso.security import issue_token
from services import mail, proposals
from services.proposal_schemas import HistoryPublic, ProposalCreate, ProposalPublic, ProposalUpdate, TaskPublic
from services.users import authenticate
from states.proposal import ProposalAction

router = APIRouter(prefix="/api/v1")

IfMatch = Annotated[str | None, Header(alias="If-Match", description="the version you last saw; 409 if it is not current")]


def _etag(response: Response, proposal: ProposalPublic) -> ProposalPublic:
    response.headers["ETag"] = f'"{proposal.version}"'
    return proposal


@router.get("/health", tags=["service"], summary="Liveness: the service answers")
async def health() -> dict:
    return {"status": "ok"}


@router.post("/auth/token", tags=["auth"], summary="Sign in: an OAuth2 password form gives a bearer token")
async def token(request: Request, svc: ServicesDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict:
    user = await authenticate(svc, email=form.username, password=form.password)
    settings = request.app.state.settings
    return {"access_token": issue_token(user.id, key=request.app.state.signing_key, now=svc.clock(),
                                        minutes=settings.token_minutes),
            "token_type": "bearer", "expires_in": settings.token_minutes * 60}


@router.get("/me", tags=["auth"], summary="Who am I")
async def me(user: CurrentUser) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "member_state": user.member_state, "country": user.country, "organisation": user.organisation}


@router.post("/proposals", status_code=201, response_model=ProposalPublic, tags=["proposals"],
             summary="A member state drafts a proposal",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"$ref": "#/components/schemas/ProposalCreate"}}}}})
async def create(response: Response, svc: ServicesDep, user: CurrentUser, data: JsonBody,
                 idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None):
    proposal, created = await proposals.create_proposal(svc, user=user, data=data, idempotency_key=idempotency_key)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/proposals/{proposal.id}"
    return _etag(response, proposal)


@router.get("/proposals", response_model=list[ProposalPublic], tags=["proposals"],
            summary="The proposals you may see, newest first")
async def list_(svc: ServicesDep, user: CurrentUser, state: str | None = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
    return await proposals.list_proposals(svc, user=user, state=state, limit=limit, offset=offset)


@router.get("/proposals/{id_or_ref}", response_model=ProposalPublic, tags=["proposals"],
            summary="One proposal, by id or reference (RSO-P-2026-0001)")
async def get(response: Response, svc: ServicesDep, user: CurrentUser, id_or_ref: str):
    return _etag(response, await proposals.get_proposal(svc, user=user, id_or_ref=id_or_ref))


@router.patch("/proposals/{id_or_ref}", response_model=ProposalPublic, tags=["proposals"],
              summary="The owner edits a draft",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": {"$ref": "#/components/schemas/ProposalUpdate"}}}}})
async def update(response: Response, svc: ServicesDep, user: CurrentUser, id_or_ref: str, data: JsonBody,
                 if_match: IfMatch = None):
    return _etag(response, await proposals.update_proposal(svc, user=user, id_or_ref=id_or_ref, data=data,
                                                           if_match=if_match))


@router.get("/proposals/{id_or_ref}/history", response_model=list[HistoryPublic], tags=["proposals"],
            summary="Every event, oldest first")
async def history(svc: ServicesDep, user: CurrentUser, id_or_ref: str):
    return await proposals.get_history(svc, user=user, id_or_ref=id_or_ref)


@router.get("/proposals/{id_or_ref}/diagram", response_class=PlainTextResponse, tags=["proposals"],
            summary="The lifecycle as Mermaid text, the current state marked")
async def diagram(svc: ServicesDep, user: CurrentUser, id_or_ref: str):
    return PlainTextResponse(await proposals.get_diagram(svc, user=user, id_or_ref=id_or_ref),
                             media_type="text/vnd.mermaid; charset=utf-8")


def _action_route(action: ProposalAction):
    model = proposals.ARGUMENTS[action]

    async def run(response: Response, svc: ServicesDep, user: CurrentUser, id_or_ref: str,
                  data: JsonBody, if_match: IfMatch = None):
        return _etag(response, await proposals.act(svc, user=user, id_or_ref=id_or_ref, action=action.value,
                                                   arguments=data, if_match=if_match))

    run.__name__ = f"proposal_{action.value}"
    router.add_api_route(
        f"/proposals/{{id_or_ref}}/actions/{action.value}", run, methods=["POST"], response_model=ProposalPublic,
        tags=["proposal actions"], summary=f"{action.value.replace('_', ' ').capitalize()}",
        openapi_extra={"requestBody": {"content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}})
    return model


ACTION_MODELS = [_action_route(a) for a in ProposalAction]
BODY_MODELS = [ProposalCreate, ProposalUpdate, *ACTION_MODELS]


@router.post("/proposals/{id_or_ref}/actions/{action}", response_model=ProposalPublic, include_in_schema=False)
async def unknown_action(svc: ServicesDep, user: CurrentUser, id_or_ref: str, action: str,
                         data: JsonBody, if_match: IfMatch = None):
    # Not one of the routes above: the service answers 404 with the actions there are.
    return await proposals.act(svc, user=user, id_or_ref=id_or_ref, action=action, arguments=data,
                               if_match=if_match)


@router.get("/admin/emails", tags=["admin"], summary="Emails captured locally (no SMTP server set), newest first")
async def captured(svc: ServicesDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    return [{"id": m.id, "to": m.to_email, "to_name": m.to_name, "subject": m.subject, "template": m.template,
             "reference": m.reference, "message_id": m.message_id, "created_at": m.created_at,
             "captured_at": m.sent_at, "text": m.body_text, "html": m.body_html}
            for m in await mail.captured_emails(svc, user=user, limit=limit)]


@router.get("/tasks", response_model=list[TaskPublic], tags=["tasks"],
            summary="Your open tasks (inbox), soonest due first")
async def tasks(svc: ServicesDep, user: CurrentUser):
    return await proposals.inbox(svc, user=user)
