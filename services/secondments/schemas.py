"""What a secondment looks like coming in (create, edit, action arguments) and going out."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from services.engine.errors import InvalidInput
from services.engine.people import normalise_email
from services.engine.schemas import Comment, Day, ItemPublic, Resubmit, Strict, comment_required, not_null
from states.secondment import ChecklistItem, ExtensionDecision, NominationDecision


class SalaryFunder(StrEnum):
    SENDING_STATE = "sending_state"


class AllowancesFunder(StrEnum):
    SENDING_STATE = "sending_state"
    RSO = "rso"
    SHARED = "shared"


class Funding(Strict):
    salary: SalaryFunder = Field(description="who pays the salary: always the sending state")
    allowances: AllowancesFunder


def _email(v: str) -> str:
    try:
        return normalise_email(v, "email")
    except InvalidInput as exc:
        raise ValueError(exc.errors[0]["message"]) from None


class NomineeUpdate(Strict):
    full_name: str | None = Field(default=None, min_length=2, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    position: str | None = Field(default=None, max_length=200)
    agency: str | None = Field(default=None, max_length=200)

    _not_null = not_null("full_name", "email", "position", "agency")

    @field_validator("email")
    @classmethod
    def _valid_email(cls, v):
        return None if v is None else _email(v)


class Nominee(NomineeUpdate):
    full_name: str = Field(min_length=2, max_length=200)
    email: str = Field(max_length=254)


class SecondmentUpdate(Strict):
    """Fields of a secondment; every one optional (an edit names only what changes)."""

    nominee: NomineeUpdate | None = None
    proposed_role: str | None = Field(default=None, min_length=3, max_length=200)
    proposal_reference: str | None = Field(default=None, max_length=20,
                                           description="an approved proposal this placement serves; null to unlink")
    start_date: Day | None = None
    end_date: Day | None = None
    funding: Funding | None = None
    languages: list[str] | None = Field(default=None, max_length=20)
    justification: str | None = Field(default=None, max_length=5000)

    _not_null = not_null("nominee", "proposed_role", "languages", "justification")

    @field_validator("languages")
    @classmethod
    def _languages(cls, v):
        if v is None:
            return None
        cleaned = list(dict.fromkeys(x.strip() for x in v))
        if any(not 2 <= len(x) <= 50 for x in cleaned):
            raise ValueError("each language is 2 to 50 characters")
        return cleaned


class SecondmentCreate(SecondmentUpdate):
    nominee: Nominee
    proposed_role: str = Field(min_length=3, max_length=200)


# --- action arguments ----------------------------------------------------------------------

class DecideArgs(Strict):
    decision: NominationDecision
    comment: Comment

    def problems(self) -> list[tuple[str, str]]:
        d = self.decision
        return comment_required(self.comment, d is not NominationDecision.ACCEPT,
                                f"to {d.value.replace('_', ' ')}")


class SecondmentResubmitArgs(Resubmit[SecondmentUpdate]):
    pass


class ConfirmArrangementArgs(Strict):
    arrangement_signed_on: Day
    start_date: Day
    end_date: Day
    comment: Comment


class CompleteItemArgs(Strict):
    item: ChecklistItem
    comment: Comment


class RequestExtensionArgs(Strict):
    new_end_date: Day
    justification: str = Field(min_length=1, max_length=5000)
    comment: Comment


class DecideExtensionArgs(Strict):
    decision: ExtensionDecision
    comment: Comment

    def problems(self) -> list[tuple[str, str]]:
        return comment_required(self.comment, self.decision is ExtensionDecision.DECLINE, "to decline an extension")


class FinalReportArgs(Strict):
    report: str = Field(min_length=1, max_length=20000)
    comment: Comment


class ReasonArgs(Strict):
    comment: str = Field(min_length=1, max_length=5000, description="the reason, told to the member state")


# --- views ---------------------------------------------------------------------------------

class NomineePublic(BaseModel):
    full_name: str
    email: str
    position: str
    agency: str


class ChecklistItemPublic(BaseModel):
    item: str
    done: bool
    done_at: datetime | None
    done_by: str | None


class ExtensionRequestPublic(BaseModel):
    new_end_date: date
    justification: str


class SecondmentPublic(ItemPublic):
    nominee: NomineePublic
    proposed_role: str
    proposal_reference: str | None
    start_date: date | None
    end_date: date | None
    funding: Funding | None
    languages: list[str]
    justification: str
    arrangement_signed_on: date | None
    checklist: list[ChecklistItemPublic]  # empty until the arrangement is confirmed
    extension_request: ExtensionRequestPublic | None  # waiting for the co-managers' decision
    final_report: str | None
    final_report_at: datetime | None
