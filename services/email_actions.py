"""Acting from an email: what a task email's signed link (`services.engine.action_links`)
shows when opened, and what confirming it does.

Opening a link changes nothing (mail scanners open links before people do): it checks the
link and shows the item's essentials and the action's fields. Confirming takes that one action
as the link's recipient, in the same transaction as the record that the link was used (its
SHA-256, never the token), so a link acts once; no session is opened. The history marks the
action "by email link".

A link is refused, in this order: altered (its signature fails), used, for a task no longer
open (done or cancelled), expired (30 days after the task's due date), or not its bearer's to
use (its recipient is no longer one the task is for, or the browser is signed in as someone
else)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, select

from services.engine import action_links, delegations
from services.engine.errors import InvalidInput, NotFound
from services.engine.items import parse
from services.engine.models import User, moment
from services.engine.tasks import Task, TaskStatus, is_for
from services.engine.workflow import Loaded, Workflow
from services.infra.db import utcnow
from services.infra.signing import BadSignature, token_hash
from services.infra.uow import Services, UnitOfWork

VIA = "email_link"


class EmailLinkUse(SQLModel, table=True):
    """A used action link: its hash (the token itself is never kept), so it acts only once."""

    __tablename__ = "email_link_uses"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id")
    task_id: int = Field(foreign_key="tasks.id")
    action: str = Field(max_length=40)
    used_at: datetime = moment(default_factory=utcnow)


class LinkRefused(Exception):
    """Why a link cannot be used: `reason` is one of tampered, used, closed, expired, foreign."""

    def __init__(self, reason: str, message: str):
        self.reason, self.message = reason, message
        super().__init__(message)


@dataclass
class LinkPage:
    """What an opened link shows."""

    recipient: User
    task: Task
    wf: Workflow
    item: BaseModel  # the item as its recipient sees it
    title: str  # the item's, as the inbox says it
    action: str
    field: str | None  # the routing argument the link fixes
    value: str | None
    label: str  # "Endorse"
    arguments: type[BaseModel]  # the action's input model
    required: frozenset[str]  # the fields the action needs with this choice (a comment to decline)
    acting_for: str | None  # the name of whom the recipient acts for, when not their own task
    expires_at: datetime


def _used_key(token: str) -> str:
    """What marks a link used: the hash of its signed part (which holds its nonce), not of the
    whole token, since a signature can be written in more than one way."""
    return token_hash(token.rpartition(".")[0])


def _day(svc: Services, moment_: datetime) -> str:
    return svc.calendar.today(moment_).strftime("%-d %B %Y")


async def _check(uow: UnitOfWork, secret: str, token: str, signed_in: User | None,
                 task: Task | None = None) -> tuple[action_links.Link, Task, User, Workflow, User | None]:
    """The link's request, its open task, its recipient, the lifecycle, and whom the recipient
    acts for (None: themselves); or LinkRefused saying which."""
    svc = uow.services
    try:
        link = action_links.read(secret, token)
    except BadSignature:
        raise LinkRefused("tampered", "This link has been altered or cut short, so it cannot be used. If you "
                                      "copied it from the email, make sure you copied all of it.") from None
    used = await uow.session.get(EmailLinkUse, _used_key(token))
    if used is not None:
        raise LinkRefused("used", f"This link has already been used, on {_day(svc, used.used_at)}. Each link "
                                  "in an email acts once.")
    recipient = await uow.session.get(User, link.user_id)
    task = task or await _task_of(uow, link, recipient)
    wf = svc.workflows.get(task.item_kind) if task is not None else None
    if task is None or wf is None or not any(
            (c.action, c.value) == (link.action, link.value) for c in action_links.choices(wf, task.kind)):
        raise LinkRefused("tampered", "This link does not match any task, so it cannot be used.")
    if task.status != TaskStatus.OPEN:
        done = {"completed": "is already done", "cancelled": "was cancelled (the item moved on)",
                "expired": "was closed without an answer"}.get(task.status, "is closed")
        raise LinkRefused("closed", f"This task {done}: there is nothing left to do from this link.")
    ends = action_links.expires_at(task.due_at)
    if uow.now > ends:
        raise LinkRefused("expired", f"This link expired on {_day(svc, ends)}, 30 days after the task's due date.")
    if recipient is None or not recipient.active:
        raise LinkRefused("foreign", "This link was sent to someone who can no longer use RSO Workflow.")
    if signed_in is not None and signed_in.id != recipient.id:
        raise LinkRefused("foreign", f"This link was sent to someone else, and you are signed in as {signed_in.name}. "
                                     "Sign out first if the link is yours, or act from your own inbox.")
    seat = None
    if not is_for(task, recipient):
        seat = next((p for p in await delegations.principals(uow, recipient) if is_for(task, p)), None)
        if seat is None:
            raise LinkRefused("foreign", "This task is no longer yours to act on (it was given to someone else, "
                                         "or the period you were acting for a colleague is over).")
    return link, task, recipient, wf, seat


async def _task_of(uow: UnitOfWork, link: action_links.Link, recipient: User | None) -> Task | None:
    """The link's task: by its id, or by its item, kind and opening moment, the one for the
    recipient (or for whom they act: the two review tasks of a round open together)."""
    if link.task_id is not None:
        return await uow.session.get(Task, link.task_id)
    found = list((await uow.session.exec(select(Task).where(
        Task.item_kind == link.item_kind, Task.item_id == link.item_id, Task.kind == link.task_kind,
        Task.created_at == link.opened_at).order_by(Task.id))).all())
    if recipient is not None and len(found) > 1:
        seats = [recipient, *await delegations.principals(uow, recipient)]
        found = [t for t in found if any(is_for(t, s) for s in seats)] or found
    return found[0] if found else None


def _required(model: type[BaseModel], field: str | None, value: str | None) -> frozenset[str]:
    """The fields the action refuses to go without, with this choice: asked of the action's
    own rules, as the service checks them."""
    try:
        parse(model, {field: value} if field else {})
    except InvalidInput as exc:
        return frozenset(e["field"].split(".")[0] for e in exc.errors)
    return frozenset()


async def open_link(svc: Services, *, secret: str, token: str, signed_in: User | None = None) -> LinkPage:
    """What the link shows. Changes nothing."""
    async with svc.uow(write=False) as uow:
        link, task, recipient, wf, seat = await _check(uow, secret, token, signed_in)
        title = wf.title(await uow.session.get(wf.model, task.item_id))
    try:
        item = await wf.get(svc, user=recipient, id_or_ref=task.item_id)
    except NotFound:
        raise LinkRefused("foreign", "This link's item is not one you may see any more.") from None
    action = wf.lifecycle.actions(link.action)
    if link.action not in item.available_actions:
        # The task is open and theirs, yet the lifecycle says not now (a co-chair who gave one of
        # the round's reviews for an absent co-manager leaves the guidance to the other).
        raise LinkRefused("foreign", f"You cannot {action.value.replace('_', ' ')} "
                                     "this now: sign in to see why and what you can do.")
    model = wf.arguments[action]
    choice = next(c for c in action_links.choices(wf, task.kind) if (c.action, c.value) == (link.action, link.value))
    return LinkPage(recipient=recipient, task=task, wf=wf, item=item, title=title, action=link.action,
                    field=choice.field,
                    value=choice.value, label=choice.label, arguments=model,
                    required=_required(model, choice.field, choice.value), acting_for=seat.name if seat else None,
                    expires_at=action_links.expires_at(task.due_at))


async def confirm(svc: Services, *, secret: str, token: str, data: dict[str, Any],
                  signed_in: User | None = None) -> tuple[LinkPage, BaseModel]:
    """Take the link's action as its recipient, with `data` (the action's other fields), once:
    the link's use is recorded in the action's transaction. InvalidInput and ActionNotAvailable
    as for any action (the link stays usable); LinkRefused when the link may not be used."""
    shown = await open_link(svc, secret=secret, token=token, signed_in=signed_in)
    wf, task_id = shown.wf, shown.task.id

    async def still_good(uow: UnitOfWork, loaded: Loaded) -> None:
        # The item is locked: its tasks are as they stay until this transaction ends.
        task = next((t for t in loaded.tasks if t.id == task_id), None) or \
            (await uow.session.exec(select(Task).where(Task.id == task_id))).one()
        await _check(uow, secret, token, signed_in, task=task)
        uow.session.add(EmailLinkUse(token_hash=_used_key(token), user_id=shown.recipient.id, task_id=task_id,
                                     action=shown.action, used_at=uow.now))
        await uow.session.flush()

    arguments = {**data, **({shown.field: shown.value} if shown.field else {})}
    try:
        item = await wf.act(svc, user=shown.recipient, id_or_ref=shown.task.item_id, action=shown.action,
                            arguments=arguments, via=VIA, check=still_good)
    except IntegrityError:  # the same link confirmed twice at once: the other one acted
        raise LinkRefused("used", "This link has just been used. Each link in an email acts once.") from None
    return shown, item
