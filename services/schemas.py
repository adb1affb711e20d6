"""What every lifecycle's API shares: strict input, comments, tasks and history going out."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

Comment = Annotated[str | None, Field(default=None, max_length=5000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def not_null(*fields: str):
    """A validator for edits: these fields may be left out (to keep them) but not set to null.
    Null clears only what may be empty (a budget, dates, a link...)."""
    def check(cls, v):
        if v is None:
            raise ValueError("may not be null (leave the field out to keep it as it is)")
        return v
    return field_validator(*fields, mode="before")(check)


class SubmitArgs(Strict):
    comment: Comment


class CommentArgs(Strict):
    comment: Comment


class TaskPublic(BaseModel):
    id: int
    kind: str
    status: str
    item_kind: str
    item_id: int
    reference: str
    title: str
    assignee: str  # who is to act, in words ("co-manager (AUS)", "both co-chairs", a name)
    assignee_id: int | None
    due_at: datetime
    due_date: date  # the due day in the RSO's time zone
    overdue: bool


class HistoryPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    from_state: str | None
    to_state: str
    comment: str | None
    arguments: dict
