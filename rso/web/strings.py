"""Every English string of the web pages, in one place, ready for translation: a translator
copies EN to another table keyed the same way. Templates call `t("key", name=value)`."""
from __future__ import annotations

EN: dict[str, str] = {
    "app.name": "RSO Workflow",
    "app.org": "Regional Support Office of the Bali Process",
    "nav.skip": "Skip to the content",
    "nav.my": "My proposals and nominations",
    "nav.new_proposal": "New proposal",
    "nav.nominate": "Nominate a secondee",
    "nav.inbox": "Inbox",
    "nav.invitations": "Consultation invitations",
    "nav.guidance": "Guidance queue",
    "nav.proposals": "Proposals",
    "nav.secondments": "Secondments",
    "nav.admin": "Administration",
    "nav.sign_out": "Sign out",
    "nav.signed_in_as": "Signed in as {name} ({role})",

    "sign_in.title": "Sign in",
    "sign_in.intro": "Sign in with the email address and password the RSO gave you.",
    "sign_in.email": "Email address",
    "sign_in.password": "Password",
    "sign_in.submit": "Sign in",
    "sign_in.failed": "The email address or the password is not right.",
    "sign_in.signed_out": "You have signed out.",

    "role.member_state": "member state official",
    "role.co_manager": "Co-Manager",
    "role.stakeholder": "stakeholder",
    "role.co_chair": "Co-Chair",
    "role.admin": "administrator",

    "home.member_state": "My proposals and nominations",
    "home.co_manager": "Inbox",
    "home.stakeholder": "Consultation invitations",
    "home.co_chair": "Guidance queue",
    "home.admin": "Administration",

    "my.proposals": "My proposals",
    "my.nominations": "My nominations",
    "my.none_proposals": "No proposals yet.",
    "my.none_nominations": "No nominations yet.",
    "list.proposals": "Proposals",
    "list.secondments": "Secondments",
    "list.reference": "Reference",
    "list.title": "Title",
    "list.nominee": "Nominee",
    "list.state": "State",
    "list.updated": "Last change",
    "list.member_state": "Member state",
    "list.empty": "Nothing here.",

    "inbox.counts": "{open} open, {overdue} overdue",
    "inbox.empty": "No open tasks. Well done.",
    "inbox.empty.stakeholder": "No consultation is waiting for your response.",
    "inbox.empty.co_chair": "No proposal is waiting for the Co-Chairs' guidance.",
    "inbox.item": "Item",
    "inbox.task": "Task",
    "inbox.due": "Due",
    "inbox.overdue": "overdue",
    "inbox.assignee": "For",
    "inbox.open": "Open",

    "task.review": "Review",
    "task.consultation": "Consultation",
    "task.guidance": "Guidance",
    "task.decision": "Decision on a nomination",
    "task.extension": "Decision on an extension",
    "task.final_report": "Final report",

    "item.proposal": "Proposal",
    "item.secondment": "Nomination",
    "item.state": "State",
    "item.details": "Details",
    "item.timeline": "Timeline",
    "item.diagram": "Where it is in the lifecycle",
    "item.diagram_text": "The lifecycle as text",
    "item.actions": "What you can do",
    "item.no_actions": "Nothing is waiting for you on this item.",
    "item.open_tasks": "Waiting for",
    "item.reviews": "Co-Managers' recommendations",
    "item.responses": "Stakeholders' responses",
    "item.none_yet": "None yet.",
    "item.edit": "Edit the draft",
    "item.round": "round {round}",
    "item.checklist": "Pre-deployment checklist",
    "item.checklist_done": "done {at} by {by}",
    "item.checklist_open": "open",
    "item.extension_request": "Extension requested",
    "item.final_report": "Final report",
    "item.done": "Done: {action}.",
    "item.saved": "Saved as a draft.",
    "item.submitted": "Submitted.",
    "item.conflict": "This changed meanwhile, so nothing was done: {detail}",
    "item.not_now": "That cannot be done now: {detail}",
    "item.fix_below": "Nothing was saved: please correct the fields marked below.",

    "timeline.by": "by {actor}",
    "timeline.moved": "{from_state} → {to_state}",
    "timeline.system": "RSO Workflow (automatic)",

    "form.new_proposal": "New proposal",
    "form.edit_proposal": "Edit proposal {reference}",
    "form.new_secondment": "Nominate a secondee",
    "form.edit_secondment": "Edit nomination {reference}",
    "form.save_draft": "Save as draft",
    "form.save_submit": "Save and submit",
    "form.required": "required",
    "form.optional": "optional",
    "form.errors_title": "Please correct these:",
    "form.list_help": "Separate them with commas.",
    "form.cancel": "Cancel",
    "form.choose": "Choose…",

    "admin.users": "Users",
    "admin.add_user": "Add a user",
    "admin.user_added": "Added {email}.",
    "admin.emails": "Captured emails",
    "admin.emails_none": "No email captured (with an SMTP server configured, emails are sent, not captured).",
    "admin.outbox": "Outbox",
    "admin.outbox_failed": "Failed for good",
    "admin.email": "Email",
    "admin.name": "Name",
    "admin.role": "Role",
    "admin.seat": "Member state, country or organisation",
    "admin.active": "Active",
    "admin.to": "To",
    "admin.subject": "Subject",
    "admin.when": "When",
    "admin.status": "Status",
    "admin.count": "Emails",
    "admin.error": "Last error",

    "error.title": "Something is not right",
    "error.404": "This page does not exist, or it is not one you may see.",
    "error.403": "You may not do that.",
    "error.csrf": "This form has expired. Go back, reload the page and try again.",
    "error.500": "Something went wrong on our side; nothing was changed. The error has been logged.",
    "error.home": "Go to your home page",

    "yes": "yes",
    "no": "no",
}

# The names of things: states, actions, fields and choices.
EN.update({f"state.{k}": v for k, v in {
    "draft": "Draft", "co_manager_review": "Co-Manager review", "revision_requested": "Revision requested",
    "stakeholder_consultation": "Stakeholder consultation", "co_chair_guidance": "Co-Chairs' guidance",
    "approved": "Approved", "declined": "Declined", "withdrawn": "Withdrawn", "under_review": "Under review",
    "info_requested": "Information requested", "arranging": "Arranging", "pre_deployment": "Pre-deployment",
    "active": "Active", "concluding": "Concluding", "completed": "Completed", "terminated": "Terminated"}.items()})
EN.update({f"action.{k}": v for k, v in {
    "create": "Created", "edit": "Edited", "submit": "Submit", "review": "Record your recommendation",
    "open_consultation": "Open a stakeholder consultation", "refer_to_co_chairs": "Refer to the Co-Chairs",
    "respond": "Give your response", "close_consultation": "Close the consultation",
    "give_guidance": "Give guidance", "resubmit": "Resubmit", "withdraw": "Withdraw",
    "decide": "Decide on the nomination", "confirm_arrangement": "Confirm the arrangement",
    "complete_item": "Tick off a checklist item", "start": "Start the secondment",
    "request_extension": "Request an extension", "decide_extension": "Decide on the extension",
    "begin_handover": "Begin the handover", "submit_final_report": "Submit the final report",
    "complete": "Complete the secondment", "terminate": "Terminate the secondment"}.items()})
EN.update({f"history.{k}": v for k, v in {
    "create": "Created", "edit": "Edited", "submit": "Submitted", "review": "Recommendation recorded",
    "open_consultation": "Consultation opened", "refer_to_co_chairs": "Referred to the Co-Chairs",
    "respond": "Response given", "close_consultation": "Consultation closed", "give_guidance": "Guidance given",
    "resubmit": "Resubmitted", "withdraw": "Withdrawn", "decide": "Nomination decided",
    "confirm_arrangement": "Arrangement confirmed", "complete_item": "Checklist item ticked off",
    "start": "Secondment started", "request_extension": "Extension requested", "decide_extension": "Extension decided",
    "begin_handover": "Handover begun", "submit_final_report": "Final report submitted",
    "complete": "Secondment completed", "terminate": "Secondment terminated"}.items()})
EN.update({f"field.{k}": v for k, v in {
    "title": "Title", "summary": "Summary", "engagement_type": "Type of engagement", "scope": "Scope",
    "thematic_areas": "Thematic areas", "partner_member_states": "Partner member states", "budget": "Budget",
    "amount": "Amount", "currency": "Currency (ISO code, e.g. USD)", "proposed_start": "Proposed start",
    "proposed_end": "Proposed end", "comment": "Comment", "recommendation": "Recommendation",
    "stakeholders": "Stakeholders to consult", "due_date": "Responses due by", "position": "Position",
    "decision": "Decision", "conditions": "Conditions", "changes": "Changes",
    "nominee": "Nominee", "full_name": "Full name", "email": "Email address", "position_title": "Position",
    "agency": "Agency", "proposed_role": "Proposed role at the RSO",
    "proposal_reference": "Approved proposal it serves (reference, optional)", "start_date": "Start date",
    "end_date": "End date", "funding": "Funding", "salary": "Salary paid by", "allowances": "Allowances paid by",
    "languages": "Languages", "justification": "Justification", "arrangement_signed_on": "Arrangement signed on",
    "item": "Checklist item", "new_end_date": "New end date", "report": "Report",
    "password": "Password", "name": "Name", "role": "Role", "member_state": "Member state (code, e.g. THA)",
    "country": "Country (AUS or IDN)", "organisation": "Organisation"}.items()})
EN.update({f"choice.{k}": v for k, v in {
    "collaboration": "Collaboration", "new_project": "New project", "funding_support": "Funding support",
    "in_kind_support": "In-kind support", "bilateral": "Bilateral", "multilateral": "Multilateral",
    "regional": "Regional", "people_smuggling": "People smuggling", "trafficking_in_persons": "Trafficking in persons",
    "irregular_migration": "Irregular migration", "transnational_crime": "Transnational crime",
    "technology_misuse": "Misuse of technology", "endorse": "Endorse", "revise": "Ask for a revision",
    "decline": "Decline", "support": "Support", "support_with_conditions": "Support with conditions",
    "concerns": "Concerns", "object": "Object", "approve": "Approve",
    "approve_with_conditions": "Approve with conditions", "return_to_co_managers": "Return to the Co-Managers",
    "accept": "Accept", "request_info": "Ask for more information", "sending_state": "The sending state",
    "rso": "The RSO", "shared": "Shared", "security_clearance": "Security clearance", "visa": "Visa",
    "travel": "Travel", "insurance": "Insurance", "induction_plan": "Induction plan",
    "member_state": "Member state official", "co_manager": "Co-Manager", "stakeholder": "Stakeholder",
    "co_chair": "Co-Chair", "admin": "Administrator"}.items()})


def t(key: str, **values) -> str:
    """The English text of `key`, with `values` filled in; a missing key shows as itself, so a
    gap is visible on the page (and a test finds it)."""
    text = EN.get(key, key)
    return text.format(**values) if values else text


def label(kind: str, value: str | None) -> str:
    """The name of a state, action, field or choice: `label("state", "draft")` → "Draft"."""
    if value is None:
        return ""
    return EN.get(f"{kind}.{value}", value.replace("_", " ").capitalize())
