"""Trust, tried the way an attacker would: guessing passwords, replaying a token or a cookie
after signing out, bodies made to break the parser, a draft's secrets by email, a stakeholder
looking for the other invitees, a name that forges an email header, a short signing key."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rso.app import create_app
from services.config.settings import Settings
from services.infra.db import make_sync_engine
from tests.conftest import PASSWORD, ROSTER, Api, second_factor_code


def sign_in(api: Api, who: str, password: str, **extra):
    email = ROSTER[who]["email"] if who in ROSTER else who
    return api.client.post("/api/v1/auth/token", data={"username": email, "password": password, **extra})


# --- 1. password guessing --------------------------------------------------------------------

def test_guessing_locks_the_account_then_the_lock_passes_and_grows(api, clock):
    for _ in range(5):
        assert sign_in(api, "cm_aus", "guess-guess-guess").status_code == 401
    locked = sign_in(api, "cm_aus", PASSWORD)  # even the right password waits now
    assert locked.status_code == 429 and "locked" in locked.json()["detail"]
    assert 50 <= int(locked.headers["Retry-After"]) <= 60
    clock.now = clock() + timedelta(seconds=61)
    assert sign_in(api, "cm_aus", "guess-guess-guess").status_code == 401  # the sixth failure...
    again = sign_in(api, "cm_aus", PASSWORD)
    assert again.status_code == 429 and 110 <= int(again.headers["Retry-After"]) <= 120  # ...locks for twice as long
    clock.now += timedelta(minutes=2, seconds=1)
    assert sign_in(api, "cm_aus", PASSWORD).status_code == 200
    for _ in range(4):  # a success starts the count again
        assert sign_in(api, "cm_aus", "guess-guess-guess").status_code == 401
    assert sign_in(api, "cm_aus", PASSWORD).status_code == 200


def test_an_unknown_address_is_locked_like_a_known_one(api):
    for _ in range(5):
        assert sign_in(api, "nobody@rso.example", "guess-guess-guess").status_code == 401
    assert sign_in(api, "nobody@rso.example", "guess-guess-guess").status_code == 429


def test_one_address_guessing_across_accounts_is_made_to_wait(api):
    emails = [f"someone{i}@rso.example" for i in range(10)]
    for n in range(30):
        assert sign_in(api, emails[n % 10], "guess-guess-guess").status_code == 401
    refused = sign_in(api, "cm_idn", PASSWORD)  # an account with no failure of its own
    assert refused.status_code == 429 and "address" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) > 0


def test_the_limit_holds_across_workers_sharing_the_database(settings, clock):
    # Two app instances, as two `rso serve` workers: the count lives in the database.
    with TestClient(create_app(settings, clock=clock)) as a, TestClient(create_app(settings, clock=clock)) as b:
        for client in (a, b, a, b, a):
            r = client.post("/api/v1/auth/token", data={"username": ROSTER["tha"]["email"], "password": "wrong one"})
            assert r.status_code == 401
        assert b.post("/api/v1/auth/token", data={"username": ROSTER["tha"]["email"],
                                                   "password": PASSWORD}).status_code == 429


def test_an_admin_unlocks_an_account_and_reads_every_attempt_in_the_log(api):
    for _ in range(5):
        sign_in(api, "tha", "wrong password")
    assert sign_in(api, "tha", PASSWORD).status_code == 429
    user_id = next(e["user_id"] for e in api.get("admin", "/admin/sign-ins").json()
                   if e["email"] == ROSTER["tha"]["email"] and e["user_id"])
    assert api.post("cm_aus", f"/admin/users/{user_id}/unlock").status_code == 403
    assert api.post("admin", f"/admin/users/{user_id}/unlock").status_code == 204
    assert sign_in(api, "tha", PASSWORD).status_code == 200
    log = [(e["email"], e["outcome"], e["via"]) for e in api.get("admin", "/admin/sign-ins",
                                                                 params={"email": ROSTER["tha"]["email"]}).json()]
    assert log[0] == (ROSTER["tha"]["email"], "success", "api")
    assert [o for _, o, _ in log[:3]] == ["success", "unlocked", "locked"]
    assert [o for _, o, _ in log].count("wrong_password") == 5
    assert all(e["address"] and e["at"] for e in api.get("admin", "/admin/sign-ins").json())
    assert api.get("cm_aus", "/admin/sign-ins").status_code == 403


# --- 3. sessions end on the server ---------------------------------------------------------------

def test_a_token_signed_out_opens_nothing_any_more(api):
    token = api.token("cm_aus")
    assert api.get("cm_aus", "/tasks").status_code == 200
    assert api.client.post("/api/v1/auth/sign-out", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    r = api.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "signed out" in r.json()["detail"]


def _until(check, seconds: float = 5.0) -> bool:
    """Whether `check()` holds within `seconds` (a change made in one worker reaches another
    through the database, a moment after it commits)."""
    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def test_signing_out_or_a_deactivation_in_one_worker_ends_the_session_in_another(settings, clock):
    # Two app instances, as two `rso serve` workers. Each has seen the tokens work (on
    # PostgreSQL it keeps them as live); what one worker ends, the other refuses.
    with TestClient(create_app(settings, clock=clock)) as a, TestClient(create_app(settings, clock=clock)) as b:
        in_a, in_b = Api(a, clock), Api(b, clock)
        token = in_a.token("cm_aus")
        in_b._tokens["cm_aus"] = token
        tha = in_b.token("tha")
        assert in_b.get("cm_aus", "/tasks").status_code == 200 and in_b.get("tha", "/tasks").status_code == 200
        assert in_a.post("cm_aus", "/auth/sign-out").status_code == 204
        assert _until(lambda: in_b.get("cm_aus", "/tasks").status_code == 401)
        assert in_b.get("tha", "/tasks").status_code == 200  # another's session goes on

        tha_id = in_b.get("tha", "/me").json()["id"]
        assert in_a.post("admin", f"/admin/users/{tha_id}/deactivate").status_code == 204
        assert _until(lambda: b.get("/api/v1/tasks", headers={"Authorization": f"Bearer {tha}"}).status_code == 401)
        assert in_b.get("admin", "/tasks").status_code == 200


def test_a_password_change_ends_the_other_sessions_at_once(api, clock):
    elsewhere = Api(api.client, clock)
    elsewhere.token("tha")
    assert elsewhere.get("tha", "/tasks").status_code == 200
    bad = api.post("tha", "/me/password", {"current_password": "wrong", "new_password": "short"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"current_password", "new_password"}
    r = api.post("tha", "/me/password", {"current_password": PASSWORD, "new_password": "a new long passphrase"})
    assert r.status_code == 204
    assert elsewhere.get("tha", "/tasks").status_code == 401  # that session ended
    assert api.get("tha", "/tasks").status_code == 200  # this one goes on
    assert sign_in(api, "tha", "a new long passphrase").status_code == 200


def test_a_deactivated_user_is_refused_at_once(api):
    user_id = api.get("tha", "/me").json()["id"]
    assert api.get("tha", "/tasks").status_code == 200
    assert api.post("admin", f"/admin/users/{user_id}/deactivate").status_code == 204
    assert api.get("tha", "/tasks").status_code == 401  # no cache to wait out
    assert sign_in(api, "tha", PASSWORD).status_code == 401
    assert api.post("admin", f"/admin/users/{user_id}/reactivate").status_code == 204
    assert sign_in(api, "tha", PASSWORD).status_code == 200


# --- 4. no 500 for any input ---------------------------------------------------------------------

def _post_raw(api: Api, who: str, path: str, raw: bytes, **headers):
    return api.client.post(f"/api/v1{path}", content=raw,
                           headers={**api.headers(who), "Content-Type": "application/json", **headers})


def test_bodies_made_to_break_the_parser_get_4xx(api):
    r = _post_raw(api, "tha", "/proposals", b"[" * 200_000)
    assert r.status_code == 422 and "nested too deeply" in r.json()["errors"][0]["message"]
    nested = b'{"title": "Deep", "summary": ' + b'{"a": ' * 600 + b'"x"' + b"}" * 600 + b"}"
    assert len(nested) < 5000
    assert _post_raw(api, "tha", "/proposals", nested).status_code == 422
    ref = api.create()["reference"]
    assert _post_raw(api, "tha", f"/proposals/{ref}/actions/submit", nested).status_code == 422
    assert api.get("tha", f"/proposals/{ref}").json()["state"] == "draft"


def test_a_large_body_without_a_length_gets_413_and_no_traceback(api, caplog):
    def chunks():
        for _ in range(16):
            yield b" " * 65536  # 1 MiB in all, sent chunked: no Content-Length
    r = api.client.post("/api/v1/proposals", content=chunks(), headers={**api.headers("tha"),
                                                                         "Content-Type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["detail"]
    assert not [rec for rec in caplog.records if rec.levelname == "ERROR"]


def test_dates_out_of_this_century_are_refused_by_field(api):
    r = api.post("tha", "/secondments", {**_nomination(api), "start_date": "9999-06-01", "end_date": "9999-12-01"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"start_date", "end_date"}
    assert "2099-12-31" in r.json()["errors"][0]["message"]


def _nomination(api: Api) -> dict:
    from tests.conftest import complete_secondment
    return complete_secondment(api.clock.today())


def test_a_consultation_opened_on_29_february_takes_a_due_date_a_year_on(api, clock):
    from datetime import UTC, datetime
    clock.now = datetime(2028, 2, 29, 3, tzinfo=UTC)  # 10:00 in Bangkok on a leap day
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    late = api.post("cm_aus", f"/proposals/{ref}/actions/open_consultation",
                    {"stakeholders": [ROSTER["iom"]["email"]], "due_date": "2029-03-01"})
    assert late.status_code == 422 and "within a year" in late.json()["errors"][0]["message"]
    ok = api.act("cm_aus", ref, "open_consultation", stakeholders=[ROSTER["iom"]["email"]], due_date="2029-02-28")
    assert ok["tasks"][0]["due_date"] == "2029-02-28"


# --- 5. nothing private by email or by listing ------------------------------------------------------

def test_withdrawing_a_nomination_never_submitted_emails_nobody(api, settings):
    from tests.test_emails import deliver_pass
    ref = api.nominate()["reference"]
    api.s_act("tha", ref, "withdraw", comment="Our nominee's name must not travel.")
    assert deliver_pass(settings).claimed == 0


def test_a_stakeholder_sees_their_own_task_but_not_who_else_was_invited(api):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    api.act("cm_aus", ref, "open_consultation", stakeholders=[ROSTER["iom"]["email"], ROSTER["unhcr"]["email"],
                                                              ROSTER["tip"]["email"]])
    api.act("unhcr", ref, "respond", position="concerns", comment="Our own view.")
    seen = api.get("iom", f"/proposals/{ref}")
    assert sorted(t["assignee"] for t in seen.json()["tasks"]) == ["IOM focal point (IOM)", "another stakeholder"]
    history = api.get("iom", f"/proposals/{ref}/history")
    opened = next(e for e in history.json() if e["action"] == "open_consultation")
    assert opened["arguments"]["stakeholders_invited"] == 3 and "stakeholders" not in opened["arguments"]
    answered = next(e for e in history.json() if e["action"] == "respond")
    assert answered["actor"] == "a stakeholder" and answered["comment"] is None
    for text in (seen.text, history.text):
        for other in ("unhcr", "tip", "UNHCR", "Trafficking in Persons", "Our own view"):
            assert other not in text
    staff = api.get("cm_aus", f"/proposals/{ref}/history").json()
    assert ROSTER["unhcr"]["email"] in next(e for e in staff if e["action"] == "open_consultation")["arguments"][
        "stakeholders"]


def test_a_name_with_a_line_break_forges_no_email_header(api, settings, mail_settings_for, smtp_inbox, database_url):
    from services.accounts.users import create_user
    from services.wiring import build_services
    import asyncio

    async def add(name):
        svc = build_services(settings)
        try:
            return await create_user(svc, email="eve@members.example", password="long enough please", role="member_state",
                                     member_state="THA", name=name)
        finally:
            await svc.dispose()
    from services.engine.errors import InvalidInput
    with pytest.raises(InvalidInput) as refused:
        asyncio.run(add("Eve\r\nReply-To: attacker@evil.example"))
    assert refused.value.errors[0]["field"] == "name"
    # A name written before the rule (straight into the database) still cannot forge a header.
    engine = make_sync_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET name = :n WHERE email = :e"),
                     {"n": "Eve\r\nReply-To: attacker@evil.example", "e": ROSTER["tha"]["email"]})
    engine.dispose()
    api.act("tha", api.create()["reference"], "submit")
    from tests.test_emails import deliver_pass
    deliver_pass(mail_settings_for(settings))
    (to_eve,) = smtp_inbox.to(ROSTER["tha"]["email"])
    head = to_eve.raw.split(b"\r\n\r\n", 1)[0]
    assert to_eve["Reply-To"] is None and b"\r\nReply-To:" not in head
    assert to_eve["To"].addresses[0].addr_spec == ROSTER["tha"]["email"]


# --- 6. secrets and hardening ----------------------------------------------------------------------

def test_a_short_signing_key_is_refused_in_one_line():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Settings(_env_file=None, secret_key="abc")


@pytest.mark.parametrize("role, extra, password, ok", [
    ("co_manager", {"country": "AUS"}, "eleven char", False),
    ("co_manager", {"country": "AUS"}, "twelve chars", True),
    ("member_state", {"member_state": "THA"}, "password123", False),
    ("member_state", {"member_state": "THA"}, "baseball", False),
    ("member_state", {"member_state": "THA"}, "kaosan rd 9", True),
])
def test_a_password_is_long_enough_for_the_role_and_not_a_common_one(settings, role, extra, password, ok):
    import asyncio

    from services.accounts.users import create_user
    from services.engine.errors import InvalidInput
    from services.wiring import build_services

    async def add():
        svc = build_services(settings)
        try:
            return await create_user(svc, email=f"new.{role}@rso.example", password=password, role=role, **extra)
        finally:
            await svc.dispose()
    if ok:
        assert asyncio.run(add()).role == role
    else:
        with pytest.raises(InvalidInput) as refused:
            asyncio.run(add())
        assert refused.value.errors[0]["field"] == "password"


def test_an_admin_signs_in_with_a_code_each_good_once_or_a_recovery_code(api, clock):
    needs = sign_in(api, "admin", PASSWORD)
    assert needs.status_code == 401 and "two-factor code required" in needs.json()["detail"]
    assert sign_in(api, "admin", PASSWORD, otp="000000").status_code == 401
    code = second_factor_code(clock)
    assert sign_in(api, "admin", PASSWORD, otp=code).status_code == 200
    assert sign_in(api, "admin", PASSWORD, otp=code).status_code == 401  # replayed
    log = [e["outcome"] for e in api.get("admin", "/admin/sign-ins", params={"email": ROSTER["admin"]["email"]}).json()]
    # Newest first: this request's own sign-in, the replay, the code, the wrong code, the password alone.
    assert log == ["success", "wrong_code", "success", "wrong_code", "code_required"]
    assert api.get("admin", "/me/two-factor").json() == {"enabled": True, "required": True,
                                                         "recovery_codes_left": 0}
    assert api.post("admin", "/me/two-factor/off", {"code": second_factor_code(clock)}).status_code == 403


def test_an_admin_without_a_second_factor_may_only_set_one_up(api, clock):
    import asyncio

    from services.accounts.users import create_user
    from services.wiring import build_services

    async def add():
        svc = build_services(Settings(_env_file=None, database_url=api.client.app.state.settings.database_url,
                                      now=clock.start))
        try:
            await create_user(svc, email="admin2@rso.example", password="a long admin passphrase", role="admin")
        finally:
            await svc.dispose()
    asyncio.run(add())
    first = sign_in(api, "admin2@rso.example", "a long admin passphrase")
    assert first.status_code == 200 and first.json()["two_factor_setup_required"] is True
    auth = {"Authorization": f"Bearer {first.json()['access_token']}"}
    refused = api.client.get("/api/v1/admin/sign-ins", headers=auth)
    assert refused.status_code == 403 and "two-factor" in refused.json()["detail"]
    secret = api.client.post("/api/v1/me/two-factor", headers=auth).json()["secret"]
    wrong = api.client.post("/api/v1/me/two-factor/confirm", json={"code": "123456"}, headers=auth)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "code"
    codes = api.client.post("/api/v1/me/two-factor/confirm", json={"code": second_factor_code(clock, secret)},
                            headers=auth).json()["recovery_codes"]
    assert len(codes) == 10
    full = sign_in(api, "admin2@rso.example", "a long admin passphrase", otp=codes[0])  # a recovery code...
    assert full.status_code == 200 and full.json()["two_factor_setup_required"] is False
    assert api.client.get("/api/v1/admin/sign-ins", headers={
        "Authorization": f"Bearer {full.json()['access_token']}"}).status_code == 200
    assert sign_in(api, "admin2@rso.example", "a long admin passphrase", otp=codes[0]).status_code == 401  # ...once


def test_anyone_may_switch_two_factor_sign_in_on_and_off(api, clock):
    secret = api.post("tha", "/me/two-factor").json()["secret"]
    assert api.post("tha", "/me/two-factor/confirm", {"code": second_factor_code(clock, secret)}).status_code == 200
    assert sign_in(api, "tha", PASSWORD).status_code == 401  # now a code is needed
    assert sign_in(api, "tha", PASSWORD, otp=second_factor_code(clock, secret)).status_code == 200
    assert api.post("tha", "/me/two-factor/off", {"code": second_factor_code(clock, secret)}).status_code == 204
    assert sign_in(api, "tha", PASSWORD).status_code == 200


def test_the_api_documentation_works_offline_under_the_csp(api):
    docs = api.client.get("/docs")
    assert docs.status_code == 200 and "default-src 'self'" in docs.headers["content-security-policy"]
    assert "cdn" not in docs.text.lower() and "http" not in docs.text.split("<body>")[1]
    for src in ("/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css", "/static/api/docs.js"):
        assert src in docs.text
        asset = api.client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 100
