"""Due dates in business days (weekends only for now), as whole days in Bangkok."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.calendar import add_business_days, due_in_business_days

BKK = ZoneInfo("Asia/Bangkok")


@pytest.mark.parametrize("start, days, due", [
    (date(2026, 11, 23), 10, date(2026, 12, 7)),   # Monday + 10 business days: two weeks on
    (date(2026, 11, 27), 1, date(2026, 11, 30)),   # Friday + 1: Monday
    (date(2026, 11, 28), 1, date(2026, 11, 30)),   # Saturday + 1: Monday
    (date(2026, 11, 29), 5, date(2026, 12, 4)),    # Sunday + 5: Friday
    (date(2026, 11, 23), 0, date(2026, 11, 23)),
])
def test_adding_business_days_skips_weekends(start, days, due):
    assert add_business_days(start, days) == due


def test_a_due_date_is_the_end_of_that_day_in_bangkok_whatever_the_hour_in_utc():
    # 20:00 UTC on Friday is already Saturday 03:00 in Bangkok: count from Saturday.
    due = due_in_business_days(datetime(2026, 11, 27, 20, 0, tzinfo=UTC), 1, BKK)
    assert due.astimezone(BKK).date() == date(2026, 11, 30)
    assert (due.astimezone(BKK).hour, due.astimezone(BKK).minute) == (23, 59)
