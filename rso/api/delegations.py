"""/api/v1/delegations: naming someone to act for a co-manager or co-chair who is away, the
delegations one is part of, and ending one early. The rules are `services.engine.delegations`'."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from rso.api import errors
from rso.api.deps import CurrentUser, JsonBody, ServicesDep
from services.engine import delegations
from services.engine.items import parse
from services.engine.listing import MAX_ID
from services.engine.schemas import Day, Strict

router = APIRouter(prefix="/api/v1", responses=errors.RESPONSES, tags=["delegations"])


class DelegationCreate(Strict):
    delegate: str = Field(max_length=254, description="the email of the person who acts for you")
    starts_on: Day
    ends_on: Day = Field(description="the last day, included")
    principal: str | None = Field(default=None, max_length=254,
                                  description="for an admin: the email of the person away")


@router.post("/delegations", status_code=201, response_model=delegations.DelegationView,
             summary="Name someone to act for you (an admin: for someone) while away",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"$ref": "#/components/schemas/DelegationCreate"}}}}})
async def create(svc: ServicesDep, user: CurrentUser, data: JsonBody):
    """From `starts_on` to `ends_on` (both included), the delegate also sees your tasks, gets
    your task emails, and acts in your seat. 422 names the field and the reason: the other
    co-manager seat's holder can never be named, nor someone already acting in it then."""
    args = parse(DelegationCreate, data)
    return await delegations.create(svc, user=user, delegate=args.delegate, starts_on=args.starts_on,
                                    ends_on=args.ends_on, principal=args.principal)


@router.get("/delegations", response_model=list[delegations.DelegationView], summary="The delegations you are part of")
async def listing(svc: ServicesDep, user: CurrentUser,
                  include_past: Annotated[bool, Query(description="also those over or ended")] = False):
    """Those you named or act in (an admin: every one), not yet over unless `include_past`."""
    return await delegations.listing(svc, user=user, include_past=include_past)


@router.delete("/delegations/{delegation_id}", response_model=delegations.DelegationView,
               summary="End a delegation now")
async def end(svc: ServicesDep, user: CurrentUser, delegation_id: Annotated[int, Path(ge=1, le=MAX_ID)]):
    """The person away, the delegate or an admin ends it: from now on the delegate no longer acts."""
    return await delegations.end(svc, user=user, delegation_id=delegation_id)
