"""Domain events: "what happened", collected by a unit of work while it runs.

Writers registered on the Services container turn them into rows (the email outbox) inside
the same transaction, just before it commits; a rolled-back change leaves no trace.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class EventName(StrEnum):
    SUBMITTED = "submitted"  # an item (re)submitted: {"round"}
    TASK_ASSIGNED = "task_assigned"  # {"task"}
    DECISION = "decision"  # a decision the submitter is told of: {"outcome", "reasons", "conditions"?}
    MILESTONE = "milestone"  # a step of a lifecycle people are told of: {"milestone", ...}
    COMMENTED = "commented"  # a comment on an item: {"body", "visibility", "author_id", "author_name", "from_staff"}
    REMINDER = "reminder"  # of an open task, by the sweep: {"task", "seq"}
    ESCALATION = "escalation"  # of an overdue task, by the sweep: {"task", "seq", "overdue_business_days"}
    # Someone named to act for another, or no longer ("delegation", its id):
    # {"principal", "delegate", "by" (users), "starts_on", "ends_on" (dates), "ended" (bool)}
    DELEGATED = "delegated"


@dataclass(frozen=True)
class DomainEvent:
    name: EventName
    item_kind: str
    item_id: int
    reference: str
    data: dict = field(default_factory=dict)
    # Identifies the event, so that what it causes (an email per recipient) happens once.
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
