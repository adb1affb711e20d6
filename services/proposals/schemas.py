"""What a proposal looks like coming in (create, edit, action arguments) and going out."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from services.config.reference_data import CURRENCIES, member_codes
from services.engine.schemas import Comment, Day, ItemPublic, Resubmit, Strict, comment_required, not_null
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
    proposed_start: Day | None = None
    proposed_end: Day | None = None

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

    @field_validator("proposed_end")
    @classmethod
    def _not_before_start(cls, end, info):
        # Checked with the other fields (the start, when valid, is read first), so that every
        # message of one form comes at once.
        for _, message in end_before_start(info.data.get("proposed_start"), end):
            raise ValueError(message)
        return end


def end_before_start(start: date | None, end: date | None) -> list[tuple[str, str]]:
    """An end before the start, as (field, message)."""
    if start and end and end < start:
        return [("proposed_end", f"must not be before the proposed start ({start.strftime('%-d %B %Y')})")]
    return []


class ProposalCreate(ProposalUpdate):
    title: str = Field(min_length=3, max_length=200)


# --- action arguments ----------------------------------------------------------------------

class ReviewArgs(Strict):
    recommendation: Recommendation
    comment: Comment

    def problems(self) -> list[tuple[str, str]]:
        r = self.recommendation
        return comment_required(self.comment, r is not Recommendation.ENDORSE, f"to recommend {r.value}")


class OpenConsultationArgs(Strict):
    stakeholders: list[str] = Field(min_length=1, max_length=50)
    due_date: Day | None = None
    comment: Comment


class RespondArgs(Strict):
    position: Position
    comment: Comment

    def problems(self) -> list[tuple[str, str]]:
        p = self.position
        return comment_required(self.comment, p is not Position.SUPPORT,
                                f"with the position {p.value.replace('_', ' ')}")


class ReplaceStakeholderArgs(Strict):
    stakeholder: str = Field(max_length=254, description="the email of the invitee who cannot answer")
    replacement: str = Field(max_length=254, description="the email of the stakeholder invited instead")
    comment: Comment


class GiveGuidanceArgs(Strict):
    decision: GuidanceDecision
    conditions: str | None = Field(default=None, max_length=5000)
    comment: Comment

    def problems(self) -> list[tuple[str, str]]:
        d, found = self.decision, []
        if d is GuidanceDecision.APPROVE_WITH_CONDITIONS and not self.conditions:
            found.append(("conditions", "required to approve with conditions"))
        if d is not GuidanceDecision.APPROVE_WITH_CONDITIONS and self.conditions:
            found.append(("conditions", "conditions go only with the decision to approve with conditions"))
        return found + comment_required(self.comment, d in (GuidanceDecision.DECLINE,
                                                            GuidanceDecision.RETURN_TO_CO_MANAGERS),
                                        f"to {d.value.replace('_', ' ')}")


class ResubmitArgs(Resubmit[ProposalUpdate]):
    pass


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


class ProposalPublic(ItemPublic):
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
    # Only for RSO staff (co-managers, co-chairs, admin), on a single proposal.
    reviews: list[ReviewPublic] | None = None
    consultation_responses: list[ResponsePublic] | None = None
