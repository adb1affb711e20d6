"""`rso prefect-server`: Prefect's own server (`prefect server start …`, same options), with
one fix carried over from Prefect 3.9.1.

Prefect 3.8.8's scheduler inserts scheduled flow runs with their `state` in the row values;
`state` is a hybrid property, which SQLAlchemy 2.1 refuses in a bulk insert ("Can't evaluate
bulk DML statement"), so no scheduled run is ever created. Prefect 3.9.1 leaves `state` out
of the insert (the state rows are written just after); 3.9.1 itself cannot be installed here
(it needs a certifi newer than the package index has). Remove this module when moving to
Prefect 3.9.1 or later: `applies()` says whether the fix is still needed."""
from __future__ import annotations

import sys
from typing import Any


def applies() -> bool:
    import prefect
    from packaging.version import Version
    return Version(prefect.__version__) < Version("3.9.1")


def patch() -> None:
    if not applies():
        return
    import sqlalchemy as sa
    from prefect.server.database import PrefectDBInterface, db_injector
    from prefect.server.models import deployments
    from prefect._internal.uuid7 import uuid7

    @db_injector
    async def _insert_scheduled_flow_runs(db: PrefectDBInterface, session, runs: list[dict[str, Any]]):
        if not runs:
            return []
        await session.execute(
            db.queries.insert(db.FlowRun).on_conflict_do_nothing(index_elements=db.orm.flow_run_unique_upsert_columns),
            [{k: v for k, v in run.items() if k != "state"} for run in runs])
        inserted_rows = sa.select(db.FlowRun.id).where(
            db.FlowRun.id.in_([r["id"] for r in runs]),
            ~sa.select(db.FlowRunState.id).where(db.FlowRunState.flow_run_id == db.FlowRun.id).exists())
        inserted = (await session.execute(inserted_rows)).scalars().all()
        states = [{"id": uuid7(), "flow_run_id": r["id"], **r["state"]} for r in runs if r["id"] in inserted]
        if states:
            await session.execute(db.FlowRunState.__table__.insert(), states)
            await session.execute(db.queries.set_state_id_on_inserted_flow_runs_statement(
                inserted_flow_run_ids=inserted, insert_flow_run_states=states))
        return inserted

    deployments._insert_scheduled_flow_runs = _insert_scheduled_flow_runs


def main(argv: list[str] | None = None) -> None:
    patch()
    from prefect.cli import app
    sys.argv = ["prefect", "server", *(sys.argv[1:] if argv is None else argv)]
    app()


if __name__ == "__main__":
    main()
