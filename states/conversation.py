"""Documents and comments beside a lifecycle: who may add them, when, and who may read them.

Neither changes an item's state. The rules, for every lifecycle:

- RSO staff (co-managers, co-chairs, admins) attach documents and comment at any time, `shared`
  (the owning member state and staff read it) or `internal` (staff only).
- The owning member state attaches while the item is theirs to change: a draft, or returned to
  them (`owner_attaches`, per lifecycle). It comments once the item is submitted (before, nobody
  else can read it), always `shared`.
- A stakeholder reads the shared documents and comments of what they were invited to, and adds
  neither.
"""
from __future__ import annotations

from enum import StrEnum

from states.common import ActionNotAvailable, Actor, NotPermitted, Role

STAFF = frozenset({Role.CO_MANAGER, Role.CO_CHAIR, Role.ADMIN})


class Visibility(StrEnum):
    SHARED = "shared"  # the owning member state and RSO staff (and invited stakeholders)
    INTERNAL = "internal"  # RSO staff only


class DocumentKind(StrEnum):
    CONCEPT_NOTE = "concept_note"
    BUDGET = "budget"
    CV = "cv"
    LETTER = "letter"
    REPORT = "report"
    OTHER = "other"


ATTACH, COMMENT = "attach a document", "comment"


def may_use(actor: Actor, visibility: str) -> bool:
    """Whether the actor may read, or give, this visibility: internal is for staff."""
    return visibility == Visibility.SHARED or actor.role in STAFF


def check_attach(actor: Actor, *, owner: bool, state: str, owner_states: frozenset[str]) -> None:
    """NotPermitted (403) for who may never attach to this item; ActionNotAvailable (409) when
    the owner may, but not in this state."""
    if actor.role in STAFF:
        return
    if actor.role != Role.MEMBER_STATE or not owner:
        raise NotPermitted(ATTACH, actor.role.value)
    if state not in owner_states:
        allowed = ", ".join(sorted(owner_states))
        raise ActionNotAvailable(ATTACH, state, [], reason=(
            f"the member state attaches documents while the item is in {allowed}; it is '{state}' now"))


def check_comment(actor: Actor, *, owner: bool, submitted: bool, state: str) -> None:
    if actor.role in STAFF:
        return
    if actor.role != Role.MEMBER_STATE or not owner:
        raise NotPermitted(COMMENT, actor.role.value)
    if not submitted:
        raise ActionNotAvailable(COMMENT, state, [], reason=(
            "comments are the conversation with the RSO: submit the item first (nobody else reads a draft)"))
