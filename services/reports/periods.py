"""The periods a report covers: a month (`2026-11`), a half-year (`2026-H2`) or a year
(`2026`), as whole days in the RSO's time zone. A moment belongs to the period when it falls
on or after the first day's midnight there and before the next period's."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta


class ReportKind(StrEnum):
    MONTHLY = "monthly"
    BIANNUAL = "biannual"  # the Co-Managers' six-monthly report to the Co-Chairs
    ANNUAL = "annual"


_MONTHS = {ReportKind.MONTHLY: 1, ReportKind.BIANNUAL: 6, ReportKind.ANNUAL: 12}
_SHAPE = {ReportKind.MONTHLY: (re.compile(r"(\d{4})-(\d{2})"), "YYYY-MM, such as 2026-11"),
          ReportKind.BIANNUAL: (re.compile(r"(\d{4})-H([12])"), "YYYY-H1 or YYYY-H2, such as 2026-H2"),
          ReportKind.ANNUAL: (re.compile(r"(\d{4})"), "YYYY, such as 2026")}


NOUN = {ReportKind.MONTHLY: "monthly", ReportKind.BIANNUAL: "six-monthly", ReportKind.ANNUAL: "annual"}


class BadPeriod(ValueError):
    """A period that does not name one of the kind's (the message says the shape)."""


@dataclass(frozen=True)
class Period:
    kind: ReportKind
    first: date  # the first day
    end: date  # the day after the last

    @property
    def last(self) -> date:
        return self.end - relativedelta(days=1)

    @property
    def name(self) -> str:
        """As written in addresses and on the command line: 2026-11, 2026-H2, 2026."""
        if self.kind == ReportKind.MONTHLY:
            return f"{self.first:%Y-%m}"
        if self.kind == ReportKind.BIANNUAL:
            return f"{self.first.year}-H{1 if self.first.month == 1 else 2}"
        return str(self.first.year)

    @property
    def label(self) -> str:
        """As a reader says it: November 2026, July to December 2026, 2026."""
        if self.kind == ReportKind.MONTHLY:
            return f"{self.first:%B %Y}"
        if self.kind == ReportKind.BIANNUAL:
            return f"{self.first:%B} to {self.last:%B %Y}"
        return str(self.first.year)

    @property
    def title(self) -> str:
        return {ReportKind.MONTHLY: "Monthly report", ReportKind.BIANNUAL: "Six-monthly report",
                ReportKind.ANNUAL: "Annual report"}[self.kind] + f", {self.label}"

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as moments: [its first midnight, the next period's first midnight) in `tz`."""
        return datetime.combine(self.first, time(0), tzinfo=tz), datetime.combine(self.end, time(0), tzinfo=tz)

    def months(self) -> list[date]:
        """The first day of each month of the period."""
        return [self.first + relativedelta(months=i) for i in range(_MONTHS[self.kind])]

    def previous(self) -> Period:
        return period_starting(self.kind, self.first - relativedelta(months=_MONTHS[self.kind]))


def period_starting(kind: ReportKind, first: date) -> Period:
    return Period(kind, first, first + relativedelta(months=_MONTHS[kind]))


def parse_kind(text: str) -> ReportKind:
    try:
        return ReportKind(str(text).strip().lower())
    except ValueError:
        raise BadPeriod("the report must be one of " + ", ".join(k.value for k in ReportKind)) from None


def parse_period(kind: ReportKind | str, text: str) -> Period:
    """The period `text` names for a report of `kind`; BadPeriod when it names none."""
    kind = parse_kind(kind)
    pattern, shape = _SHAPE[kind]
    m = pattern.fullmatch(str(text).strip().upper())
    if m is None:
        raise BadPeriod(f"a {NOUN[kind]} report's period is written {shape}")
    year = int(m.group(1))
    if not 2000 <= year <= 2999:
        raise BadPeriod("the year must be between 2000 and 2999")
    if kind == ReportKind.MONTHLY:
        month = int(m.group(2))
        if not 1 <= month <= 12:
            raise BadPeriod("the month must be between 01 and 12")
        return period_starting(kind, date(year, month, 1))
    if kind == ReportKind.BIANNUAL:
        return period_starting(kind, date(year, 1 if m.group(2) == "1" else 7, 1))
    return period_starting(kind, date(year, 1, 1))


def period_of(kind: ReportKind, day: date) -> Period:
    """The period of `kind` that `day` falls in."""
    if kind == ReportKind.MONTHLY:
        return period_starting(kind, day.replace(day=1))
    if kind == ReportKind.BIANNUAL:
        return period_starting(kind, date(day.year, 1 if day.month <= 6 else 7, 1))
    return period_starting(kind, date(day.year, 1, 1))
