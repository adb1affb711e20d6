"""Domain events: "what happened", collected by a unit of work while it runs.

Writers registered on the Services container turn them into rows (the email outbox) inside
the same transaction, just before it commits; a rolled-back change leaves no trace.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DomainEvent:
    name: str  # submitted, task_assigned, decision, withdrawn, resubmitted, ...
    item_kind: str
    item_id: int
    reference: str
    data: dict = field(default_factory=dict)
    # Identifies the event, so that what it causes (an email per recipient) happens once.
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
