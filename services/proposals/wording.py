"""How the proposal's emails speak: its tasks, its decisions, its milestones."""
from __future__ import annotations

from services.engine.events import DomainEvent
from services.engine.models import User
from services.engine.tasks import Task, TaskKind
from services.engine.workflow import Audience, Milestone, Wording

SEAT_ADJECTIVES = {"AUS": "Australian", "IDN": "Indonesian"}

TASK_NAMES = {TaskKind.REVIEW: "co-manager review", TaskKind.CONSULTATION: "stakeholder consultation",
              TaskKind.GUIDANCE: "request for the Co-Chairs' guidance"}
TASK_SUBJECTS = {TaskKind.REVIEW: "Review requested", TaskKind.CONSULTATION: "Consultation invitation",
                 TaskKind.GUIDANCE: "Guidance requested"}
TASK_SENTENCES = {
    TaskKind.REVIEW: "A proposal awaits your review as the {country} Co-Manager of the RSO. Please record your "
                     "recommendation (endorse, revise or decline) by the due date.",
    TaskKind.CONSULTATION: "The RSO Co-Managers invite {organisation} to comment on the proposal below. Please "
                           "give your position (support, support with conditions, concerns or object) by the "
                           "due date.",
    TaskKind.GUIDANCE: "The RSO Co-Managers request the Co-Chairs' guidance on the proposal below{split}. Either "
                       "Co-Chair may give it on behalf of both.",
}
DECISIONS = {
    "revision_requested": ("revision requested", "The RSO Co-Managers ask you to revise your proposal and resubmit "
                                                 "it. Their reasons are below."),
    "declined": ("declined", "We regret to inform you that your proposal has been declined."),
    "approved": ("approved", "We are pleased to inform you that your proposal has been approved."),
    "approved_with_conditions": ("approved with conditions",
                                 "Your proposal has been approved, with the conditions below."),
}
MILESTONES = {
    "withdrawn": Milestone("withdrawn", "The proposal has been withdrawn by the member state.",
                           frozenset({Audience.SUBMITTER, Audience.CO_MANAGERS})),
}


def task_sentence(task: Task, user: User, proposal) -> str:
    """What a task asks of this recipient, in their seat's or organisation's words."""
    return TASK_SENTENCES[task.kind].format(
        country=SEAT_ADJECTIVES.get(user.country or "", ""), organisation=user.organisation or "you",
        split=" (the Co-Managers' recommendations were split)" if proposal.split else "")


def milestone(proposal, event: DomainEvent) -> Milestone:
    return MILESTONES[event.data["milestone"]]


WORDING = Wording(
    item_label="proposal",
    next_step="The two RSO Co-Managers will now review it. You will be informed of their decision.",
    task_names=TASK_NAMES, task_subjects=TASK_SUBJECTS, task_sentence=task_sentence, decisions=DECISIONS,
    milestone=milestone,
)
