"""Emails: a unit of work's domain events become outbox rows in its own transaction, each
rendered for its recipient in the words of the item's lifecycle (`Workflow.wording`).
Delivery (claiming, SMTP, retries) is `notifications.delivery`; `deliver` runs one pass on
the service's database and clock."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from sqlmodel import select

from notifications.delivery import DeliveryReport, MailSettings, deliver_once
from notifications.outbox import OutboxAttachment, OutboxMessage, OutboxStatus, new_message_id
from services.config.policy import EscalateTo
from services.config.reference_data import members
from services.engine.errors import Forbidden
from services.engine.events import DomainEvent, EventName
from services.engine.models import User
from services.engine import action_links
from services.engine.delegations import delegates_of
from services.engine.people import directory
from services.engine.tasks import Task, assignee_label, assignee_names, is_for, people_for
from services.engine.workflow import Audience
from services.infra.db import insert_rows
from services.infra.writes import Insert
from services.infra.uow import Services, UnitOfWork
from states.common import Role

__all__ = ["MailSettings", "captured_emails", "deliver", "outbox_writer", "task_name", "write_outbox"]

ESCALATION_TO = {EscalateTo.CO_CHAIRS: Role.CO_CHAIR, EscalateTo.CO_MANAGERS: Role.CO_MANAGER}
ESCALATION_WORDS = {EscalateTo.CO_CHAIRS: "the Co-Chairs", EscalateTo.CO_MANAGERS: "the Co-Managers"}


def _link(settings: MailSettings, path: str, reference: str) -> str:
    return f"{settings.base_url.rstrip('/')}/{path}/{reference}"


def _date(dt: datetime, uow: UnitOfWork) -> str:
    return _day_words(uow.services.calendar.today(dt))


@lru_cache(maxsize=1024)
def _day_words(day: date) -> str:
    """"Monday 15 March 2027": a sweep's reminders name a few days, thousands of times."""
    return day.strftime("%A %-d %B %Y")


def task_name(svc: Services, task: Task | object) -> str:
    """A task in words ("co-manager review"), as its lifecycle says it."""
    return svc.workflow(task.item_kind).wording.task_names[task.kind]


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
        # Per group of recipients (a task's seat, a role): a delegate's id -> whom they receive it for.
        self._seats: dict[tuple, dict[int, User]] = {}
        self._away: dict[int, list[User]] | None = None

    async def _with_delegates(self, key: tuple, users: list[User]) -> list[User]:
        """These people, and after each one away today, those acting for them: the emails of
        someone away go to both."""
        if self._away is None:  # everyone away today and who acts for them: asked once a transaction
            self._away = await delegates_of(self.uow, None)
        acting = {u.id: self._away[u.id] for u in users if u.id in self._away}
        seats = self._seats[key] = {}
        if not acting:
            return users
        out, ids = list(users), {u.id for u in users}
        for u in users:
            for d in acting.get(u.id, ()):
                if d.id not in ids:
                    ids.add(d.id)
                    out.append(d)
                    seats[d.id] = u
        return out

    @staticmethod
    def _task_key(task: Task) -> tuple:
        return ("task", task.assignee_id, task.assignee_role, task.assignee_country, task.assignee_member_state)

    async def of_task(self, task: Task) -> list[User]:
        key = self._task_key(task)
        if key not in self._found:
            self._found[key] = await self._with_delegates(key, await people_for(self.uow, task))
        return self._found[key]

    def seats_of_task(self, task: Task) -> dict[int, User]:
        """Of `of_task(task)`'s recipients, the delegates: whom each receives it for."""
        return self._seats.get(self._task_key(task), {})

    async def of_role(self, role: Role) -> list[User]:
        key = ("role", role.value)
        if key not in self._found:
            everyone = await directory(self.uow)
            if everyone is not None:
                found = [u for _, u in sorted(everyone.items()) if u.active and u.role == role.value]
            else:
                found = list((await self.uow.session.exec(
                    select(User).where(User.role == role.value, User.active.is_(True)).order_by(User.id))).all())
            self._found[key] = await self._with_delegates(key, found)
        return self._found[key]

    async def user(self, user_id: int) -> User | None:
        everyone = await directory(self.uow)
        if everyone is not None:
            return everyone.get(user_id)
        return await self.uow.session.get(User, user_id)

    async def assignee_names(self, tasks: list[Task]) -> dict[int, str]:
        missing = [t for t in tasks if t.assignee_id is not None and t.assignee_id not in self._names]
        if missing:
            self._names.update(await assignee_names(self.uow, missing))
        return self._names

    async def audience(self, item, who: frozenset[Audience]) -> list[User]:
        users: list[User] = []
        if Audience.SUBMITTER in who and item.submitted_by_id:
            users.append(await self.user(item.submitted_by_id))
        # The RSO hears only of what it has received: never of a draft.
        if Audience.CO_MANAGERS in who and item.submitted_at is not None:
            users += await self.of_role(Role.CO_MANAGER)
        return users


def _acting(seats: dict[int, User], user: User) -> str:
    """What a delegate's copy of a task email says first (`seats`: `_People.seats_of_task`)."""
    seat = seats.get(user.id)
    return f"You are acting for {seat.name}, who is away. " if seat else ""


def _links(settings: MailSettings, wf, seats: dict[int, User], user: User, task: Task) -> list[dict]:
    """The recipient's action links of the task: only for one whose task it is (in person, or
    acting for its holder): an escalation's readers get none for a task not theirs."""
    if not is_for(task, _seat(seats, user)):
        return []
    return action_links.links(settings.link_secret, settings.base_url, wf, user_id=user.id, task=task)


def _seat(seats: dict[int, User], user: User) -> User:
    """Whose seat a task email speaks to: a delegate's copy, in the words of the seat they cover."""
    return seats.get(user.id, user)


def _delegation_messages(uow: UnitOfWork, settings: MailSettings, event: DomainEvent) -> list[dict]:
    """A delegation named or ended: the delegate is told, and the person away when someone
    else (an admin) did it for them."""
    d = event.data
    principal, delegate, by = d["principal"], d["delegate"], d["by"]
    by_themselves = by.id == principal.id
    days = f"from {_day_words(d['starts_on'])} to {_day_words(d['ends_on'])}"
    if d["ended"]:
        subject = f"You no longer act for {principal.name}"
        told = [(delegate, f"{by.name} has ended the delegation by which you acted for {principal.name} {days}. "
                           f"Their tasks are no longer in your inbox.")]
        to_principal = f"{by.name} has ended the delegation {days}."
    else:
        subject = f"You act for {principal.name} {days}"
        if by_themselves:
            country = f", {principal.country}" if principal.country else ""
            named_by = f"{principal.name} ({principal.role.replace('_', '-')}{country}) has named you to act for them"
        else:
            named_by = f"{by.name} ({by.role}) has named you to act for {principal.name}"
        told = [(delegate, f"{named_by} {days}, both days included. During that time their tasks are in your inbox "
                           f"too, marked \"for {principal.name}\", their task emails come to you as well, and you act "
                           f"in their seat.")]
        to_principal = f"{by.name} has named {delegate.name} to act for you {days}."
    if not by_themselves:
        told.append((principal, to_principal))
    link = f"{settings.base_url.rstrip('/')}/delegations"
    return [outbox_row(settings, uow.now, event_key=f"{event.key}:{user.email}", template="delegation", to=user,
                       subject=subject if user is delegate else f"Cover while you are away: {delegate.name}",
                       context={"delegation_sentence": sentence, "link": link,
                                "link_text": "See cover while away in RSO Workflow"})
            for user, sentence in told if user.active]


async def _messages(uow: UnitOfWork, settings: MailSettings, event: DomainEvent, people: _People) -> list[dict]:
    """The outbox rows of the emails one event causes, one per recipient."""
    if event.name == EventName.DELEGATED:
        return _delegation_messages(uow, settings, event)
    wf = uow.services.workflows.get(event.item_kind)
    if wf is None:
        return []
    words = wf.wording
    item = (event.data.get("item") or _in_session(uow, wf.model, event.item_id)
            or await uow.session.get(wf.model, event.item_id))
    title = wf.title(item)
    base = {"reference": item.reference, "title": title, "link": _link(settings, wf.path, item.reference),
            "member_state_name": members()[item.member_state]["name"], "item_label": words.item_label,
            "link_text": f"Open {item.reference} in RSO Workflow"}
    out: list[tuple[User | None, str, str, dict]] = []
    if event.name == EventName.SUBMITTED:
        user = await people.user(item.submitted_by_id)
        again = f" (round {event.data['round']})" if event.data.get("round", 1) > 1 else ""
        out.append((user, "submission_acknowledged", f"{item.reference} received{again}: {title}",
                    {"next_step": words.next_step}))
    elif event.name == EventName.TASK_ASSIGNED:
        task: Task = event.data["task"]
        for user in await people.of_task(task):
            seats = people.seats_of_task(task)
            out.append((user, "task_assigned", f"{words.task_subjects[task.kind]}: {item.reference} {title}",
                        {"task_sentence": _acting(seats, user) + words.task_sentence(task, _seat(seats, user), item),
                         "due_date": _date(task.due_at, uow), "comment": None,
                         "actions": _links(settings, wf, seats, user, task)}))
    elif event.name == EventName.DECISION and item.submitted_by_id:
        word, sentence = words.decisions[event.data["outcome"]]
        user = await people.user(item.submitted_by_id)
        out.append((user, "decision", f"{item.reference} {word}: {title}",
                    {"decision_sentence": sentence, "conditions": event.data.get("conditions"),
                     "comment": "\n".join(event.data.get("reasons") or []) or None}))
    elif event.name == EventName.REMINDER:
        task = event.data["task"]
        due = _date(task.due_at, uow)
        cal = uow.services.calendar
        when = "today" if cal.today(task.due_at) == cal.today(uow.now) else due
        for user in await people.of_task(task):
            seats = people.seats_of_task(task)
            out.append((user, "task_assigned", f"Reminder, due {when}: {item.reference} {title}",
                        {"task_sentence": "A reminder: " + _acting(seats, user)
                         + words.task_sentence(task, _seat(seats, user), item),
                         "due_date": due, "comment": None, "actions": _links(settings, wf, seats, user, task)}))
    elif event.name == EventName.ESCALATION:
        task = event.data["task"]
        days = event.data["overdue_business_days"]
        names = await people.assignee_names([task])
        late = f"overdue by {days} business day{'s' if days != 1 else ''}" if days else "due today"
        headline = late[0].upper() + late[1:]
        sentence = (f"The {words.task_names[task.kind]} below is {late}: it was due on {_date(task.due_at, uow)} "
                    f"and is still open with {assignee_label(task, names)}. Please follow up.")
        target = uow.services.policy.task(task.kind).escalate_to
        # Those whose task it is hear that it was escalated, with what they can still do from the
        # email (first: one of them who is also told as the level above gets this one).
        told = ESCALATION_WORDS[target]
        owners = await people.of_task(task)
        seats = people.seats_of_task(task)
        for user in owners:
            mine = (f"{_acting(seats, user)}The {words.task_names[task.kind]} below is {late}: it was due on "
                    f"{_date(task.due_at, uow)}, and {told} have been told. You can still act on it now.")
            out.append((user, "milestone", f"{headline}, escalated to {told}: {item.reference} {title}",
                        {"milestone_sentence": mine, "details": [("Task", words.task_names[task.kind])],
                         "comment": None, "actions": _links(settings, wf, seats, user, task)}))
        for user in await people.of_role(ESCALATION_TO[target]):
            out.append((user, "milestone", f"{headline}: {item.reference} {title}",
                        {"milestone_sentence": sentence, "details": [("Task", words.task_names[task.kind])],
                         "comment": None}))
    elif event.name == EventName.MILESTONE:
        m = words.milestone(item, event)
        context = {"milestone_sentence": m.sentence, "details": m.details, "comment": event.data.get("comment")}
        for user in await people.audience(item, m.audience):
            out.append((user, "milestone", f"{item.reference} {m.word}: {title}", context))
    elif event.name == EventName.COMMENTED:
        d = event.data
        author = d["author_name"]
        if d["visibility"] == "internal":  # for the RSO's eyes: the other co-managers only
            sentence = f"{author} added an internal note (RSO staff only) to this {words.item_label}."
            who = await people.of_role(Role.CO_MANAGER)
        elif d["from_staff"]:  # the RSO asks or tells the member state
            sentence = f"{author} of the RSO commented on your {words.item_label}."
            who = [await people.user(item.submitted_by_id)] if item.submitted_by_id else []
        else:  # the member state answers: both co-managers
            sentence = f"{author} ({members()[item.member_state]['name']}) commented on this {words.item_label}."
            who = await people.of_role(Role.CO_MANAGER)
        for user in who:
            if user is not None and user.id != d["author_id"]:
                out.append((user, "comment", f"Comment on {item.reference}: {title}",
                            {"comment_sentence": sentence, "author_name": author, "body": d["body"]}))
    seen: set[str] = set()
    rows = []
    for user, template, subject, context in out:
        if user is None or not user.active or user.email in seen:
            continue
        seen.add(user.email)
        rows.append(outbox_row(settings, uow.now, event_key=f"{event.key}:{user.email}", template=template,
                               to=user, subject=subject, context={**base, **context}, item_kind=event.item_kind,
                               item_id=event.item_id, reference=item.reference))
    return rows


def outbox_row(settings: MailSettings, now: datetime, *, event_key: str, template: str, to: User, subject: str,
               context: dict, item_kind: str | None = None, item_id: int | None = None,
               reference: str | None = None) -> dict:
    """One email as an outbox row: what to say (rendered at delivery, outside this
    transaction), due at once (see `notifications.delivery`)."""
    return {"event_key": event_key[:200], "message_id": new_message_id(settings.mail_from), "template": template,
            "item_kind": item_kind, "item_id": item_id, "reference": reference, "to_email": to.email,
            "to_name": to.name, "subject": subject[:300], "context": {"recipient_name": to.name, **context},
            "body_text": None, "body_html": None, "status": OutboxStatus.PENDING.value, "attempts": 0, "attachments": 0,
            "next_attempt_at": now, "created_at": now}


async def write_outbox(uow: UnitOfWork, rows: list[dict],
                       files: dict[str, list[tuple[str, str, bytes]]] | None = None) -> set[str]:
    """Add these emails to the outbox in the unit of work's transaction: one per `event_key`,
    however often it is written. `files`: by event key, (file name, content type, bytes) to
    attach, written with the messages written now. Returns the keys written now (not before)."""
    if not rows:
        return set()
    files = files or {}
    for row in rows:
        row["attachments"] = len(files.get(row["event_key"], ()))
    t = OutboxMessage.__table__
    written = set(await insert_rows(uow.session, t, rows, keys=[t.c.event_key], returning=t.c.event_key))
    attached = [{"event_key": key, "filename": name, "content_type": ctype, "content": content}
                for key in sorted(written) for name, ctype, content in files.get(key, ())]
    if attached:
        await uow.session.exec(sa.insert(OutboxAttachment.__table__), params=attached)
    return written


def outbox_writer(settings: MailSettings, on_written: Callable[[], None] | None = None):
    """An event writer for `Services.event_writers`: the emails of a unit of work's events, as
    outbox rows in its own transaction. `on_written` is called once a transaction that wrote
    some has committed (the service's own deliverer wakes up then, and only then)."""

    async def write(uow: UnitOfWork) -> None:
        rows, people = [], _People(uow)
        for event in uow.events:
            rows += await _messages(uow, settings, event, people)
        uow.events.clear()
        if rows:
            t = OutboxMessage.__table__

            def written(keys: list[str]) -> None:
                if keys and on_written is not None:
                    uow.after_commit(on_written)
            # with the transaction's other changes, in one statement on PostgreSQL
            uow.add_rows(Insert(t, rows, returning=t.c.event_key, conflict=[t.c.event_key], then=written))

    return write


async def deliver(svc: Services, settings: MailSettings, **kw) -> DeliveryReport:
    """One delivery pass over the outbox (`notifications.delivery.deliver_once`), on the
    service's database and clock."""
    return await deliver_once(svc.sessions(write=True), svc.clock, settings, **kw)


async def captured_emails(svc: Services, *, user: User, limit: int = 100) -> list[OutboxMessage]:
    """For an admin: the emails kept locally (no SMTP server configured), newest first."""
    if user.role != Role.ADMIN:
        raise Forbidden("only an admin may read the captured emails")
    async with svc.uow(write=False) as uow:
        q = (select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.CAPTURED)
             .order_by(OutboxMessage.id.desc()).limit(limit))
        return list((await uow.session.exec(q)).all())
