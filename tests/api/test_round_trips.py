"""How many times an action talks to the database: each statement, BEGIN and COMMIT is a round
trip to a PostgreSQL server. Counted with SQLAlchemy's engine events, so the number cannot creep
back unnoticed: an action (create, submit, a review) in at most five round trips on the
service's side, its signed-in check included."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.conftest import complete_proposal

LIMIT = 5


class RoundTrips:
    """Every BEGIN, statement, COMMIT and ROLLBACK the service's engine sends, while counting."""

    def __init__(self, engine):
        self.engine, self.seen, self.on = engine.sync_engine, [], False
        for name in ("begin", "commit", "rollback"):
            event.listen(self.engine, name, self._marker(name.upper()))
        event.listen(self.engine, "before_cursor_execute", self._statement)

    def _marker(self, word):
        def record(conn):
            if self.on:
                self.seen.append(word)
        return record

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.seen.append(" ".join(statement.split())[:90])

    @contextmanager
    def counting(self):
        self.seen, self.on = [], True
        try:
            yield self
        finally:
            self.on = False

    def __len__(self):
        return len(self.seen)


@pytest.fixture
def trips(api):
    return RoundTrips(api.client.app.state.services.engine)


def _counted(trips, call):
    with trips.counting():
        r = call()
    assert r.status_code < 300, r.text
    return r, list(trips.seen)


def test_each_action_takes_at_most_five_round_trips(api, trips, db_kind):
    if db_kind != "postgresql":
        pytest.skip("a round trip is a server's: SQLite runs inside the process")
    api.create()  # the statements are prepared (and each user's session looked up) once before counting
    first = api.create()
    api.act("tha", first["reference"], "submit")
    api.act("cm_aus", first["reference"], "review", recommendation="endorse")

    r, created = _counted(trips, lambda: api.post("tha", "/proposals", complete_proposal()))
    ref = r.json()["reference"]
    _, submitted = _counted(trips, lambda: api.post("tha", f"/proposals/{ref}/actions/submit"))
    _, reviewed = _counted(trips, lambda: api.post("cm_aus", f"/proposals/{ref}/actions/review",
                                                  {"recommendation": "endorse"}))

    over = {name: seen for name, seen in (("create", created), ("submit", submitted), ("review", reviewed))
            if len(seen) > LIMIT}
    assert not over, "\n".join(f"{name}: {len(seen)} round trips:\n  " + "\n  ".join(seen)
                                for name, seen in over.items())
    # ...and each wrote what the action means: a second reader sees the review's vote
    view = api.get("cm_idn", f"/proposals/{ref}").json()
    assert view["state"] == "co_manager_review"
    assert [(r["country"], r["recommendation"]) for r in view["reviews"]] == [("AUS", "endorse")], view


def test_reads_take_one_query_each(api, trips, db_kind):
    if db_kind != "postgresql":
        pytest.skip("a round trip is a server's: SQLite runs inside the process")
    refs = [api.create()["reference"] for _ in range(3)]
    for ref in refs:
        api.act("tha", ref, "submit")
    api.act("cm_aus", refs[0], "review", recommendation="endorse", comment="Sound.")
    for who in ("tha", "cm_aus", "cm_idn"):  # each session found live, and the directory of people read, once
        api.get(who, "/tasks"), api.get(who, "/proposals"), api.get(who, f"/proposals/{refs[0]}")

    reads = {
        "the inbox": ("cm_idn", "/tasks"),
        "a list": ("cm_aus", "/proposals"),
        "a filtered list": ("tha", "/proposals?state=co_manager_review"),
        "an item (its member state)": ("tha", f"/proposals/{refs[0]}"),
        "an item (RSO staff: with its reviews and responses)": ("cm_idn", f"/proposals/{refs[0]}"),
    }
    seen = {}
    for name, (who, path) in reads.items():
        r, seen[name] = _counted(trips, lambda: api.get(who, path))
        assert r.json(), name  # something was read: tasks, proposals, the item
    over = {name: s for name, s in seen.items() if len([x for x in s if x.startswith(("SELECT", "WITH"))]) != 1}
    assert not over, over
    # the staff's view brings the reviews along, from the same query
    staff_view = api.get("cm_idn", f"/proposals/{refs[0]}").json()
    assert [(r["country"], r["reviewer"], r["comment"]) for r in staff_view["reviews"]] == [
        ("AUS", "Co-Manager AUS", "Sound.")] and staff_view["consultation_responses"] == []
    # the inbox names the items it lists, from the same query
    assert {t["reference"] for t in api.get("cm_idn", "/tasks").json()} == set(refs)
