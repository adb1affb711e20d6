"""Action links: a task's emails carry, for each recipient, one signed link per thing they may
do with the task (endorse, revise or decline a review; support or object in a consultation...).

The link names its recipient, task, action and choice, and a nonce (each email's links are its
own). A task is named by its id, or, in the email of a task just opened (whose id the
database gives only as the transaction is written, with the email in the same statement), by
its item, kind and the moment it opened, with whom it is for; it is signed with the key of the purpose "email-action" (`services.infra.signing`), so
it cannot be altered, nor made of any other token of the service. Nothing of it is stored
when it is sent: using it stores its hash (`services.email_actions`), so it acts once.

How long it lasts is the task's: while the task is open, and at most until 30 days after its
due date (read when the link is used, so a due date moved moves it too)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.infra.signing import BadSignature, Signer

PURPOSE = "email-action"
DAYS_AFTER_DUE = 30


@dataclass(frozen=True)
class Choice:
    action: str  # "review"
    field: str | None  # the routing argument it fixes: "recommendation"
    value: str | None  # "endorse"
    label: str  # "Endorse"


@dataclass(frozen=True)
class Link:
    """What a link, once its signature is checked, asks."""

    user_id: int
    task_id: int | None  # or, a task just opened:
    item_kind: str | None
    item_id: int | None
    task_kind: str | None
    opened_at: datetime | None
    action: str
    value: str | None


_CHOICES: dict[tuple[str, str], list[Choice]] = {}


def choices(wf: Any, task_kind: str) -> list[Choice]:
    """What a task of this kind may be done with, from its lifecycle: one choice per value of
    the action's routing argument, or the action alone (a final report). Worked out once."""
    key = (wf.kind, task_kind)
    if key not in _CHOICES:
        _CHOICES[key] = _choices(wf, task_kind)
    return _CHOICES[key]


def _choices(wf: Any, task_kind: str) -> list[Choice]:
    action = wf.task_actions.get(task_kind)
    if action is None:
        return []
    action = wf.lifecycle.actions(action)
    routing = wf.lifecycle.routing_arguments.get(action)
    if routing is None:
        return [Choice(action.value, None, None, action.value.replace("_", " ").capitalize())]
    field, values = routing
    return [Choice(action.value, field, v.value, v.value.replace("_", " ").capitalize()) for v in values]


def _task_names(task: Any) -> dict:
    if task.id is not None:
        return {"t": task.id}
    return {"k": task.item_kind, "i": task.item_id, "tk": task.kind, "at": task.created_at.isoformat()}


NO_CHOICE = "_"  # the variant of a link whose action has no routing argument


def sign(secret: str, *, user_id: int, task: Any, choices_: list[Choice]) -> list[str]:
    """One token per choice of the same task for the same recipient: the choice is the signed
    variant of one payload (recipient, task, action, a nonce)."""
    payload = {"u": user_id, **_task_names(task), "a": choices_[0].action, "n": secrets.token_urlsafe(6)}
    return Signer(secret, PURPOSE).sign_each(payload, [c.value or NO_CHOICE for c in choices_])


def url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/act/{token}"


def links(secret: str | None, base_url: str, wf: Any, *, user_id: int, task: Any) -> list[dict]:
    """The links of one task for one recipient, as an email's template lists them."""
    if not secret:
        return []
    found = choices(wf, task.kind)
    if not found:
        return []
    tokens = sign(secret, user_id=user_id, task=task, choices_=found)
    return [{"label": c.label, "url": url(base_url, token)} for c, token in zip(found, tokens)]


def read(secret: str, token: str) -> Link:
    """The link's request, or BadSignature (altered, cut short, or not an action link)."""
    data, variant = Signer(secret, PURPOSE).read_variant(token)
    try:
        by_id = data.get("t") is not None
        return Link(user_id=int(data["u"]), task_id=int(data["t"]) if by_id else None,
                    item_kind=None if by_id else str(data["k"]), item_id=None if by_id else int(data["i"]),
                    task_kind=None if by_id else str(data["tk"]),
                    opened_at=None if by_id else datetime.fromisoformat(data["at"]),
                    action=str(data["a"]), value=None if variant in (None, NO_CHOICE) else variant)
    except (KeyError, TypeError, ValueError):
        raise BadSignature("not an action link") from None


def expires_at(due_at: datetime) -> datetime:
    return due_at + timedelta(days=DAYS_AFTER_DUE)
