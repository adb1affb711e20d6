"""Trust on the pages, tried the way an attacker would: guessing at the sign-in form, a cookie
replayed after signing out, a signed-in page kept in a cache, the second step of a sign-in."""
from __future__ import annotations

import pyotp

from tests.conftest import ADMIN_SECRET, PASSWORD, ROSTER


def test_guessing_on_the_sign_in_page_is_stopped_too(web):
    b = web()
    for _ in range(5):
        r = b.post("/sign-in", {"email": ROSTER["phl"]["email"], "password": "not it at all"}, csrf_from="/sign-in")
        assert r.status_code == 401 and "not right" in r.text
    r = b.post("/sign-in", {"email": ROSTER["phl"]["email"], "password": PASSWORD}, csrf_from="/sign-in")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0 and "try again in" in r.text


def test_a_cookie_replayed_after_signing_out_opens_nothing(web):
    b = web()
    b.sign_in("cm_aus")
    stolen = dict(b.client._cookies)
    assert b.get("/tasks").status_code == 200
    b.post("/sign-out", {})
    thief = web()
    thief.client._cookies.update(stolen)
    r = thief.client.get("/tasks", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


def test_signed_in_answers_are_never_cached_but_static_files_may_be(web, api):
    b = web()
    b.sign_in("tha")
    for r in (b.get("/my"), api.get("tha", "/proposals"), api.client.get("/api/v1/health")):
        assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"
    static = b.get("/static/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def test_the_second_step_on_the_sign_in_page(web):
    b = web()
    r = b.post("/sign-in", {"email": ROSTER["admin"]["email"], "password": PASSWORD}, csrf_from="/sign-in")
    assert r.status_code == 200 and 'name="code"' in r.text and "authenticator app" in r.text
    r = b.post("/sign-in/code", {"code": "999999"})
    assert r.status_code == 401 and "not right" in r.text and 'name="code"' in r.text
    r = b.post("/sign-in/code", {"code": pyotp.TOTP(ADMIN_SECRET).at(b.clock())})
    assert r.status_code == 200 and "Administration" in r.text


def test_a_new_admin_is_shown_how_to_set_up_a_second_factor_and_nothing_else(web, settings, clock):
    import asyncio
    import re

    from services.accounts.users import create_user
    from services.wiring import build_services

    async def add():
        svc = build_services(settings)
        try:
            await create_user(svc, email="admin2@rso.example", password="a long admin passphrase", role="admin")
        finally:
            await svc.dispose()
    asyncio.run(add())
    b = web()
    r = b.post("/sign-in", {"email": "admin2@rso.example", "password": "a long admin passphrase"},
               csrf_from="/sign-in")
    assert r.status_code == 200 and str(r.url).endswith("/account/two-factor")
    assert 'src="data:image/svg+xml' in r.text and "authenticator app" in r.text
    secret = re.search(r"<code>([A-Z2-7]{16,})</code>", r.text).group(1)
    assert str(b.get("/admin").url).endswith("/account/two-factor")  # nothing else until it is set up
    r = b.post("/account/two-factor", {"code": "000000"})
    assert r.status_code == 422 and 'id="code-err"' in r.text and secret in r.text  # the same secret again
    r = b.post("/account/two-factor", {"code": pyotp.TOTP(secret).at(b.clock())})
    assert r.status_code == 200 and len(re.findall(r"<li><code>[0-9a-f]{6}-[0-9a-f]{6}</code></li>", r.text)) == 10
    assert str(b.get("/admin").url).endswith("/sign-in?next=/admin")  # that session was for setting up only


def test_changing_the_password_on_the_account_page(web):
    b = web()
    b.sign_in("tha")
    r = b.post("/account/password", {"current_password": "not mine", "new_password": "password"},
               csrf_from="/account")
    assert r.status_code == 422
    assert 'id="current_password-err">is not your current password<' in r.text
    assert 'id="new_password-err">must be at least 8 characters' not in r.text  # "password" is 8: common
    assert "commonly used" in r.text
    r = b.post("/account/password", {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
               csrf_from="/account")
    assert r.status_code == 200 and "Your other sessions have ended" in r.text
