"""The floor of the stack: what FastAPI, uvicorn and asyncpg alone cost for the benchmark's actions.

`bench.transitions --floor` serves this app next to `rso serve`, with the same uvicorn, worker
count and load generator. It is not the product: no sessions, no lifecycle, no outbox. Each
request does only what any FastAPI service must do for an action:

- the bearer token looked up in a dict (signed in at startup, no database);
- the JSON body validated by a pydantic model (FastAPI's own way);
- the raw transaction of `bench.transitions` over an asyncpg pool: for create, the reference
  counter, the row and its history event; for submit and review, the row read with its version
  under a lock (`SELECT ... FOR UPDATE`), moved on with the version check, and its history event;
- a small JSON answer.

Its requests/s over the raw transactions/s is the highest ratio a FastAPI service can reach on
this machine: the ceiling for issue 13's target of 0.30.
"""
from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager
from datetime import date
from typing import Literal

import asyncpg
from fastapi import Depends, FastAPI, Form, Header, HTTPException
from pydantic import BaseModel, Field

from bench.transitions import RAW_COUNTER, RAW_CREATE, RAW_INSERT, RAW_UPDATE, USERS, asyncpg_dsn

LOCKED = "SELECT state, version FROM proposals WHERE id = $1 FOR UPDATE"


class ProposalIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=1, max_length=5000)
    engagement_type: str
    scope: str
    thematic_areas: list[str] = Field(min_length=1)


class Empty(BaseModel):
    pass


class ReviewIn(BaseModel):
    recommendation: Literal["endorse", "revise", "decline"]
    comment: str | None = None


def create_app() -> FastAPI:
    state: dict = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        state["pool"] = await asyncpg.create_pool(asyncpg_dsn(os.environ["RSO_DATABASE_URL"]), min_size=4, max_size=16)
        rows = await state["pool"].fetch("SELECT id, email, role, name AS full_name, country FROM users")
        state["users"] = {r["email"]: dict(r) for r in rows}
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    def user(authorization: str = Header()) -> dict:
        found = state["users"].get(authorization.removeprefix("Bearer "))
        if found is None:
            raise HTTPException(401)
        return found

    @app.get("/api/v1/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.post("/api/v1/auth/token")
    async def token(username: str = Form(), password: str = Form()) -> dict:
        return {"access_token": username, "token_type": "bearer"}

    @app.post("/api/v1/proposals", status_code=201)
    async def create(body: ProposalIn, me: dict = Depends(user)) -> dict:
        year = date.today().year
        async with state["pool"].acquire() as conn, conn.transaction():
            number = await conn.fetchval(RAW_COUNTER, year)
            pid = await conn.fetchval(RAW_CREATE, f"RSO-F-{year}-{number:05d}", me["id"], body.title, body.summary,
                                      body.engagement_type, body.scope, json.dumps(body.thematic_areas))
            await conn.execute(RAW_INSERT, pid, me["id"], me["role"], me["full_name"], "create", None, "draft",
                               body.model_dump_json())
        return {"id": pid, "state": "draft", "version": 1}

    async def move(pid: int, me: dict, action: str, to_state: str, arguments: str) -> dict:
        async with state["pool"].acquire() as conn, conn.transaction():
            row = await conn.fetchrow(LOCKED, pid)
            if row is None:
                raise HTTPException(404)
            status = await conn.execute(RAW_UPDATE, to_state, pid, row["version"])
            if status != "UPDATE 1":
                raise HTTPException(409)
            await conn.execute(RAW_INSERT, pid, me["id"], me["role"], me["full_name"], action, row["state"],
                               to_state, arguments)
        return {"id": pid, "state": to_state, "version": row["version"] + 1}

    @app.post("/api/v1/proposals/{pid}/actions/submit")
    async def submit(pid: int, body: Empty, me: dict = Depends(user)) -> dict:
        return await move(pid, me, "submit", "co_manager_review", "{}")

    @app.post("/api/v1/proposals/{pid}/actions/review")
    async def review(pid: int, body: ReviewIn, me: dict = Depends(user)) -> dict:
        return await move(pid, me, "review", "co_manager_review",
                          json.dumps({"recommendation": body.recommendation, "country": me["country"]}))

    return app


assert set(USERS) == {"owner", "aus", "idn"}
