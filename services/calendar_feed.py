"""Each user's private calendar feed (iCalendar) of their open tasks' due dates, at a secret
address they can renew. The address carries a token signed for the "calendar-feed" purpose over
the user's id and the feed's generation; renewing moves the generation on, so every address
given before stops working. No session is involved: whoever holds the address reads the feed,
which is why it says no more than the inbox does."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from services.engine.models import moment


class CalendarFeed(SQLModel, table=True):
    """A user's feed's current generation (no row: generation 0, never renewed)."""

    __tablename__ = "calendar_feeds"

    user_id: int = Field(primary_key=True, foreign_key="users.id")
    generation: int = 0
    renewed_at: datetime = moment()
