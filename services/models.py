"""Database tables. History events and tasks are shared by every lifecycle: they name their
item by `item_kind` ("proposal", "secondment") and `item_id`."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.db import UTCDateTime, utcnow


def _ts(**kw) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)  # stored lower-case
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    member_state: str | None = Field(default=None, max_length=10)
    country: str | None = Field(default=None, max_length=3)
    organisation: str | None = Field(default=None, max_length=200)
    password_hash: str = Field(max_length=200)
    active: bool = True
    created_at: datetime = _ts(default_factory=utcnow)


PROPOSAL_VERSION = sa.Column("version", sa.Integer, nullable=False)


class Proposal(SQLModel, table=True):
    __tablename__ = "proposals"
    __table_args__ = (sa.Index("ix_proposals_member_state_state", "member_state", "state"),)
    # A stale writer fails with StaleDataError instead of overwriting (optimistic locking).
    __mapper_args__ = {"version_id_col": PROPOSAL_VERSION}

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)
    member_state: str = Field(max_length=10)
    created_by_id: int = Field(foreign_key="users.id")
    submitted_by_id: int | None = Field(default=None, foreign_key="users.id")  # who (re)submitted last
    state: str = Field(max_length=30, index=True)
    round: int = 0
    split: bool = False
    version: int = Field(default=1, sa_column=PROPOSAL_VERSION)

    title: str = Field(max_length=200)
    summary: str = Field(default="", sa_type=sa.Text)
    engagement_type: str | None = Field(default=None, max_length=30)
    scope: str | None = Field(default=None, max_length=20)
    thematic_areas: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    partner_member_states: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    budget_amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    budget_currency: str | None = Field(default=None, max_length=3)
    proposed_start: date | None = None
    proposed_end: date | None = None
    conditions: str | None = Field(default=None, sa_type=sa.Text)

    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)
    submitted_at: datetime | None = _ts(default=None)
    closed_at: datetime | None = _ts(default=None)


class ReviewVote(SQLModel, table=True):
    """A co-manager's recommendation in one round. The seat (country) votes once per round."""

    __tablename__ = "review_votes"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "round", "country"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposals.id")
    round: int
    country: str = Field(max_length=3)
    user_id: int = Field(foreign_key="users.id")
    recommendation: str = Field(max_length=10)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _ts(default_factory=utcnow)


class ConsultationResponse(SQLModel, table=True):
    __tablename__ = "consultation_responses"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "round", "stakeholder_id"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposals.id")
    round: int
    stakeholder_id: int = Field(foreign_key="users.id")
    position: str = Field(max_length=30)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _ts(default_factory=utcnow)


class Task(SQLModel, table=True):
    """A human step with an owner and a due date.

    The assignee is a user (`assignee_id`), or a role seat: `assignee_role` with an optional
    `assignee_country` ("the Australian co-manager") or `assignee_member_state`; a role with
    neither is shared by everyone in it ("both co-chairs": whoever acts first completes it).
    """

    __tablename__ = "tasks"
    __table_args__ = (
        sa.Index("ix_tasks_item_status", "item_kind", "item_id", "status"),
        sa.Index("ix_tasks_status_due_at", "status", "due_at"),
        # The sweep reads only what has a notice due: its cost follows what is due, not what is open.
        sa.Index("ix_tasks_next_notice", "next_notice_at", postgresql_where=sa.text("status = 'open'"),
                 sqlite_where=sa.text("status = 'open'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_kind: str = Field(max_length=20)
    item_id: int
    kind: str = Field(max_length=20)
    round: int | None = None
    assignee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    assignee_role: str | None = Field(default=None, max_length=20)
    assignee_country: str | None = Field(default=None, max_length=3)
    assignee_member_state: str | None = Field(default=None, max_length=10)
    status: str = Field(default="open", max_length=12)  # open, completed, cancelled, expired
    due_at: datetime = _ts()
    created_at: datetime = _ts(default_factory=utcnow)
    closed_at: datetime | None = _ts(default=None)
    closed_by_id: int | None = Field(default=None, foreign_key="users.id")
    # When the next reminder or escalation of this task is due (None: no more).
    next_notice_at: datetime | None = _ts(default=None)


class DeadlineNotice(SQLModel, table=True):
    """A reminder, an escalation or a timed step the sweep has taken: at most once per `key`
    ("task:12:reminder:1", "secondment:3:extension_ask:2027-06-30"), however often and
    however many sweeps run at once."""

    __tablename__ = "deadline_notices"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    item_kind: str = Field(max_length=20)
    item_id: int
    task_id: int | None = Field(default=None, foreign_key="tasks.id")
    kind: str = Field(max_length=30)
    due_at: datetime = _ts()  # the moment the notice was scheduled for
    created_at: datetime = _ts(default_factory=utcnow)  # when a sweep sent it


class HistoryEvent(SQLModel, table=True):
    """One action, automatic or not. Never updated or deleted (a database trigger refuses)."""

    __tablename__ = "history_events"
    __table_args__ = (sa.Index("ix_history_item", "item_kind", "item_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    item_kind: str = Field(max_length=20)
    item_id: int
    at: datetime = _ts(default_factory=utcnow)
    actor_id: int | None = Field(default=None, foreign_key="users.id")  # None: the system
    actor_role: str = Field(max_length=20)  # a role, or "system"
    actor_name: str = Field(max_length=200)  # as it was when the event happened
    action: str = Field(max_length=40)
    from_state: str | None = Field(default=None, max_length=30)
    to_state: str = Field(max_length=30)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    arguments: dict = Field(default_factory=dict, sa_type=sa.JSON)


class IdempotencyKey(SQLModel, table=True):
    """A create retried with the same Idempotency-Key returns the item of the first one."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "item_kind", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    item_kind: str = Field(max_length=20)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    item_id: int
    created_at: datetime = _ts(default_factory=utcnow)


class ReferenceCounter(SQLModel, table=True):
    """The last number handed out per prefix and year (RSO-P-2026-0001)."""

    __tablename__ = "reference_counters"

    prefix: str = Field(primary_key=True, max_length=10)
    year: int = Field(primary_key=True)
    last: int = 0


SECONDMENT_VERSION = sa.Column("version", sa.Integer, nullable=False)


class Secondment(SQLModel, table=True):
    """A member state's nomination of an official to the RSO, to the end of the placement."""

    __tablename__ = "secondments"
    __table_args__ = (sa.Index("ix_secondments_member_state_state", "member_state", "state"),)
    __mapper_args__ = {"version_id_col": SECONDMENT_VERSION}

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)
    member_state: str = Field(max_length=10)  # the nominating member state
    created_by_id: int = Field(foreign_key="users.id")
    submitted_by_id: int | None = Field(default=None, foreign_key="users.id")  # who (re)submitted last
    state: str = Field(max_length=30, index=True)
    version: int = Field(default=1, sa_column=SECONDMENT_VERSION)

    nominee_full_name: str = Field(max_length=200)
    nominee_email: str = Field(max_length=254)
    nominee_position: str = Field(default="", max_length=200)
    nominee_agency: str = Field(default="", max_length=200)
    proposed_role: str = Field(max_length=200)
    proposal_id: int | None = Field(default=None, foreign_key="proposals.id")
    proposal_reference: str | None = Field(default=None, max_length=20)
    start_date: date | None = None
    end_date: date | None = None
    funding_salary: str | None = Field(default=None, max_length=20)
    funding_allowances: str | None = Field(default=None, max_length=20)
    languages: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    justification: str = Field(default="", sa_type=sa.Text)

    arrangement_signed_on: date | None = None
    # The extension request waiting for a decision, if any (decisions are in the history).
    extension_end_date: date | None = None
    extension_justification: str | None = Field(default=None, sa_type=sa.Text)
    final_report: str | None = Field(default=None, sa_type=sa.Text)
    final_report_at: datetime | None = _ts(default=None)

    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)
    submitted_at: datetime | None = _ts(default=None)
    closed_at: datetime | None = _ts(default=None)


class ChecklistEntry(SQLModel, table=True):
    """One pre-deployment checklist item of a secondment: opened when the arrangement is
    confirmed, ticked (by whom, when) as it is done."""

    __tablename__ = "secondment_checklist"
    __table_args__ = (sa.UniqueConstraint("secondment_id", "item"),)

    id: int | None = Field(default=None, primary_key=True)
    secondment_id: int = Field(foreign_key="secondments.id")
    item: str = Field(max_length=30)
    done_at: datetime | None = _ts(default=None)
    done_by_id: int | None = Field(default=None, foreign_key="users.id")
