"""What every lifecycle's API shares: strict input, comments, tasks and history going out."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

Comment = Annotated[str | None, Field(default=None, max_length=5000)]
# A day anything here may fall on: this century. Bounded, so that date arithmetic (a month on, a
# year on) never leaves the calendar, and a typo such as 9999 is told, not crashed on.
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    def problems(self) -> list[tuple[str, str]]:
        """Rules across fields, as (field, message): checked once the fields themselves are
        valid, so that each message stands next to the field a person has to change."""
        return []


def nested_problems(prefix: str, model: Strict | None) -> list[tuple[str, str]]:
    return [(f"{prefix}.{f}", m) for f, m in model.problems()] if model is not None else []


def comment_required(comment: str | None, when: bool, reason: str) -> list[tuple[str, str]]:
    """A comment is required `when`: the message says why, by the `comment` field."""
    return [("comment", f"a comment is required {reason}")] if when and not comment else []


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


U = TypeVar("U", bound=Strict)


class Resubmit(Strict, Generic[U]):
    """A resubmission: the fields that change (a lifecycle's edit schema), and a comment.
    Subclass it per lifecycle (`class ResubmitArgs(Resubmit[ProposalUpdate])`) for its name."""

    changes: U = Field(default_factory=dict, validate_default=True)
    comment: Comment

    def problems(self) -> list[tuple[str, str]]:
        return nested_problems("changes", self.changes)


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
    on_behalf_of: str | None = None  # in a delegate's inbox: whose task it is ("for <name>")


class ItemPublic(BaseModel):
    """What every lifecycle's item shows of itself; each adds its own fields."""

    id: int
    reference: str
    member_state: str
    state: str
    round: int
    version: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    closed_at: datetime | None
    available_actions: list[str]  # the caller's
    tasks: list[TaskPublic]  # the open ones


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
    on_behalf_of: str | None = None  # taken by `actor` in this person's seat (a delegate): "X for Y"
    via: str | None = None  # "email_link": confirmed from an email's link
