"""The `rso` command line. Exit 0 on success; otherwise one line on standard error."""
from __future__ import annotations

import argparse
import asyncio
import os
import sys

from services.config.settings import Settings
from services.engine.errors import ServiceError
from services.infra.db import is_sqlite
from services.wiring import build_services, mail_settings


async def _with_services(settings: Settings, fn):
    svc = build_services(settings)
    try:
        return await fn(svc)
    finally:
        await svc.dispose()


def cmd_db_upgrade(args, settings: Settings) -> str:
    from migrations import upgrade
    upgrade(settings.database_url)
    return "database is at the latest schema"


def cmd_users_add(args, settings: Settings) -> str:
    from services.accounts.users import create_user
    user = asyncio.run(_with_services(settings, lambda svc: create_user(
        svc, email=args.email, password=args.password, role=args.role, name=args.name,
        member_state=args.member_state, country=args.country, organisation=args.organisation)))
    return f"added {user.role} {user.email} (id {user.id})"


def cmd_demo(args, settings: Settings) -> str:
    from services.demo import DEMO_PASSWORD, load_demo
    loaded = asyncio.run(_with_services(settings, load_demo))
    if not loaded:
        return "the database already has users: demo data not loaded"
    return f"demo data loaded: every user's password is '{DEMO_PASSWORD}' (e.g. co-manager.aus@rso.example)"


def cmd_deliver(args, settings: Settings) -> str:
    from services.mail import deliver
    r = asyncio.run(_with_services(settings, lambda svc: deliver(svc, mail_settings(settings))))
    if settings.smtp_host is None:
        return f"{r.captured} email(s) captured locally (RSO_SMTP_HOST is not set)"
    return f"{r.sent} sent, {r.retrying} to retry, {r.failed} failed for good"


def _moment(text: str):
    from datetime import UTC, datetime
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date and time: '{text}' (e.g. 2026-12-01T08:00+07:00)")
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone offset: '{text}' (e.g. 2026-12-01T08:00+07:00)")
    return moment.astimezone(UTC)


def cmd_sweep(args, settings: Settings) -> str:
    from services.deadlines import sweep

    async def run(svc):
        report = await sweep(svc, args.now)
        at = args.now.astimezone(svc.timezone).isoformat(timespec="minutes") if args.now else "now"
        return f"sweep at {at}: {report.words(svc)}"
    return asyncio.run(_with_services(settings, run))


def _at_least_a_tenth(text: str) -> float:
    """Hours, at least 0.1: a younger file may be an upload still on its way to its row."""
    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of hours: '{text}'") from None
    if not hours >= 0.1:
        raise argparse.ArgumentTypeError("at least 0.1 hours: a younger file may be an upload still in flight")
    return hours


def cmd_documents_sweep(args, settings: Settings) -> str:
    from services.conversation import sweep_storage
    removed = asyncio.run(_with_services(settings, lambda svc: sweep_storage(svc, older_than=args.older_than * 3600)))
    return (f"storage {settings.storage_path()}: {len(removed)} file(s) no document points at removed "
            f"(untouched for {args.older_than:g} h or more)")


def cmd_digest(args, settings: Settings) -> str:
    from services.digest import daily_digest
    r = asyncio.run(_with_services(settings, lambda svc: daily_digest(svc, mail_settings(settings), args.now)))
    return (f"daily digest: {r.written} written ({r.tasks} task(s) listed), {r.already} already written today, "
            f"{r.co_managers - r.written - r.already} co-manager(s) with no open tasks")


def cmd_report(args, settings: Settings) -> str | None:
    """A report to a file (or, for CSV of one table or JSON, to standard output)."""
    import json
    from pathlib import Path

    from services import reports
    from services.reports import output

    report = asyncio.run(_with_services(settings, lambda svc: reports.read(svc, user=None, kind=args.kind,
                                                                          name=args.period)))
    fmt = args.format
    if fmt == "json":
        data = json.dumps(report.as_json(), indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    elif fmt == "pdf":
        data = output.pdf(report, settings.calendar)
    elif fmt == "xlsx":
        data = output.xlsx(report)
    elif args.table:
        data = output.csv_table(report, args.table)
        if data is None:
            raise SystemExit(f"rso: no table '{args.table}': "
                             + ", ".join(t.name for t in report.all_tables()))
    else:
        data = output.csv_zip(report)
    binary = fmt in ("pdf", "xlsx") or (fmt == "csv" and not args.table)
    if args.out in (None, "-"):
        if binary and sys.stdout.isatty():
            raise SystemExit(f"rso: a {fmt} {'zip' if fmt == 'csv' else 'file'} is not for a terminal: "
                             f"give --out FILE (e.g. --out {output.file_stem(report)}."
                             f"{'zip' if fmt == 'csv' else fmt})")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return None
    Path(args.out).write_bytes(data)
    return f"{report.period.title}: {fmt.upper()} written to {args.out} ({len(data):,} bytes)"


def cmd_flows(args, settings: Settings) -> None:
    from workflows.serve import main
    main(settings.timezone)


def cmd_deploy(args, settings: Settings) -> str:
    from workflows.serve import deploy
    names = deploy(args.pool, settings.timezone)
    return f"deployed to work pool '{args.pool}': {', '.join(names)} (start workers: rso worker --pool {args.pool})"


def cmd_worker(args, settings: Settings) -> None:
    from workflows.serve import worker
    worker(args.pool, name=args.name, limit=args.limit)


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn
    uvicorn.run("rso.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", proxy_headers=True)


def default_workers(settings: Settings) -> int:
    """On PostgreSQL one worker a core: every worker is stateless (sessions are checked against
    the database, whose announcements reach each worker; each claims the outbox with SKIP
    LOCKED). SQLite has one writer at a time: one worker."""
    return 1 if is_sqlite(settings.database_url) else (os.cpu_count() or 1)


def cmd_serve(args, settings: Settings) -> None:
    _serve(settings, args.host, args.port, args.workers or default_workers(settings))


def cmd_up(args, settings: Settings) -> None:
    from rso import up
    print(cmd_db_upgrade(args, settings), file=sys.stderr)
    if args.demo:
        print(cmd_demo(args, settings), file=sys.stderr)
    code = up.run(settings, host=args.host, port=args.port, prefect_port=args.prefect_port)
    if code:
        sys.exit(code)


class _OneLine(argparse.ArgumentParser):
    """A usage mistake in one line on standard error, as every other refusal (exit 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


POOL = "rso"  # the work pool of `rso deploy` and `rso worker` unless told otherwise


def parser() -> argparse.ArgumentParser:
    p = _OneLine(prog="rso", description="RSO Workflow: proposals and secondments of the "
                                "Regional Support Office of the Bali Process.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def network(sp):
        sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        sp.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")

    sp = sub.add_parser("serve", help="run the API and web app")
    network(sp)
    sp.add_argument("--workers", type=int, default=None, help="worker processes (default: on PostgreSQL, one a "
                    "CPU core; on SQLite, 1)")
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("up", help="everything on one machine: the API, a local Prefect server and UI, the "
                        "scheduled flows; creates the database on first start")
    network(sp)
    sp.add_argument("--demo", action="store_true", help="load demo data into an empty database")
    sp.add_argument("--prefect-port", type=int, default=4200, help="port of the local Prefect server and its UI "
                    "(default 4200)")
    sp.set_defaults(func=cmd_up)

    sp = sub.add_parser("demo", help="load demo data: users of every role, proposals in every state")
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("deliver", help="deliver what is waiting in the outbox, once")
    sp.set_defaults(func=cmd_deliver)

    sp = sub.add_parser("sweep", help="send the reminders and escalations due, take the timed steps, once")
    sp.add_argument("--now", type=_moment, default=None,
                    help="sweep as at this moment (ISO 8601 with an offset; default: now)")
    sp.set_defaults(func=cmd_sweep)

    sp = sub.add_parser("digest", help="write each co-manager's daily digest of open tasks now (once a day)")
    sp.add_argument("--now", type=_moment, default=None, help="as at this moment (ISO 8601 with an offset)")
    sp.set_defaults(func=cmd_digest)

    sp = sub.add_parser("report", help="a monthly, six-monthly (biannual) or annual report, as PDF, XLSX, CSV or JSON")
    sp.add_argument("kind", choices=["monthly", "biannual", "annual"], help="which report")
    sp.add_argument("period", help="the period: 2026-11 (monthly), 2026-H2 (biannual), 2026 (annual)")
    sp.add_argument("--format", choices=["pdf", "xlsx", "csv", "json"], default="pdf",
                    help="pdf (default), xlsx (a sheet per table), csv (a zip of one file per table, or one table "
                         "with --table) or json")
    sp.add_argument("--table", help="with --format csv: only this table (e.g. approved_proposals)")
    sp.add_argument("--out", help="the file to write (default: standard output)")
    sp.set_defaults(func=cmd_report)

    sp = sub.add_parser("flows", help="serve the scheduled flows (sweep, delivery, digest) to the Prefect "
                        "server at PREFECT_API_URL")
    sp.set_defaults(func=cmd_flows)

    sp = sub.add_parser("deploy", help="register the scheduled flows as deployments on a Prefect work pool "
                        "(created if missing) at PREFECT_API_URL, for `rso worker`s to run")
    sp.add_argument("--pool", default=POOL, help=f"the work pool (default {POOL})")
    sp.set_defaults(func=cmd_deploy)

    sp = sub.add_parser("worker", help="run the flow runs of a Prefect work pool as they fall due; start as many "
                        "as you like, on any machine (prefect worker start --type process)")
    sp.add_argument("--pool", default=POOL, help=f"the work pool (default {POOL})")
    sp.add_argument("--name", help="this worker's name in Prefect (default: one Prefect makes up)")
    sp.add_argument("--limit", type=int, help="at most this many flow runs at once (default: no limit)")
    sp.set_defaults(func=cmd_worker)

    users = sub.add_parser("users", help="manage users").add_subparsers(dest="users_command", required=True,
                                                                         metavar="SUBCOMMAND")
    sp = users.add_parser("add", help="add a user")
    sp.add_argument("--email", required=True)
    sp.add_argument("--password", required=True)
    sp.add_argument("--role", required=True, choices=["member_state", "co_manager", "stakeholder", "co_chair", "admin"])
    sp.add_argument("--name")
    sp.add_argument("--member-state", help="member code, for a member_state user (e.g. THA)")
    sp.add_argument("--country", help="AUS or IDN, for a co_manager or co_chair")
    sp.add_argument("--organisation", help="for a stakeholder")
    sp.set_defaults(func=cmd_users_add)

    documents = sub.add_parser("documents", help="the documents' stored files").add_subparsers(
        dest="documents_command", required=True, metavar="COMMAND")
    sp = documents.add_parser("sweep", help="remove stored files no document points at (a failed upload's), "
                                            "once untouched for a while (the daily digest flow does it too)")
    sp.add_argument("--older-than", type=_at_least_a_tenth, default=1.0, metavar="HOURS",
                    help="only files untouched for this many hours (default 1: an upload may still be in flight)")
    sp.set_defaults(func=cmd_documents_sweep)

    db = sub.add_parser("db", help="the database").add_subparsers(dest="db_command", required=True,
                                                                   metavar="SUBCOMMAND")
    sp = db.add_parser("upgrade", help="apply migrations")
    sp.set_defaults(func=cmd_db_upgrade)
    return p


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
        message = args.func(args, settings)
    except KeyboardInterrupt:
        return 130
    except ServiceError as exc:
        print(f"rso: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line, not a traceback
        from sqlalchemy.exc import OperationalError, ProgrammingError
        if isinstance(exc, (OperationalError, ProgrammingError)):
            print(f"rso: database error: {_one_line(exc.orig or exc)} (did you run 'rso db upgrade'?)",
                  file=sys.stderr)
        else:
            print(f"rso: {exc.__class__.__name__}: {_one_line(exc)}", file=sys.stderr)
        return 1
    if message:
        print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
