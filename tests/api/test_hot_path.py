"""What a request does not do once the service is warm: read a function's signature (pydantic
asked `inspect` for a default factory's on every row a create built, and for `list` inspect
parses its text with tokenize and ast) or build its statements again (each shape of read and
write is built once, then only its parameters change)."""
from __future__ import annotations

import ast
import inspect
from collections import Counter
from contextlib import contextmanager

import pytest

from sqlalchemy.sql.cache_key import HasCacheKey

from services.engine.workflow import Workflow
from services.infra import writes
from tests.conftest import complete_proposal


class Calls:
    """Calls of `inspect.Signature.from_callable` (what `inspect.signature` runs) that must work
    the signature out (the callable gives none ready, as `services.infra.db.factory` does), and
    of `ast.parse`, by what they were asked about, while watching. The real functions still run."""

    def __init__(self, monkeypatch):
        self.seen: Counter = Counter()
        self.on = False
        real_from_callable, real_parse = inspect.Signature.from_callable.__func__, ast.parse

        def from_callable(cls, obj, **kw):
            if self.on and not isinstance(getattr(obj, "__signature__", None), inspect.Signature):
                self.seen[f"signature of {getattr(obj, '__qualname__', obj)!s}"] += 1
            return real_from_callable(cls, obj, **kw)

        def parse(source, *a, **kw):
            if self.on:
                self.seen[f"ast.parse of {str(source)[:40]!r}"] += 1
            return real_parse(source, *a, **kw)

        monkeypatch.setattr(inspect.Signature, "from_callable", classmethod(from_callable))
        monkeypatch.setattr(ast, "parse", parse)

    @contextmanager
    def watching(self):
        self.on = True
        try:
            yield self
        finally:
            self.on = False


def built(monkeypatch, services) -> Counter:
    """How often a statement of the engine's was built (not run): Workflow._statement's builds
    and the batch writer's, from empty caches."""
    n: Counter = Counter()
    for wf in services.workflows.values():
        monkeypatch.setattr(wf, "_statements", {})
    writes._pg_union.cache_clear()
    real_statement, real_union = Workflow._statement, writes._pg_union

    def statement(self, key, build):
        def counted():
            n[key[0]] += 1
            return build()
        return real_statement(self, key, counted)

    def union(shapes):
        before = real_union.cache_info().misses
        out = real_union(shapes)
        n["writes"] += real_union.cache_info().misses - before
        return out
    union.cache_info = real_union.cache_info
    monkeypatch.setattr(Workflow, "_statement", statement)
    monkeypatch.setattr(writes, "_pg_union", union)
    return n


def keyed(monkeypatch) -> Counter:
    """The statements SQLAlchemy worked out a cache key for while watching: one built anew (not
    kept), each time it runs. By what each says, its first words."""
    seen: Counter = Counter()
    real = HasCacheKey._generate_cache_key

    def generate(self):
        seen[" ".join(str(self).split())[:100]] += 1
        return real(self)
    monkeypatch.setattr(HasCacheKey, "_generate_cache_key", generate)
    return seen


def _round(api, title: str) -> str:
    ref = api.post("tha", "/proposals", {**complete_proposal(), "title": title}).json()["reference"]
    assert api.post("tha", f"/proposals/{ref}/actions/submit").status_code == 200
    assert api.post("cm_aus", f"/proposals/{ref}/actions/review", {"recommendation": "endorse"}).status_code == 200
    for who, path in (("cm_aus", "/tasks"), ("tha", "/proposals?state=co_manager_review"), ("tha", f"/proposals/{ref}"),
                      ("cm_idn", f"/proposals/{ref}")):
        assert api.get(who, path).status_code == 200
    return ref


def test_a_warm_request_reads_no_signature_and_builds_no_statement(api, monkeypatch, db_kind):
    calls, builds = Calls(monkeypatch), built(monkeypatch, api.client.app.state.services)
    _round(api, "The first, which warms the service")
    assert builds["load"] and builds["list"], builds  # the counting sees the builds when they happen
    if db_kind == "postgresql":
        assert builds["writes"], builds
    builds.clear()
    with calls.watching():
        ref = _round(api, "The second")
        keys = keyed(monkeypatch)
        _round(api, "The third")
    assert calls.seen == Counter(), calls.seen
    assert builds == Counter(), builds
    if db_kind == "postgresql":  # SQLite's writes go one statement after the other, each built as it goes
        # The new item's own INSERT is the ORM's flush (what follows needs its id); nothing else.
        assert {k: n for k, n in keys.items() if not k.startswith("INSERT INTO proposals ")} == {}, keys
    assert api.get("cm_idn", f"/proposals/{ref}").json()["title"] == "The second"


def test_the_watch_sees_what_it_watches(monkeypatch):
    """The spy above is not blind: a signature read and a parse while watching are counted."""
    calls = Calls(monkeypatch)
    with calls.watching():
        inspect.signature(list)
        ast.parse("1")
    assert calls.seen["signature of list"] == 1 and sum(calls.seen.values()) >= 2, calls.seen
