"""Due dates in business days: weekends and Thailand's public holidays (substitution days
included), as whole days in Bangkok."""
import calendar
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.config.calendar import BusinessCalendar, add_months
from services.config.settings import Settings

TH = BusinessCalendar("TH")


@pytest.mark.parametrize("start, days, due", [
    (date(2026, 11, 16), 5, date(2026, 11, 23)),   # Monday + 5 business days: the next Monday
    (date(2026, 11, 27), 1, date(2026, 11, 30)),   # Friday + 1: Monday
    (date(2026, 11, 28), 1, date(2026, 11, 30)),   # Saturday + 1: Monday
    (date(2026, 11, 23), 0, date(2026, 11, 23)),
    # King Bhumibol's birthday falls on Saturday 5 December 2026: Monday 7th is the day in lieu.
    (date(2026, 12, 4), 1, date(2026, 12, 8)),
    # Constitution Day (Thu 10 Dec), New Year's Eve (Thu 31 Dec) and Day (Fri 1 Jan) are not counted.
    (date(2026, 12, 9), 1, date(2026, 12, 11)),
    (date(2026, 12, 30), 1, date(2027, 1, 4)),
    # Songkran, 13 to 15 April 2027 (Tuesday to Thursday), after Chakri Day on Tuesday 6th.
    (date(2027, 4, 12), 1, date(2027, 4, 16)),
    (date(2027, 4, 5), 10, date(2027, 4, 23)),
    # Backwards: one business day before Friday 16 April 2027 is Monday 12th.
    (date(2027, 4, 16), -1, date(2027, 4, 12)),
])
def test_business_days_skip_weekends_and_thai_public_holidays(start, days, due):
    assert TH.add_business_days(start, days) == due
    if days > 0:
        assert TH.business_days_between(start, due) == days


def test_the_holidays_have_their_names():
    assert TH.holiday(date(2027, 4, 14)) == "Songkran Festival"
    assert "in lieu" in TH.holiday(date(2026, 12, 7))
    assert TH.holiday(date(2026, 11, 24)) is None


def test_another_host_country_counts_its_own_holidays():
    indonesia = BusinessCalendar("ID")
    # 17 August 2027 (Tuesday) is Indonesia's Independence Day, an ordinary day in Thailand.
    assert not indonesia.is_business_day(date(2027, 8, 17)) and TH.is_business_day(date(2027, 8, 17))


def test_a_due_date_is_the_end_of_that_day_in_bangkok_whatever_the_hour_in_utc():
    # 20:00 UTC on Friday is already Saturday 03:00 in Bangkok: count from Saturday.
    due = TH.due_in(datetime(2026, 11, 27, 20, 0, tzinfo=UTC), 1)
    local = due.astimezone(TH.tz)
    assert local.date() == date(2026, 11, 30) and (local.hour, local.minute) == (23, 59)


def test_an_unknown_calendar_is_refused_at_start_up_by_name():
    with pytest.raises(ValueError, match="unknown holiday calendar 'XX'"):
        Settings(calendar="XX")
    assert Settings(calendar="id").calendar == "ID"


# Any day of the years the service will see, and any span a policy may set: the arithmetic holds
# whatever the date, Songkran, the New Year and a 29 February included (hypothesis picks the days).
DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2032, 12, 31))


@settings(max_examples=300, deadline=None)
@given(start=DAYS, days=st.integers(min_value=1, max_value=60))
def test_n_business_days_later_is_a_business_day_exactly_n_business_days_on(start, days):
    due = TH.add_business_days(start, days)
    assert TH.is_business_day(due) and due > start
    assert TH.business_days_between(start, due) == days
    assert TH.business_days_between(start, due - timedelta(days=1)) == days - 1  # not a day later than it needs


@settings(max_examples=300, deadline=None)
@given(start=DAYS, days=st.integers(min_value=1, max_value=60))
def test_counting_back_undoes_counting_forward_from_a_business_day(start, days):
    while not TH.is_business_day(start):
        start += timedelta(days=1)
    assert TH.add_business_days(TH.add_business_days(start, days), -days) == start


@settings(max_examples=300, deadline=None)
@given(start=DAYS, months=st.integers(min_value=-12, max_value=12))
def test_a_month_on_is_the_same_day_or_the_last_of_a_shorter_month(start, months):
    later = add_months(start, months)
    assert (later.year * 12 + later.month) - (start.year * 12 + start.month) == months
    assert later.day == start.day or later.day == calendar.monthrange(later.year, later.month)[1] < start.day


# Every day a form may be given (this century: `services.engine.schemas.Day`), every month
# length, a leap day included: a placement's period check never fails on the arithmetic itself.
FORM_DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@settings(max_examples=500, deadline=None)
@given(start=FORM_DAYS, end=FORM_DAYS, today=FORM_DAYS)
def test_the_placement_period_check_answers_for_any_two_days(start, end, today):
    from services.secondments.workflow import MAX_MONTHS, _check_period
    problems = _check_period(start, end, start_field="start_date", end_field="end_date", not_before=today)
    assert all(p["field"] in ("start_date", "end_date") for p in problems)
    if not problems:
        assert add_months(start, 1) <= end <= add_months(start, MAX_MONTHS) and start >= today


@settings(max_examples=300, deadline=None)
@given(day=st.dates(), months=st.integers(min_value=-12, max_value=12))
def test_a_day_out_of_the_forms_range_is_refused_before_any_arithmetic(day, months):
    from pydantic import TypeAdapter, ValidationError

    from services.engine.schemas import Day
    try:
        TypeAdapter(Day).validate_python(day)
    except ValidationError:
        assert not date(2000, 1, 1) <= day <= date(2099, 12, 31)
    else:
        add_months(day, months)  # within the range, a month on (or back) always exists
