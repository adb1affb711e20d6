"""Business days in the RSO's calendar. Weekends only for now; public holidays come with
the deadlines work (RSO_CALENDAR)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def add_business_days(start: date, days: int) -> date:
    """The date `days` business days after `start` (Saturday and Sunday are not counted)."""
    d = start
    remaining = days
    while remaining > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            remaining -= 1
    return d


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """A due date means the whole of that day in the RSO's time zone."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def due_in_business_days(now: datetime, days: int, tz: ZoneInfo) -> datetime:
    return end_of_day(add_business_days(now.astimezone(tz).date(), days), tz)
