"""Emails: domain events become outbox rows in the committing transaction; delivery passes
claim rows, send them over SMTP (or capture them when no server is configured) and record
the outcome. The outbox, not memory, is the truth: a crash delays mail but loses none."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.util import identity_key
from sqlmodel import and_, or_, select

from notifications.outbox import OutboxMessage, OutboxStatus, new_message_id
from notifications.render import render
from notifications.smtp import SmtpConfig, build, send_all
from services.errors import Forbidden
from services.events import DomainEvent
from services.models import Task, User
from services.reference_data import members
from services.uow import Services, UnitOfWork
from services.workflow import REGISTRY, assignee_label as _assignee_label, assignee_names as _assignee_names
from states.common import Role

log = logging.getLogger("rso.mail")


@dataclass(frozen=True)
class MailSettings:
    base_url: str
    mail_from: str
    smtp: SmtpConfig | None  # None: capture locally instead of sending
    max_attempts: int = 8
    first_retry: timedelta = timedelta(seconds=30)
    longest_retry: timedelta = timedelta(hours=1)
    claim_for: timedelta = timedelta(minutes=5)


TASK_SENTENCES = {
    "review": "A proposal awaits your review as the {country} Co-Manager of the RSO. Please record your "
              "recommendation (endorse, revise or decline) by the due date.",
    "consultation": "The RSO Co-Managers invite {organisation} to comment on the proposal below. Please give "
                    "your position (support, support with conditions, concerns or object) by the due date.",
    "guidance": "The RSO Co-Managers request the Co-Chairs' guidance on the proposal below{split}. Either "
                "Co-Chair may give it on behalf of both.",
    "decision": "A nomination for secondment to the RSO awaits the Co-Managers' decision (accept, decline or "
                "request more information). Either Co-Manager may decide on behalf of both.",
    "extension": "The nominating member state asks to extend the secondment below. Either Co-Manager may "
                 "approve or decline the extension on behalf of both.",
    "final_report": "The secondment below is concluding. Please submit the final report of the placement by "
                    "the due date.",
}
TASK_SUBJECTS = {"review": "Review requested", "consultation": "Consultation invitation",
                 "guidance": "Guidance requested", "decision": "Decision requested",
                 "extension": "Extension decision requested", "final_report": "Final report requested"}
ITEM_LABELS = {"proposal": "proposal", "secondment": "nomination"}
NEXT_STEPS = {"proposal": "The two RSO Co-Managers will now review it. You will be informed of their decision.",
              "secondment": "The RSO Co-Managers will now consider the nomination. You will be informed of their "
                            "decision."}
DECISIONS = {
    ("proposal", "revision_requested"): (
        "revision requested", "The RSO Co-Managers ask you to revise your proposal and resubmit it. Their reasons "
                              "are below."),
    ("proposal", "declined"): ("declined", "We regret to inform you that your proposal has been declined."),
    ("proposal", "approved"): ("approved", "We are pleased to inform you that your proposal has been approved."),
    ("secondment", "arranging"): (
        "accepted", "We are pleased to inform you that the RSO Co-Managers have accepted the nomination. They "
                    "will now arrange the secondment with you."),
    ("secondment", "declined"): ("declined", "We regret to inform you that the nomination has been declined."),
    ("secondment", "info_requested"): (
        "information requested", "The RSO Co-Managers need more information before they decide on the "
                                 "nomination. Please resubmit it with the details asked for below."),
}
# Secondment milestones: (subject words, sentence, who is told).
SUBMITTER, CO_MANAGERS = "submitter", "co_managers"
MILESTONES = {
    "arrangement_confirmed": ("arrangement confirmed", "The secondment arrangement has been signed and confirmed. "
                              "The pre-deployment checklist is now open: security clearance, visa, travel, "
                              "insurance and induction plan.", {SUBMITTER}),
    "checklist_complete": ("pre-deployment checklist complete", "Every item of the pre-deployment checklist has "
                           "been completed. The secondment can now start.", {SUBMITTER, CO_MANAGERS}),
    "started": ("started", "The secondment has started.", {SUBMITTER}),
    "extension_requested": ("extension requested", "The request to extend the secondment has been received. The "
                            "RSO Co-Managers will decide on it.", {SUBMITTER}),
    "extension_decided": ("extension {decision}", "The RSO Co-Managers have {decision} the request to extend the "
                          "secondment.", {SUBMITTER}),
    "handover_begun": ("handover begun", "The secondment has entered its handover period. A final report of the "
                       "placement is now due from the nominating member state.", {SUBMITTER, CO_MANAGERS}),
    "final_report_received": ("final report received", "The final report of the secondment has been received.",
                              {SUBMITTER, CO_MANAGERS}),
    "completed": ("completed", "The secondment has been completed. The RSO thanks the nominating member state and "
                  "the secondee for their contribution.", {SUBMITTER, CO_MANAGERS}),
    "withdrawn": ("withdrawn", "The nomination has been withdrawn by the nominating member state.",
                  {SUBMITTER, CO_MANAGERS}),
    "terminated": ("terminated", "The RSO Co-Managers have terminated the secondment before its end. Their reasons "
                   "are below.", {SUBMITTER, CO_MANAGERS}),
    # Timed notices of the sweep.
    "extension_ask": ("ends soon: extension?", "The secondment below ends on {end}. If the nominating member state "
                      "wishes to extend it, please request an extension before {handover}, when the handover begins "
                      "by itself.", {SUBMITTER}),
    "checklist_reminder": ("pre-deployment checklist incomplete", "The secondment below starts on {start}, and its "
                           "pre-deployment checklist is not complete yet. Items still open: {missing}.",
                           {SUBMITTER, CO_MANAGERS}),
    "checklist_escalation": ("checklist incomplete on the start date", "The secondment below was due to start "
                             "today, {start}, but its pre-deployment checklist is still incomplete. Items still "
                             "open: {missing}. Please follow up with the nominating member state.", {CO_MANAGERS}),
}
ESCALATION_TO = {"co_chairs": Role.CO_CHAIR, "co_managers": Role.CO_MANAGER}
TASK_NAMES = {"review": "co-manager review", "consultation": "stakeholder consultation",
              "guidance": "request for the Co-Chairs' guidance", "decision": "decision on a nomination",
              "extension": "decision on an extension request", "final_report": "final report of a secondment"}


def _link(settings: MailSettings, path: str, reference: str) -> str:
    return f"{settings.base_url.rstrip('/')}/{path}/{reference}"


def _date(dt: datetime, uow: UnitOfWork) -> str:
    return dt.astimezone(uow.services.timezone).strftime("%A %-d %B %Y")


def _day(d: date | str) -> str:
    return (date.fromisoformat(d) if isinstance(d, str) else d).strftime("%A %-d %B %Y")


def _task_sentence(task: Task, user: User, *, split: bool) -> str:
    """What a task asks of this recipient, in their seat's or organisation's words."""
    return TASK_SENTENCES[task.kind].format(
        country={"AUS": "Australian", "IDN": "Indonesian"}.get(user.country or "", ""),
        organisation=user.organisation or "you",
        split=" (the Co-Managers' recommendations were split)" if split else "")


async def _task_recipients(uow: UnitOfWork, task: Task) -> list[User]:
    q = select(User).where(User.active.is_(True))
    if task.assignee_id is not None:
        q = q.where(User.id == task.assignee_id)
    else:
        q = q.where(User.role == task.assignee_role)
        if task.assignee_country:
            q = q.where(User.country == task.assignee_country)
        if task.assignee_member_state:
            q = q.where(User.member_state == task.assignee_member_state)
    return list((await uow.session.exec(q.order_by(User.id))).all())


async def _role_users(uow: UnitOfWork, role: Role) -> list[User]:
    return list((await uow.session.exec(select(User).where(User.role == role.value, User.active.is_(True))
                                        .order_by(User.id))).all())


def _in_session(uow: UnitOfWork, model, pk):
    """The row the unit of work holds already, loaded and not expired: what `session.get` would
    return without a query, minus its trip through the async layer (the action's item, the
    sweep's batch of items); None otherwise."""
    obj = uow.session.identity_map.get(identity_key(model, pk))
    if obj is None or type(obj) is not model:
        return None
    state = sa.inspect(obj)
    return None if state.expired or state.expired_attributes or state.deleted or state.was_deleted else obj


class _People:
    """Who the emails of one unit of work go to, each seat or role asked of the database once:
    a sweep's batch of reminders to the two co-manager seats costs two queries, not one a
    reminder. Kept for one transaction only, so no change of role or address is missed."""

    def __init__(self, uow: UnitOfWork):
        self.uow = uow
        self._found: dict[tuple, list[User]] = {}
        self._names: dict[int, str] = {}

    async def task_recipients(self, task: Task) -> list[User]:
        key = ("task", task.assignee_id, task.assignee_role, task.assignee_country, task.assignee_member_state)
        if key not in self._found:
            self._found[key] = await _task_recipients(self.uow, task)
        return self._found[key]

    async def role_users(self, role: Role) -> list[User]:
        key = ("role", role.value)
        if key not in self._found:
            self._found[key] = await _role_users(self.uow, role)
        return self._found[key]

    async def assignee_names(self, tasks: list[Task]) -> dict[int, str]:
        missing = [t for t in tasks if t.assignee_id is not None and t.assignee_id not in self._names]
        if missing:
            self._names.update(await _assignee_names(self.uow, missing))
        return self._names

    async def audience(self, item, who: set[str]) -> list[User]:
        users: list[User] = []
        if SUBMITTER in who and item.submitted_by_id:
            users.append(await self.uow.session.get(User, item.submitted_by_id))
        if CO_MANAGERS in who:
            users += await self.role_users(Role.CO_MANAGER)
        return users


def _milestone_details(item, event: DomainEvent) -> list[tuple[str, str]]:
    name = event.data["milestone"]
    details = []
    if name in ("arrangement_confirmed", "started", "handover_begun") and item.start_date and item.end_date:
        details = [("Start", _day(item.start_date)), ("End", _day(item.end_date))]
    if name in ("extension_requested", "extension_decided"):
        details = [("Requested end", _day(event.data["new_end_date"])), ("Current end", _day(item.end_date))]
    if name in ("checklist_reminder", "checklist_escalation"):
        details = [("Start", _day(item.start_date))]
    if event.data.get("automatic"):
        details.append(("Taken", "automatically by RSO Workflow, as the end date approaches"))
    return details


async def _messages(uow: UnitOfWork, settings: MailSettings, event: DomainEvent,
                    people: _People | None = None) -> list[dict]:
    """(recipient, template, subject, context) of the emails one event causes."""
    people = people or _People(uow)
    wf = REGISTRY.get(event.item_kind)
    if wf is None:
        return []
    item = _in_session(uow, wf.model, event.item_id) or await uow.session.get(wf.model, event.item_id)
    kind, title = event.item_kind, wf.title(item)
    base = {"reference": item.reference, "title": title, "link": _link(settings, wf.path, item.reference),
            "member_state_name": members()[item.member_state]["name"], "item_label": ITEM_LABELS[kind],
            "link_text": f"Open {item.reference} in RSO Workflow"}
    out = []
    if event.name == "submitted":
        user = await uow.session.get(User, item.submitted_by_id)
        again = f" (round {event.data['round']})" if event.data.get("round", 1) > 1 else ""
        out.append((user, "submission_acknowledged", f"{item.reference} received{again}: {title}",
                    {"next_step": NEXT_STEPS[kind]}))
    elif event.name == "task_assigned":
        task: Task = event.data["task"]
        for user in await people.task_recipients(task):
            sentence = _task_sentence(task, user, split=getattr(item, "split", False))
            out.append((user, "task_assigned", f"{TASK_SUBJECTS[task.kind]}: {item.reference} {title}",
                        {"task_sentence": sentence, "due_date": _date(task.due_at, uow), "comment": None}))
    elif event.name == "decision" and item.submitted_by_id:
        word, sentence = DECISIONS[(kind, event.data["outcome"])]
        conditions = getattr(item, "conditions", None)
        if kind == "proposal" and event.data["outcome"] == "approved" and conditions:
            word, sentence = "approved with conditions", "Your proposal has been approved, with the conditions below."
        user = await uow.session.get(User, item.submitted_by_id)
        out.append((user, "decision", f"{item.reference} {word}: {title}",
                    {"decision_sentence": sentence, "conditions": conditions,
                     "comment": "\n".join(event.data.get("reasons") or []) or None}))
    elif event.name == "reminder":
        task = event.data["task"]
        due = _date(task.due_at, uow)
        when = "today" if uow.services.calendar.today(task.due_at) == uow.services.calendar.today(uow.now) else due
        for user in await people.task_recipients(task):
            sentence = "A reminder: " + _task_sentence(task, user, split=False)
            out.append((user, "task_assigned", f"Reminder, due {when}: {item.reference} {title}",
                        {"task_sentence": sentence, "due_date": due, "comment": None}))
    elif event.name == "escalation":
        task = event.data["task"]
        days = event.data["overdue_business_days"]
        names = await people.assignee_names([task])
        late = (f"overdue by {days} business day{'s' if days != 1 else ''}" if days else "due today")
        sentence = (f"The {TASK_NAMES[task.kind]} below is {late}: it was due on {_date(task.due_at, uow)} and is "
                    f"still open with {_assignee_label(task, names)}. Please follow up.")
        target = uow.services.policy.task(task.kind).escalate_to.value
        for user in await people.role_users(ESCALATION_TO[target]):
            out.append((user, "milestone", f"Overdue ({late}): {item.reference} {title}",
                        {"milestone_sentence": sentence, "details": [("Task", TASK_NAMES[task.kind])],
                         "comment": None}))
    elif event.name == "milestone":
        word, sentence, who = MILESTONES[event.data["milestone"]]
        decided = {"approve": "approved", "decline": "declined"}.get(event.data.get("decision", ""), "")
        words = {"decision": decided, "start": _day(item.start_date) if getattr(item, "start_date", None) else "",
                 "end": _day(item.end_date) if getattr(item, "end_date", None) else "",
                 "handover": _day(event.data["handover_on"]) if "handover_on" in event.data else "",
                 "missing": ", ".join(m.replace("_", " ") for m in event.data.get("missing", []))}
        context = {"milestone_sentence": sentence.format(**words), "details": _milestone_details(item, event),
                   "comment": event.data.get("comment")}
        for user in await people.audience(item, who):
            out.append((user, "milestone", f"{item.reference} {word.format(**words)}: {title}", context))
    seen: set[str] = set()
    messages = []
    for user, template, subject, context in out:
        if user is None or not user.active or user.email in seen:
            continue
        seen.add(user.email)
        messages.append({
            "event_key": f"{event.key}:{user.email}"[:200], "message_id": new_message_id(settings.mail_from),
            "template": template, "item_kind": kind, "item_id": event.item_id, "reference": item.reference,
            "to_email": user.email, "to_name": user.name, "subject": subject[:300], "now": uow.now,
            "rendered": render(template, subject=subject, recipient_name=user.name, **base, **context)})
    return messages


def outbox_writer(settings: MailSettings):
    """An event writer for `Services.event_writers`: the emails of a unit of work's events,
    as outbox rows in its own transaction."""

    async def write(uow: UnitOfWork) -> None:
        rows, people = [], _People(uow)
        for event in uow.events:
            for m in await _messages(uow, settings, event, people):
                r = m.pop("rendered")
                now = m.pop("now")
                rows.append({**m, "body_text": r.text, "body_html": r.html, "status": OutboxStatus.PENDING,
                             "attempts": 0, "next_attempt_at": now, "created_at": now})
        uow.events.clear()
        if rows:
            dialect = uow.session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            t = OutboxMessage.__table__
            # executemany: one statement compiled once (and cached), sent in pages of rows;
            # `.values(rows)` would compile a statement of its own with a parameter per cell.
            await uow.session.exec(insert(t).on_conflict_do_nothing(index_elements=[t.c.event_key]), params=rows)

    return write


# --- delivery ------------------------------------------------------------------------------

@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    captured: int = 0
    retrying: int = 0
    failed: int = 0


def _due(now: datetime):
    return or_(and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
               and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_until < now))


async def deliver_once(svc: Services, settings: MailSettings, *, batch: int = 500, connections: int = 8) -> DeliveryReport:
    """One delivery pass over what is due. Rows are claimed (FOR UPDATE SKIP LOCKED on
    PostgreSQL, the write lock on SQLite) so concurrent passes never take the same one; a
    pass that dies after claiming leaves them to be taken again when the claim runs out.
    The claim and the outcome are one statement each, whatever the batch size."""
    report = DeliveryReport()
    t = OutboxMessage.__table__
    async with svc.uow() as uow:
        # A materialised CTE, so that PostgreSQL locks (and skips) rows once, never re-running
        # the LIMIT inside a join and claiming more than `batch`.
        due = (sa.select(t.c.id).where(_due(uow.now)).order_by(t.c.id).limit(batch)
               .with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED"))
        if settings.smtp is None:
            values = {"status": OutboxStatus.CAPTURED, "sent_at": uow.now, "attempts": t.c.attempts + 1,
                      "claimed_until": None}
        else:
            values = {"status": OutboxStatus.SENDING, "claimed_until": uow.now + settings.claim_for}
        claim = (sa.update(t).where(t.c.id.in_(sa.select(due.c.id))).values(**values)
                 .returning(t.c.id, t.c.to_email, t.c.to_name, t.c.subject, t.c.body_text, t.c.body_html,
                            t.c.message_id, t.c.attempts))
        rows = sorted((await uow.session.exec(claim)).all(), key=lambda r: r.id)
        await uow.commit()
    report.claimed = len(rows)
    if settings.smtp is None:
        report.captured = len(rows)
        return report
    if not rows:
        return report

    outgoing = [build(key=r.id, mail_from=settings.mail_from, to_email=r.to_email, to_name=r.to_name,
                      subject=r.subject, text=r.body_text, html=r.body_html, message_id=r.message_id)
                for r in rows]
    results = {res.key: res for res in await send_all(settings.smtp, outgoing, connections=connections)}

    async with svc.uow() as uow:
        sent = [r.id for r in rows if results[r.id].ok]
        if sent:
            await uow.session.exec(
                sa.update(t).where(t.c.id.in_(sent))
                .values(status=OutboxStatus.SENT, sent_at=uow.now, last_error=None, claimed_until=None,
                        attempts=t.c.attempts + 1))
        report.sent = len(sent)
        for row in rows:
            res = results[row.id]
            if res.ok:
                continue
            attempts = row.attempts + 1
            if attempts >= settings.max_attempts:
                values = {"status": OutboxStatus.FAILED}
                report.failed += 1
                log.error("email %s to %s failed for good: %s", row.id, row.to_email, res.error)
            else:
                delay = min(settings.first_retry * 2 ** (attempts - 1), settings.longest_retry)
                values = {"status": OutboxStatus.PENDING, "next_attempt_at": uow.now + delay}
                report.retrying += 1
            await uow.session.exec(sa.update(t).where(t.c.id == row.id)
                                      .values(attempts=attempts, claimed_until=None, last_error=res.error, **values))
        await uow.commit()
    return report


async def captured_emails(svc: Services, *, user: User, limit: int = 100) -> list[OutboxMessage]:
    """For an admin: the emails kept locally (no SMTP server configured), newest first."""
    if user.role != Role.ADMIN:
        raise Forbidden("only an admin may read the captured emails")
    async with svc.uow(write=False) as uow:
        q = (select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.CAPTURED)
             .order_by(OutboxMessage.id.desc()).limit(limit))
        return list((await uow.session.exec(q)).all())
