"""The secondment's own tables: the nomination to the end of the placement, and its
pre-deployment checklist."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.engine.models import ItemFields, moment
from services.infra.db import factory

SECONDMENT_VERSION = sa.Column("version", sa.Integer, nullable=False)


class Secondment(ItemFields, table=True):
    """A member state's nomination of an official to the RSO, to the end of the placement."""

    __tablename__ = "secondments"
    __table_args__ = (sa.Index("ix_secondments_member_state_state", "member_state", "state"),)
    __mapper_args__ = {"version_id_col": SECONDMENT_VERSION}

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
    languages: list[str] = Field(default_factory=factory(list), sa_type=sa.JSON)
    justification: str = Field(default="", sa_type=sa.Text)

    arrangement_signed_on: date | None = None
    # The extension request waiting for a decision, if any (decisions are in the history).
    extension_end_date: date | None = None
    extension_justification: str | None = Field(default=None, sa_type=sa.Text)
    final_report: str | None = Field(default=None, sa_type=sa.Text)
    final_report_at: datetime | None = moment(default=None)


class ChecklistEntry(SQLModel, table=True):
    """One pre-deployment checklist item of a secondment: opened when the arrangement is
    confirmed, ticked (by whom, when) as it is done."""

    __tablename__ = "secondment_checklist"
    __table_args__ = (sa.UniqueConstraint("secondment_id", "item"),)

    id: int | None = Field(default=None, primary_key=True)
    secondment_id: int = Field(foreign_key="secondments.id")
    item: str = Field(max_length=30)
    done_at: datetime | None = moment(default=None)
    done_by_id: int | None = Field(default=None, foreign_key="users.id")
