"""Business days in the RSO's calendar: weekends and the public holidays of the host country
(`RSO_CALENDAR`, Thailand by default, from the maintained `holidays` package, substitution
days included), in the RSO's time zone (`RSO_TIMEZONE`). A due date is a whole day there."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays
from dateutil.relativedelta import relativedelta

BANGKOK = ZoneInfo("Asia/Bangkok")
_KEEP = 100_000  # answers kept by a calendar, at most
_ORIGIN = 2000  # business days are counted from 1 January of this year (`_count_year`)


class BusinessCalendar:
    def __init__(self, country: str = "TH", tz: ZoneInfo = BANGKOK):
        self.country, self.tz = country.upper(), tz
        if self.country not in holidays.list_supported_countries():
            raise ValueError(f"unknown holiday calendar '{country}': use an ISO 3166-1 alpha-2 country code "
                             "that the holidays package knows, such as TH, ID or AU")
        # Answers already worked out: a sweep asks the same few dates thousands of times, and a
        # lookup in `holidays` costs a few microseconds. The calendar never changes once made.
        self._business: dict[date, bool] = {}
        self._added: dict[tuple[date, int], date] = {}
        self._ranks: dict[int, int] = {}  # a day's (ordinal) running count of business days (`_count_year`)
        self._year_size: dict[int, int] = {}

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        return holidays.country_holidays(self.country)  # fills in each year as it is asked about

    def holiday(self, d: date) -> str | None:
        """The public holiday on `d`, by name, if any."""
        return self._holidays.get(d)

    def is_business_day(self, d: date) -> bool:
        found = self._business.get(d)
        if found is None:
            found = self._business[d] = d.weekday() < 5 and d not in self._holidays
        return found

    def add_business_days(self, start: date, days: int) -> date:
        """The date `days` business days after `start` (before it when negative). Zero days:
        `start` itself, whatever it is."""
        found = self._added.get((start, days))
        if found is not None:
            return found
        d, step, remaining = start, (1 if days >= 0 else -1), abs(days)
        while remaining > 0:
            d += timedelta(days=step)
            if self.is_business_day(d):
                remaining -= 1
        if len(self._added) >= _KEEP:  # a long-running service: bounded, whatever it is asked
            self._added.clear()
        self._added[(start, days)] = d
        return d

    def business_days_between(self, start: date, end: date) -> int:
        """Business days after `start` up to and including `end` (negative if `end` is earlier).
        Two lookups, whatever the distance: a report counts tens of thousands of stays."""
        ranks = self._ranks
        a, b = ranks.get(start.toordinal()), ranks.get(end.toordinal())
        if a is None or b is None:
            self._count_year(start.year)
            self._count_year(end.year)
            a, b = ranks[start.toordinal()], ranks[end.toordinal()]
        return b - a

    def _count_year(self, y: int) -> None:
        """Each day of year `y` with its rank: the business days from a fixed origin (1 January
        2000) up to and including it, made once per year asked about."""
        first = date(y, 1, 1)
        if first.toordinal() in self._ranks:
            return
        running = self._year_base(y)
        for i in range((date(y, 12, 31) - first).days + 1):
            d = first + timedelta(days=i)
            running += self.is_business_day(d)
            self._ranks[d.toordinal()] = running

    def _year_base(self, y: int) -> int:
        """Business days from the origin (1 January 2000) to the end of year y - 1 (negative
        before the origin): the years' own counts, summed, each year's asked once."""
        total = 0
        step = 1 if y >= _ORIGIN else -1
        for year in (range(_ORIGIN, y) if y >= _ORIGIN else range(y, _ORIGIN)):
            n = self._year_size.get(year)
            if n is None:
                first = date(year, 1, 1)
                n = self._year_size[year] = sum(self.is_business_day(first + timedelta(days=i))
                                                for i in range((date(year, 12, 31) - first).days + 1))
            total += n
        return total * step

    def today(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()

    def end_of_day(self, day: date) -> datetime:
        """A due date means the whole of that day in the RSO's time zone."""
        return datetime.combine(day, time(23, 59, 59), tzinfo=self.tz)

    def at(self, day: date, hour: int = 8) -> datetime:
        """A moment on `day` in the RSO's time zone (reminders go out in its morning)."""
        return datetime.combine(day, time(hour, 0), tzinfo=self.tz)

    def due_in(self, now: datetime, days: int) -> datetime:
        """Due `days` business days from today in the RSO's time zone, at the end of that day."""
        return self.end_of_day(self.add_business_days(self.today(now), days))


def add_months(d: date, months: int) -> date:
    """The same day `months` later; the month's last day when it has no such day (31 January
    plus one month is 28 or 29 February), as `dateutil` counts months."""
    return d + relativedelta(months=months)
