"""The calendar feed: its secret address, read by calendar apps without a session, and the
account's page that shows the address and renews it."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from rso.web.pages import page, redirect
from rso.web.session import check_csrf, require_user
from services import calendar_feed
from services.engine.errors import NotFound

router = APIRouter(include_in_schema=False)


def _where(request: Request) -> dict:
    return dict(secret=request.app.state.signing_key, base_url=request.app.state.settings.base_url)


@router.get("/calendar/{token}.ics")
async def feed(request: Request, token: str):
    # Answered here, not by the pages' error handler: a calendar app gets a short plain answer,
    # and no page (nor its sign-in form's cookie) is made for it.
    try:
        body = await calendar_feed.feed(request.app.state.services, token=token, **_where(request))
    except NotFound:
        return PlainTextResponse("No calendar at this address: it was renewed, or never existed.", status_code=404)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"content-disposition": 'inline; filename="rso-workflow-tasks.ics"',
                             # the address is a secret, and the feed changes: no cache keeps a copy
                             "cache-control": "no-store", "referrer-policy": "no-referrer"})


@router.get("/account/calendar")
async def calendar_page(request: Request, renewed: int = 0):
    user = await require_user(request)
    url = await calendar_feed.feed_url(request.app.state.services, user=user, **_where(request))
    return page(request, "calendar.html", user=user, url=url, renewed=bool(renewed))


@router.post("/account/calendar/renew")
async def calendar_renew(request: Request):
    user = await require_user(request)
    check_csrf(request, await request.form())
    await calendar_feed.renew(request.app.state.services, user=user, **_where(request))
    return redirect("/account/calendar?renewed=1")
