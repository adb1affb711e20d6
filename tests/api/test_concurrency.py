"""Several people acting on one proposal at the same instant: no vote lost, no state
advanced twice, no duplicate created. The requests run concurrently against the same
database (row locks on PostgreSQL, the write lock on SQLite)."""
from __future__ import annotations

import asyncio

import httpx2 as httpx
import pytest

from rso.app import create_app
from tests.conftest import PASSWORD, ROSTER, complete_proposal

pytestmark = pytest.mark.dates  # what is right depends on the day: run again as of others

ROUNDS = 12


async def _client(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rso.example")


async def _token(client, who):
    r = await client.post("/api/v1/auth/token", data={"username": ROSTER[who]["email"], "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _drafts(client, tha, n):
    refs = []
    for _ in range(n):
        r = await client.post("/api/v1/proposals", json=complete_proposal(), headers=tha)
        ref = r.json()["reference"]
        assert (await client.post(f"/api/v1/proposals/{ref}/actions/submit", headers=tha)).status_code == 200
        refs.append(ref)
    return refs


def run(settings, scenario):
    async def main():
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            async with await _client(app) as client:
                return await scenario(client)
    return asyncio.run(main())


@pytest.mark.parametrize("aus_vote, idn_vote, expected", [
    ("endorse", "revise", "revision_requested"),
    ("endorse", "decline", "co_chair_guidance"),
    ("decline", "decline", "declined"),
    ("endorse", "endorse", "co_manager_review"),
])
def test_two_co_managers_voting_at_the_same_instant_both_count_and_the_state_moves_once(
        settings, aus_vote, idn_vote, expected):
    async def scenario(client):
        tha, aus, idn = [await _token(client, w) for w in ("tha", "cm_aus", "cm_idn")]
        refs = await _drafts(client, tha, ROUNDS)

        async def vote(ref, headers, recommendation):
            return await client.post(f"/api/v1/proposals/{ref}/actions/review", headers=headers,
                                     json={"recommendation": recommendation, "comment": "Reasons."})

        results = await asyncio.gather(*[v for ref in refs for v in (vote(ref, aus, aus_vote), vote(ref, idn, idn_vote))])
        assert [r.status_code for r in results] == [200] * (2 * ROUNDS), [r.text for r in results if r.status_code != 200]
        for ref in refs:
            p = (await client.get(f"/api/v1/proposals/{ref}", headers=aus)).json()
            assert p["state"] == expected
            assert sorted((r["country"], r["recommendation"]) for r in p["reviews"]) == [("AUS", aus_vote), ("IDN", idn_vote)]
            assert p["version"] == 4  # create 1, submit 2, one per vote
            events = (await client.get(f"/api/v1/proposals/{ref}/history", headers=aus)).json()
            reviews = [(e["from_state"], e["to_state"]) for e in events if e["action"] == "review"]
            assert reviews == [("co_manager_review", "co_manager_review"), ("co_manager_review", expected)]
            if expected == "co_chair_guidance":
                assert p["split"] is True and [t["kind"] for t in p["tasks"]] == ["guidance"]
            else:
                assert p["tasks"] == []
        # The second vote of each pair found the first: the inboxes hold nothing twice.
        chair = await _token(client, "chair_aus")
        guidance = (await client.get("/api/v1/tasks", headers=chair)).json()
        assert len(guidance) == (ROUNDS if expected == "co_chair_guidance" else 0)

    run(settings, scenario)


def test_the_same_seat_voting_twice_at_once_counts_one_vote(settings):
    async def scenario(client):
        tha, aus = await _token(client, "tha"), await _token(client, "cm_aus")
        (ref,) = await _drafts(client, tha, 1)
        results = await asyncio.gather(*[client.post(f"/api/v1/proposals/{ref}/actions/review", headers=aus,
                                                     json={"recommendation": "endorse"}) for _ in range(6)])
        assert sorted(r.status_code for r in results) == [200] + [409] * 5
        p = (await client.get(f"/api/v1/proposals/{ref}", headers=aus)).json()
        assert len(p["reviews"]) == 1 and p["version"] == 3

    run(settings, scenario)


def test_two_writers_with_the_same_if_match_one_wins_one_is_told_to_reload(settings):
    async def scenario(client):
        tha = await _token(client, "tha")
        ref = (await client.post("/api/v1/proposals", json=complete_proposal(), headers=tha)).json()["reference"]
        edits = [client.patch(f"/api/v1/proposals/{ref}", headers={**tha, "If-Match": "1"}, json={"title": f"Title {i}"})
                 for i in range(4)]
        results = await asyncio.gather(*edits)
        assert sorted(r.status_code for r in results) == [200, 409, 409, 409]
        winner = next(r.json()["title"] for r in results if r.status_code == 200)
        p = (await client.get(f"/api/v1/proposals/{ref}", headers=tha)).json()
        assert p["title"] == winner and p["version"] == 2

    run(settings, scenario)


def test_a_create_retried_concurrently_with_one_idempotency_key_makes_one_proposal(settings):
    async def scenario(client):
        tha = await _token(client, "tha")
        results = await asyncio.gather(*[client.post("/api/v1/proposals", json={"title": "Once only"},
                                                     headers={**tha, "Idempotency-Key": "k-1"}) for _ in range(5)])
        assert {r.status_code for r in results} == {201}
        assert len({r.json()["id"] for r in results}) == 1
        listed = (await client.get("/api/v1/proposals", headers=tha)).json()
        assert [p["title"] for p in listed] == ["Once only"]

    run(settings, scenario)


def test_concurrent_creates_get_distinct_consecutive_references(settings):
    async def scenario(client):
        tha, phl = await _token(client, "tha"), await _token(client, "phl")
        results = await asyncio.gather(*[client.post("/api/v1/proposals", json={"title": f"P {i}"},
                                                     headers=tha if i % 2 else phl) for i in range(20)])
        refs = sorted(r.json()["reference"] for r in results)
        assert [int(r.rsplit("-", 1)[1]) for r in refs] == list(range(1, 21))

    run(settings, scenario)


def test_both_co_managers_deciding_a_nomination_at_once_one_decides_the_other_is_told(settings):
    from tests.conftest import complete_secondment

    async def scenario(client):
        tha, aus, idn = [await _token(client, w) for w in ("tha", "cm_aus", "cm_idn")]
        refs = []
        for _ in range(ROUNDS):
            ref = (await client.post("/api/v1/secondments", json=complete_secondment(), headers=tha)).json()["reference"]
            assert (await client.post(f"/api/v1/secondments/{ref}/actions/submit", headers=tha)).status_code == 200
            refs.append(ref)

        async def decide(ref, headers, decision):
            return await client.post(f"/api/v1/secondments/{ref}/actions/decide", headers=headers,
                                     json={"decision": decision, "comment": "Reasons."})

        answers = await asyncio.gather(*(c for ref in refs for c in (decide(ref, aus, "accept"),
                                                                    decide(ref, idn, "decline"))))
        finals = [(await client.get(f"/api/v1/secondments/{ref}", headers=tha)).json() for ref in refs]
        histories = [(await client.get(f"/api/v1/secondments/{ref}/history", headers=tha)).json() for ref in refs]
        return answers, finals, histories

    answers, finals, histories = run(settings, scenario)
    for i, final in enumerate(finals):
        pair = answers[2 * i: 2 * i + 2]
        assert sorted(r.status_code for r in pair) == [200, 409]
        winner = next(r for r in pair if r.status_code == 200).json()
        assert final["state"] == winner["state"] in ("arranging", "declined")
        assert [e["action"] for e in histories[i]].count("decide") == 1
