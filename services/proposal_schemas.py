"""What a proposal looks like coming in (create, edit, action arguments) and going out."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator, model_validator

from services.reference_data import CURRENCIES, member_codes
from services.schemas import CommentArgs, Comment, not_null, HistoryPublic, Strict, SubmitArgs, TaskPublic  # noqa: F401
from states.proposal import GuidanceDecision, Position, Recommendation


class EngagementType(StrEnum):
    COLLABORATION = "collaboration"
    NEW_PROJECT = "new_project"
    FUNDING_SUPPORT = "funding_support"
    IN_KIND_SUPPORT = "in_kind_support"


class Scope(StrEnum):
    BILATERAL = "bilateral"
    MULTILATERAL = "multilateral"
    REGIONAL = "regional"


class ThematicArea(StrEnum):
    PEOPLE_SMUGGLING = "people_smuggling"
    TRAFFICKING_IN_PERSONS = "trafficking_in_persons"
    IRREGULAR_MIGRATION = "irregular_migration"
    TRANSNATIONAL_CRIME = "transnational_crime"
    TECHNOLOGY_MISUSE = "technology_misuse"


class Budget(Strict):
    amount: Decimal = Field(ge=0, max_digits=16, decimal_places=2)
    currency: str

    @field_validator("currency")
    @classmethod
    def iso_4217(cls, v: str) -> str:
        if v.upper() not in CURRENCIES:
            raise ValueError("must be an ISO 4217 currency code such as USD, AUD or THB")
        return v.upper()


def _unique(values: list) -> list:
    return list(dict.fromkeys(values))


class ProposalUpdate(Strict):
    """Fields of a proposal; every one optional (an edit names only what changes)."""

    title: str | None = Field(default=None, min_length=3, max_length=200)
    summary: str | None = Field(default=None, max_length=5000)
    engagement_type: EngagementType | None = None
    scope: Scope | None = None
    thematic_areas: list[ThematicArea] | None = Field(default=None, max_length=5)
    partner_member_states: list[str] | None = Field(default=None, max_length=60)
    budget: Budget | None = None
    proposed_start: date | None = None
    proposed_end: date | None = None

    _not_null = not_null("title", "summary", "thematic_areas", "partner_member_states")

    @field_validator("thematic_areas")
    @classmethod
    def _areas(cls, v):
        return None if v is None else _unique(v)

    @field_validator("partner_member_states")
    @classmethod
    def _partners(cls, v):
        if v is None:
            return None
        codes = _unique([c.strip().upper() for c in v])
        unknown = [c for c in codes if c not in member_codes()]
        if unknown:
            raise ValueError(f"not Bali Process member codes: {', '.join(unknown)}")
        return codes

    @model_validator(mode="after")
    def _dates(self):
        if self.proposed_start and self.proposed_end and self.proposed_end < self.proposed_start:
            raise ValueError("proposed_end must not be before proposed_start")
        return self


class ProposalCreate(ProposalUpdate):
    title: str = Field(min_length=3, max_length=200)


# --- action arguments ----------------------------------------------------------------------

class ReviewArgs(Strict):
    recommendation: Recommendation
    comment: Comment

    @model_validator(mode="after")
    def _reason(self):
        if self.recommendation is not Recommendation.ENDORSE and not self.comment:
            raise ValueError(f"a comment is required to recommend '{self.recommendation.value}'")
        return self


class OpenConsultationArgs(Strict):
    stakeholders: list[str] = Field(min_length=1, max_length=50)
    due_date: date | None = None
    comment: Comment


class RespondArgs(Strict):
    position: Position
    comment: Comment

    @model_validator(mode="after")
    def _reason(self):
        if self.position is not Position.SUPPORT and not self.comment:
            raise ValueError(f"a comment is required with position '{self.position.value}'")
        return self


class GiveGuidanceArgs(Strict):
    decision: GuidanceDecision
    conditions: str | None = Field(default=None, max_length=5000)
    comment: Comment

    @model_validator(mode="after")
    def _consistent(self):
        d = self.decision
        if d is GuidanceDecision.APPROVE_WITH_CONDITIONS and not self.conditions:
            raise ValueError("conditions are required with 'approve_with_conditions'")
        if d is not GuidanceDecision.APPROVE_WITH_CONDITIONS and self.conditions:
            raise ValueError("conditions go only with 'approve_with_conditions'")
        if d in (GuidanceDecision.DECLINE, GuidanceDecision.RETURN_TO_CO_MANAGERS) and not self.comment:
            raise ValueError(f"a comment is required to '{d.value}'")
        return self


class ResubmitArgs(Strict):
    changes: ProposalUpdate = Field(default_factory=ProposalUpdate)
    comment: Comment


# --- views ---------------------------------------------------------------------------------

class ReviewPublic(BaseModel):
    round: int
    country: str
    reviewer: str
    recommendation: str
    comment: str | None
    at: datetime


class ResponsePublic(BaseModel):
    round: int
    stakeholder: str
    organisation: str | None
    position: str
    comment: str | None
    at: datetime


class ProposalPublic(BaseModel):
    id: int
    reference: str
    member_state: str
    state: str
    round: int
    version: int
    split: bool
    title: str
    summary: str
    engagement_type: str | None
    scope: str | None
    thematic_areas: list[str]
    partner_member_states: list[str]
    budget: Budget | None
    proposed_start: date | None
    proposed_end: date | None
    conditions: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    closed_at: datetime | None
    available_actions: list[str]
    tasks: list[TaskPublic]
    # Only for RSO staff (co-managers, co-chairs, admin), on a single proposal.
    reviews: list[ReviewPublic] | None = None
    consultation_responses: list[ResponsePublic] | None = None
