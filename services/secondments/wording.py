"""How the secondment's emails speak: its tasks, its decisions, its milestones."""
from __future__ import annotations

from datetime import date

from services.engine.events import DomainEvent
from services.engine.models import User
from services.engine.tasks import Task, TaskKind
from services.engine.workflow import Audience, Milestone, Wording

SUBMITTER, CO_MANAGERS = Audience.SUBMITTER, Audience.CO_MANAGERS

TASK_NAMES = {TaskKind.DECISION: "decision on a nomination", TaskKind.EXTENSION: "decision on an extension request",
              TaskKind.FINAL_REPORT: "final report of a secondment"}
TASK_SUBJECTS = {TaskKind.DECISION: "Decision requested", TaskKind.EXTENSION: "Extension decision requested",
                 TaskKind.FINAL_REPORT: "Final report requested"}
TASK_SENTENCES = {
    TaskKind.DECISION: "A nomination for secondment to the RSO awaits the Co-Managers' decision (accept, decline "
                       "or request more information). Either Co-Manager may decide on behalf of both.",
    TaskKind.EXTENSION: "The nominating member state asks to extend the secondment below. Either Co-Manager may "
                        "approve or decline the extension on behalf of both.",
    TaskKind.FINAL_REPORT: "The secondment below is concluding. Please submit the final report of the placement "
                           "by the due date.",
}
DECISIONS = {
    "arranging": ("accepted", "We are pleased to inform you that the RSO Co-Managers have accepted the nomination. "
                              "They will now arrange the secondment with you."),
    "declined": ("declined", "We regret to inform you that the nomination has been declined."),
    "info_requested": ("information requested", "The RSO Co-Managers need more information before they decide "
                                                "on the nomination. Please resubmit it with the details asked for "
                                                "below."),
}
# (subject words, sentence, who is told); {start}, {end}, {handover}, {missing}, {decision} filled in.
MILESTONES = {
    "arrangement_confirmed": ("arrangement confirmed", "The secondment arrangement has been signed and confirmed. "
                              "The pre-deployment checklist is now open: security clearance, visa, travel, "
                              "insurance and induction plan.", {SUBMITTER}),
    "checklist_complete": ("pre-deployment checklist complete", "Every item of the pre-deployment checklist has "
                           "been completed. The secondment can now start.", {SUBMITTER, CO_MANAGERS}),
    "started": ("started", "The secondment has started.", {SUBMITTER}),
    "extension_requested": ("extension requested", "The request to extend the secondment has been received. The "
                            "RSO Co-Managers will decide on it.", {SUBMITTER}),
    "extension_decided": ("extension {decision}", "The RSO Co-Managers have {decision} the request to extend the "
                          "secondment.", {SUBMITTER}),
    "handover_begun": ("handover begun", "The secondment has entered its handover period. A final report of the "
                       "placement is now due from the nominating member state.", {SUBMITTER, CO_MANAGERS}),
    "final_report_received": ("final report received", "The final report of the secondment has been received.",
                              {SUBMITTER, CO_MANAGERS}),
    "completed": ("completed", "The secondment has been completed. The RSO thanks the nominating member state and "
                  "the secondee for their contribution.", {SUBMITTER, CO_MANAGERS}),
    "withdrawn": ("withdrawn", "The nomination has been withdrawn by the nominating member state.",
                  {SUBMITTER, CO_MANAGERS}),
    "terminated": ("terminated", "The RSO Co-Managers have terminated the secondment before its end. Their reasons "
                   "are below.", {SUBMITTER, CO_MANAGERS}),
    # Timed notices of the sweep.
    "extension_ask": ("ends soon: extension?", "The secondment below ends on {end}. If the nominating member state "
                      "wishes to extend it, please request an extension before {handover}, when the handover begins "
                      "by itself.", {SUBMITTER}),
    "checklist_reminder": ("pre-deployment checklist incomplete", "The secondment below starts on {start}, and its "
                           "pre-deployment checklist is not complete yet. Items still open: {missing}.",
                           {SUBMITTER, CO_MANAGERS}),
    "checklist_escalation": ("checklist incomplete on the start date", "The secondment below was due to start "
                             "today, {start}, but its pre-deployment checklist is still incomplete. Items still "
                             "open: {missing}. Please follow up with the nominating member state.", {CO_MANAGERS}),
}


def day(d: date | str) -> str:
    return (date.fromisoformat(d) if isinstance(d, str) else d).strftime("%A %-d %B %Y")


def task_sentence(task: Task, user: User, secondment) -> str:
    return TASK_SENTENCES[task.kind]


def _details(s, event: DomainEvent) -> list[tuple[str, str]]:
    name = event.data["milestone"]
    details = []
    if name in ("arrangement_confirmed", "started", "handover_begun") and s.start_date and s.end_date:
        details = [("Start", day(s.start_date)), ("End", day(s.end_date))]
    if name in ("extension_requested", "extension_decided"):
        details = [("Requested end", day(event.data["new_end_date"])), ("Current end", day(s.end_date))]
    if name in ("checklist_reminder", "checklist_escalation"):
        details = [("Start", day(s.start_date))]
    if event.data.get("automatic"):
        details.append(("Taken", "automatically by RSO Workflow, as the end date approaches"))
    return details


def milestone(s, event: DomainEvent) -> Milestone:
    word, sentence, who = MILESTONES[event.data["milestone"]]
    words = {"decision": {"approve": "approved", "decline": "declined"}.get(event.data.get("decision", ""), ""),
             "start": day(s.start_date) if s.start_date else "", "end": day(s.end_date) if s.end_date else "",
             "handover": day(event.data["handover_on"]) if "handover_on" in event.data else "",
             "missing": ", ".join(m.replace("_", " ") for m in event.data.get("missing", []))}
    return Milestone(word.format(**words), sentence.format(**words), frozenset(who), _details(s, event))


WORDING = Wording(
    item_label="nomination",
    next_step="The RSO Co-Managers will now consider the nomination. You will be informed of their decision.",
    task_names=TASK_NAMES, task_subjects=TASK_SUBJECTS, task_sentence=task_sentence, decisions=DECISIONS,
    milestone=milestone,
)
