"""What every lifecycle shares: roles, the actor, and the errors a refused action raises."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    MEMBER_STATE = "member_state"
    CO_MANAGER = "co_manager"
    STAKEHOLDER = "stakeholder"
    CO_CHAIR = "co_chair"
    ADMIN = "admin"


# The two co-managers and the two co-chairs are seats held by Australia and Indonesia.
SEAT_COUNTRIES = ("AUS", "IDN")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting. `system` (no user) is RSO Workflow itself taking a timed transition,
    such as closing a consultation or beginning a handover when the calendar says so."""

    role: Role
    user_id: int | None = None
    member_state: str | None = None
    country: str | None = None
    system: bool = False
    # The person acting, when not the seat's own holder: a delegate acting for the absent
    # holder (`user_id`) of a co-manager's or co-chair's seat.
    person_id: int | None = None

    @property
    def person(self) -> int | None:
        """Who is acting, in person: the delegate, or the seat's holder."""
        return self.person_id if self.person_id is not None else self.user_id


# The system acts with a co-manager's authority, and only on a lifecycle's `system_actions`.
SYSTEM = Actor(Role.CO_MANAGER, system=True)


class ActionRefused(Exception):
    """Base for an action the lifecycle will not take."""


class NotPermitted(ActionRefused):
    """The actor's role may never take this action (HTTP 403)."""

    def __init__(self, action: str, role: str):
        self.action, self.role = action, role
        super().__init__(f"a {role} may not '{action}'")


class ActionNotAvailable(ActionRefused):
    """The action exists but is not available now, to this actor (HTTP 409)."""

    def __init__(self, action: str, state: str, available: list[str], reason: str | None = None):
        self.action, self.state, self.available, self.reason = action, state, available, reason
        super().__init__(reason or f"'{action}' is not available in state '{state}'")


class UnknownAction(ActionRefused):
    """No such action in this lifecycle (HTTP 404)."""

    def __init__(self, action: str, actions: list[str]):
        self.action, self.actions = action, actions
        super().__init__(f"unknown action '{action}'")
