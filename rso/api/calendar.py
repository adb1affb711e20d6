"""/api/v1/calendar: the address of the caller's own calendar feed (iCalendar, of their open
tasks), and a new one on request."""
from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from rso.api import errors
from rso.api.deps import CurrentUser, ServicesDep
from services import calendar_feed

router = APIRouter(prefix="/api/v1", responses=errors.RESPONSES, tags=["calendar"])


class FeedAddress(BaseModel):
    url: str  # secret: whoever has it reads the feed, without signing in


@router.get("/calendar", response_model=FeedAddress, summary="Your calendar feed's secret address")
async def calendar_address(request: Request, svc: ServicesDep, user: CurrentUser):
    """The address to subscribe to in a calendar app: your open tasks, each on its due day."""
    return FeedAddress(url=await calendar_feed.feed_url(svc, secret=request.app.state.signing_key,
                                                        base_url=request.app.state.settings.base_url, user=user))


@router.post("/calendar/renew", response_model=FeedAddress, summary="A new address for your calendar feed")
async def calendar_renew(request: Request, svc: ServicesDep, user: CurrentUser):
    """The old address stops working at once (404); subscribe again with the new one."""
    return FeedAddress(url=await calendar_feed.renew(svc, secret=request.app.state.signing_key,
                                                     base_url=request.app.state.settings.base_url, user=user))
