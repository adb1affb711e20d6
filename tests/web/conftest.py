"""The web pages through a client that behaves like a browser: cookies kept, forms posted
with the CSRF token read off the page."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from rso.app import create_app
from tests.conftest import PASSWORD, ROSTER, second_factor_code

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class _Jar:
    """One browser's cookies on the shared client (one app, one event loop)."""

    def __init__(self, client: TestClient):
        self._client, self._cookies = client, type(client.cookies)()

    def __getattr__(self, name):
        method = getattr(self._client, name)
        if name not in ("get", "post", "request"):
            return method

        def call(*args, **kw):
            self._client.cookies = self._cookies
            try:
                return method(*args, **kw)
            finally:
                self._cookies = self._client.cookies
        return call


class Browser:
    def __init__(self, client: TestClient, clock):
        self.client, self.clock = _Jar(client), clock
        self.last = None

    def get(self, path, **kw):
        self.last = self.client.get(path, **kw)
        return self.last

    def csrf(self, path: str | None = None) -> str:
        page = self.get(path) if path else self.last
        m = CSRF.search(page.text)
        assert m, f"no CSRF token on {page.url}"
        return m.group(1)

    def post(self, path, data: dict | list, *, csrf_from: str | None = None, **kw):
        token = self.csrf(csrf_from) if csrf_from else self.csrf()
        form: dict[str, list[str]] = {"csrf": [token]}
        for k, v in (data.items() if isinstance(data, dict) else data):
            form.setdefault(k, []).extend(v if isinstance(v, list) else [v])
        self.last = self.client.post(path, data=form, follow_redirects=kw.pop("follow", True), **kw)
        return self.last

    def sign_in(self, who: str):
        r = self.post("/sign-in", {"email": ROSTER[who]["email"], "password": PASSWORD}, csrf_from="/sign-in")
        if who == "admin":  # the second step: the code from the admin's app
            r = self.post("/sign-in/code", {"code": second_factor_code(self.clock)})
        assert r.status_code == 200, r.text
        return r


@pytest.fixture
def web(settings, clock):
    with TestClient(create_app(settings, clock=clock)) as client:
        yield lambda: Browser(client, clock)
