"""Moments through the service's own engine: what is written comes back the same instant, aware
and in UTC, to the microsecond, whatever the moment (on PostgreSQL a codec of the service's own
decodes `timestamptz` over asyncpg and remembers the moments a batch repeats; see
`services.infra.db`)."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.infra.db import UtcDateTime, make_async_engine

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-9, minutes=-30))])
MOMENTS = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31), timezones=ZONES)
moments = sa.Table("moments_test", sa.MetaData(), sa.Column("n", sa.Integer), sa.Column("at", UtcDateTime()))


def _round_trip(url: str, written: list[datetime]) -> tuple[list, list]:
    async def go():
        engine = make_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(moments.create)
                await conn.execute(moments.insert(), [{"n": n, "at": at} for n, at in enumerate(written)])
                rows = (await conn.execute(sa.select(moments.c.at).order_by(moments.c.n))).scalars().all()
                # ...and as a bound parameter: each moment finds its own row
                found = [(await conn.execute(sa.select(moments.c.n).where(moments.c.at == at))).scalars().all()
                         for at in written]
                await conn.run_sync(moments.drop)
            return rows, found
        finally:
            await engine.dispose()
    return asyncio.run(go())


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(MOMENTS, min_size=1, max_size=6))
def test_a_moment_comes_back_the_same_instant_in_utc(database_url, written):
    # twice the first: a remembered moment is the same as a new one
    written = [written[0], *written, written[0]]
    rows, found = _round_trip(database_url, written)
    assert rows == written  # the same instants (aware datetimes compare as instants)...
    assert all(r.tzinfo is not None and r.utcoffset() == timedelta(0) for r in rows)  # ...told in UTC
    assert [r.replace(tzinfo=None) for r in rows] == [w.astimezone(UTC).replace(tzinfo=None) for w in written]
    for n, (at, ns) in enumerate(zip(written, found)):
        assert n in ns and all(written[m] == at for m in ns)
