"""The page where a co-manager or co-chair names someone to act for them while away (an admin:
for someone), sees who acts for whom, and ends a delegation early."""
from __future__ import annotations

from datetime import date

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as FastPath

from rso.web import forms
from rso.web.pages import _by_field, _posted, page, redirect
from rso.web.session import require_user
from services.engine import delegations
from services.engine.errors import InvalidInput, NotFound
from services.engine.listing import MAX_ID
from states.common import Role

router = APIRouter(include_in_schema=False)


async def _page(request: Request, user, *, status: int = 200, values=None, errors=None, message=None):
    svc = request.app.state.services
    found = await delegations.listing(svc, user=user)  # Forbidden first, to anyone it is not for
    async with svc.uow(write=False) as uow:
        away = await delegations.away(uow, user)
        acting_for = await delegations.principals(uow, user)
    people = await delegations.candidates(svc, user=user)
    seated = [u for u in people if u.role in delegations.SEATED] if user.role == Role.ADMIN else []
    return page(request, "delegations.html", user=user, status=status, title="Cover while away",
                delegations=found, people=people, seated=seated,
                away=away, acting_for=acting_for, values=values or {}, errors=errors or {}, message=message,
                today=svc.calendar.today(svc.clock()), seat_words=delegations.seat_words)


@router.get("/delegations")
async def delegations_page(request: Request, done: str | None = None):
    user = await require_user(request)
    message = {"named": "Done: the delegation is saved.", "ended": "Done: the delegation has ended."}.get(done or "")
    return await _page(request, user, message=message)


@router.post("/delegations")
async def name_delegate(request: Request):
    user, form = await _posted(request)
    values = {k: str(form.get(k) or "") for k in ("delegate", "starts_on", "ends_on", "principal")}
    errors: dict[str, list[str]] = {}
    days = {}
    for name in ("starts_on", "ends_on"):
        parsed = forms.parse_day(values[name])
        if parsed is None:
            errors[name] = ["enter a date, such as 14 December 2026"]
        else:
            days[name] = parsed
    if not values["delegate"]:
        errors["delegate"] = ["choose who acts for you"]
    if errors:
        return await _page(request, user, status=422, values=values, errors=errors)
    try:
        await delegations.create(request.app.state.services, user=user, delegate=values["delegate"],
                                 starts_on=date.fromisoformat(days["starts_on"]),
                                 ends_on=date.fromisoformat(days["ends_on"]),
                                 principal=values["principal"] or None)
    except InvalidInput as exc:
        return await _page(request, user, status=422, values=values, errors=_by_field(exc.errors))
    return redirect("/delegations?done=named")


@router.post("/delegations/{delegation_id}/end")
async def end_delegation(request: Request, delegation_id: Annotated[int, FastPath(ge=1, le=MAX_ID)]):
    user, _ = await _posted(request)
    try:
        await delegations.end(request.app.state.services, user=user, delegation_id=delegation_id)
    except NotFound:
        return await _page(request, user, status=404, message="That delegation is not one of yours.")
    return redirect("/delegations?done=ended")
