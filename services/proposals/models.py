"""The proposal's own tables: the proposal, the co-managers' votes, the stakeholders' responses."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.engine.models import ItemFields, moment
from services.infra.db import factory, utcnow

PROPOSAL_VERSION = sa.Column("version", sa.Integer, nullable=False)


class Proposal(ItemFields, table=True):
    __tablename__ = "proposals"
    __table_args__ = (sa.Index("ix_proposals_member_state_state", "member_state", "state"),)
    __mapper_args__ = {"version_id_col": PROPOSAL_VERSION}

    split: bool = False  # the round's two reviews were split (one endorsed, one declined)
    version: int = Field(default=1, sa_column=PROPOSAL_VERSION)

    title: str = Field(max_length=200)
    summary: str = Field(default="", sa_type=sa.Text)
    engagement_type: str | None = Field(default=None, max_length=30)
    scope: str | None = Field(default=None, max_length=20)
    thematic_areas: list[str] = Field(default_factory=factory(list), sa_type=sa.JSON)
    partner_member_states: list[str] = Field(default_factory=factory(list), sa_type=sa.JSON)
    budget_amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    budget_currency: str | None = Field(default=None, max_length=3)
    proposed_start: date | None = None
    proposed_end: date | None = None
    conditions: str | None = Field(default=None, sa_type=sa.Text)


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
    created_at: datetime = moment(default_factory=utcnow)


class ConsultationResponse(SQLModel, table=True):
    __tablename__ = "consultation_responses"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "round", "stakeholder_id"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposals.id")
    round: int
    stakeholder_id: int = Field(foreign_key="users.id")
    position: str = Field(max_length=30)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = moment(default_factory=utcnow)
