"""Delivery: passes over the outbox claim what is due, send it over SMTP (or capture it when no
server is configured) and record each outcome, with retries that back off. The outbox, not
memory, is the truth: a crash delays mail but loses none, and a message is never sent twice.

A new message is due at once, whatever moment the change that wrote it was stamped with (a
sweep run as of a future moment included); only a retry waits for its `next_attempt_at`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from notifications.outbox import OutboxAttachment, OutboxMessage, OutboxStatus
from notifications.render import render
from notifications.smtp import Result, SmtpConfig, build, send_all

log = logging.getLogger("rso.mail")


@dataclass(frozen=True)
class MailSettings:
    base_url: str  # links in emails
    mail_from: str
    smtp: SmtpConfig | None  # None: capture locally instead of sending
    max_attempts: int = 8
    first_retry: timedelta = timedelta(seconds=30)
    longest_retry: timedelta = timedelta(hours=1)
    claim_for: timedelta = timedelta(minutes=5)
    # The key task emails' action links are signed with (`services.engine.action_links`);
    # None: task emails carry no action link.
    link_secret: str | None = None


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    captured: int = 0
    retrying: int = 0
    failed: int = 0


def _due(t: sa.Table, now: datetime):
    return sa.or_(sa.and_(t.c.status == OutboxStatus.PENDING,
                          sa.or_(t.c.attempts == 0, t.c.next_attempt_at <= now)),
                  sa.and_(t.c.status == OutboxStatus.SENDING, t.c.claimed_until < now))


async def _attachments(session: AsyncSession, keys: list[str]) -> dict[str, list[tuple[str, str, bytes]]]:
    """The files of these messages, by event key, in the order they were written."""
    if not keys:
        return {}
    a = OutboxAttachment.__table__
    found: dict[str, list[tuple[str, str, bytes]]] = {}
    q = sa.select(a.c.event_key, a.c.filename, a.c.content_type, a.c.content).where(a.c.event_key.in_(keys))
    for r in (await session.exec(q.order_by(a.c.id))).all():
        found.setdefault(r.event_key, []).append((r.filename, r.content_type, bytes(r.content)))
    return found


def _bodies(row) -> tuple[str, str] | str:
    """The row's two parts: as kept, or rendered now from its template and context; or why
    they cannot be (a template that fails names what it lacks)."""
    if row.body_text is not None and row.body_html is not None:
        return row.body_text, row.body_html
    try:
        rendered = render(row.template, subject=row.subject, **(row.context or {}))
    except Exception as exc:  # noqa: BLE001 - a row that cannot be rendered fails alone, with the reason
        return f"cannot render {row.template}: {exc.__class__.__name__}: {exc}"[:1000]
    return rendered.text, rendered.html


async def deliver_once(sessions: Callable[[], AsyncSession], clock: Callable[[], datetime], settings: MailSettings,
                       *, batch: int = 500, connections: int = 8) -> DeliveryReport:
    """One delivery pass over what is due. `sessions` opens a writing session on the service's
    database. Rows are claimed (FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock on SQLite)
    so concurrent passes never take the same one; a pass that dies after claiming leaves them
    to be taken again when the claim runs out. Each is rendered (outside any transaction),
    sent or captured, and its outcome recorded with the bodies it went out with: the claim and
    the outcomes are a statement or an executemany each, whatever the batch size."""
    report = DeliveryReport()
    t = OutboxMessage.__table__
    async with sessions() as session:
        now = clock()
        # A materialised CTE, so that PostgreSQL locks (and skips) rows once, never re-running
        # the LIMIT inside a join and claiming more than `batch`.
        due = (sa.select(t.c.id).where(_due(t, now)).order_by(t.c.id).limit(batch)
               .with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED"))
        claim = (sa.update(t).where(t.c.id.in_(sa.select(due.c.id)))
                 .values(status=OutboxStatus.SENDING, claimed_until=now + settings.claim_for)
                 .returning(t.c.id, t.c.to_email, t.c.to_name, t.c.subject, t.c.template, t.c.context, t.c.body_text,
                            t.c.body_html, t.c.message_id, t.c.attempts, t.c.event_key, t.c.attachments))
        rows = sorted((await session.exec(claim)).all(), key=lambda r: r.id)
        files = await _attachments(session, [r.event_key for r in rows if r.attachments]) \
            if settings.smtp is not None else {}
        await session.commit()
    report.claimed = len(rows)
    if not rows:
        return report

    bodies = {r.id: _bodies(r) for r in rows}
    ready = [r for r in rows if isinstance(bodies[r.id], tuple)]
    if settings.smtp is None:
        results = {r.id: Result(r.id, True) for r in ready}
    else:
        outgoing = [build(key=r.id, mail_from=settings.mail_from, to_email=r.to_email, to_name=r.to_name,
                          subject=r.subject, text=bodies[r.id][0], html=bodies[r.id][1], message_id=r.message_id,
                          attachments=files.get(r.event_key, ()))
                    for r in ready]
        results = {res.key: res for res in await send_all(settings.smtp, outgoing, connections=connections)}
    results.update({r.id: Result(r.id, False, bodies[r.id], final=True) for r in rows if r.id not in results})

    async with sessions() as session:
        now = clock()
        done_status = OutboxStatus.SENT if settings.smtp is not None else OutboxStatus.CAPTURED
        done = [{"b_id": r.id, "b_text": bodies[r.id][0], "b_html": bodies[r.id][1]} for r in rows if results[r.id].ok]
        if done:
            # One executemany: each row's own bodies, the same outcome.
            await session.exec(
                sa.update(t).where(t.c.id == sa.bindparam("b_id"))
                .values(status=done_status, sent_at=now, last_error=None, claimed_until=None,
                        attempts=t.c.attempts + 1, body_text=sa.bindparam("b_text"), body_html=sa.bindparam("b_html")),
                params=done)
        report.sent, report.captured = (len(done), 0) if settings.smtp is not None else (0, len(done))
        for row in rows:
            res = results[row.id]
            if res.ok:
                continue
            attempts = row.attempts + 1
            if attempts >= settings.max_attempts or res.final:
                values = {"status": OutboxStatus.FAILED}
                report.failed += 1
                log.error("email %s to %s failed for good: %s", row.id, row.to_email, res.error)
            else:
                delay = min(settings.first_retry * 2 ** (attempts - 1), settings.longest_retry)
                values = {"status": OutboxStatus.PENDING, "next_attempt_at": now + delay}
                report.retrying += 1
            kept = {"body_text": bodies[row.id][0], "body_html": bodies[row.id][1]} \
                if isinstance(bodies[row.id], tuple) else {}
            await session.exec(sa.update(t).where(t.c.id == row.id)
                               .values(attempts=attempts, claimed_until=None, last_error=res.error, **values, **kept))
        await session.commit()
    return report
