"""Demo data: a user of every role, proposals and secondments in every state, made through
the same service functions people use, so every item has a real history. Secondments that
started months ago were walked through their steps on a clock set back to those days."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import func, select

from services.config.calendar import add_months
from services.engine.models import User
from services.infra.uow import Services
from services.proposals import PROPOSALS
from services.secondments import SECONDMENTS
from services import conversation
from services.accounts.users import create_user

DEMO_PASSWORD = "rso-demo-2026"

STAKEHOLDERS = [
    ("wg-tip@stakeholders.example", "Working Group on Trafficking in Persons"),
    ("wg-dcn@stakeholders.example", "Working Group on the Disruption of Criminal Networks Involved in "
                                    "People Smuggling and Trafficking in Persons"),
    ("teg-rr@stakeholders.example", "Technical Experts Group on Returns and Reintegration"),
    ("tfpp@stakeholders.example", "Task Force on Planning and Preparedness"),
    ("gabf@stakeholders.example", "Bali Process Government and Business Forum"),
    ("iom@stakeholders.example", "IOM"),
    ("unhcr@stakeholders.example", "UNHCR"),
    ("unodc@stakeholders.example", "UNODC"),
    ("ilo@stakeholders.example", "ILO"),
]

USERS = [
    dict(email="admin@rso.example", role="admin", name="RSO System Administrator"),
    dict(email="co-manager.aus@rso.example", role="co_manager", country="AUS", name="Australian Co-Manager"),
    dict(email="co-manager.idn@rso.example", role="co_manager", country="IDN", name="Indonesian Co-Manager"),
    dict(email="co-chair.aus@rso.example", role="co_chair", country="AUS", name="Australian Co-Chair's Senior Official"),
    dict(email="co-chair.idn@rso.example", role="co_chair", country="IDN", name="Indonesian Co-Chair's Senior Official"),
    dict(email="official.tha@members.example", role="member_state", member_state="THA", name="Thailand Focal Point"),
    dict(email="official.phl@members.example", role="member_state", member_state="PHL", name="Philippines Focal Point"),
    dict(email="official.vnm@members.example", role="member_state", member_state="VNM", name="Viet Nam Focal Point"),
    dict(email="official.lka@members.example", role="member_state", member_state="LKA", name="Sri Lanka Focal Point"),
    dict(email="official.nzl@members.example", role="member_state", member_state="NZL", name="New Zealand Focal Point"),
    *[dict(email=e, role="stakeholder", organisation=o, name=o if len(o) < 10 else o.split(" on ")[0] + " secretariat")
      for e, o in STAKEHOLDERS],
]

DEMO_PROPOSALS = [
    # (owner, title, fields, the path it takes)
    ("official.tha@members.example", "Regional training on victim identification in fisheries",
     dict(engagement_type="new_project", scope="regional", thematic_areas=["trafficking_in_persons"],
          partner_member_states=["KHM", "MMR", "LAO"], budget={"amount": "180000", "currency": "USD"},
          proposed_start=date(2027, 3, 1), proposed_end=date(2027, 12, 31)), "draft"),
    ("official.phl@members.example", "Online recruitment fraud: a shared alert protocol",
     dict(engagement_type="collaboration", scope="multilateral",
          thematic_areas=["technology_misuse", "trafficking_in_persons"], partner_member_states=["IDN", "MYS"]),
     "co_manager_review"),
    ("official.vnm@members.example", "Returns and reintegration case management pilot",
     dict(engagement_type="funding_support", scope="bilateral", thematic_areas=["irregular_migration"],
          partner_member_states=["AUS"], budget={"amount": "95000", "currency": "AUD"}), "revision_requested"),
    ("official.lka@members.example", "Maritime people smuggling: information sharing arrangements",
     dict(engagement_type="collaboration", scope="regional", thematic_areas=["people_smuggling", "transnational_crime"]),
     "stakeholder_consultation"),
    ("official.nzl@members.example", "Policy dialogue on labour migration pathways",
     dict(engagement_type="in_kind_support", scope="regional", thematic_areas=["irregular_migration"]),
     "co_chair_guidance"),
    ("official.tha@members.example", "Financial investigation toolkit for trafficking cases",
     dict(engagement_type="new_project", scope="multilateral", thematic_areas=["trafficking_in_persons",
                                                                                 "transnational_crime"],
          budget={"amount": "250000", "currency": "THB"}), "approved"),
    ("official.phl@members.example", "Study visit on border management technology",
     dict(engagement_type="funding_support", scope="bilateral", thematic_areas=["technology_misuse"]), "declined"),
    ("official.vnm@members.example", "Joint awareness campaign on safe migration",
     dict(engagement_type="collaboration", scope="bilateral", thematic_areas=["irregular_migration"]), "withdrawn"),
]


async def _user(svc: Services, email: str) -> User:
    async with svc.uow(write=False) as uow:
        return (await uow.session.exec(select(User).where(User.email == email))).one()


async def _act(svc: Services, proposal_id: int, user: User, action: str, **args):
    return await PROPOSALS.act(svc, user=user, id_or_ref=proposal_id, action=action, arguments=args)


async def load_demo(svc: Services) -> bool:
    """Load the demo users and proposals. Returns False (and changes nothing) when the
    database already has users."""
    async with svc.uow(write=False) as uow:
        if await uow.session.scalar(select(func.count()).select_from(User)):
            return False
    for u in USERS:
        await create_user(svc, password=DEMO_PASSWORD, **u)
    cm_aus, cm_idn = await _user(svc, "co-manager.aus@rso.example"), await _user(svc, "co-manager.idn@rso.example")
    chair = await _user(svc, "co-chair.aus@rso.example")
    tip, iom = await _user(svc, "wg-tip@stakeholders.example"), await _user(svc, "iom@stakeholders.example")

    approved: dict[str, str] = {}
    for owner_email, title, fields, target in DEMO_PROPOSALS:
        owner = await _user(svc, owner_email)
        data = {"title": title, "summary": f"{title}. Submitted by {owner.name} for the RSO's consideration, "
                "with the objectives, activities and expected results set out in the concept note.",
                **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in fields.items()}}
        p, _ = await PROPOSALS.create(svc, user=owner, data=data)
        do = functools.partial(_act, svc, p.id)
        if target == "approved":
            approved[owner.member_state] = p.reference

        if target == "draft":
            continue
        if target == "withdrawn":
            await do(owner, "submit")
            await do(owner, "withdraw", comment="Superseded by a broader national campaign.")
            continue
        await do(owner, "submit")
        if target == "co_manager_review":
            # the conversation around an item: the co-manager asks, the member state answers
            await conversation.comment(svc, PROPOSALS, user=cm_idn, id_or_ref=p.reference, data={
                "body": "Which agencies would take part, and is there a national focal point?"})
            await conversation.comment(svc, PROPOSALS, user=owner, id_or_ref=p.reference, data={
                "body": "The cybercrime unit and the immigration bureau; the focal point is our RSO liaison officer."})
            await conversation.comment(svc, PROPOSALS, user=cm_aus, id_or_ref=p.reference, data={
                "body": "Worth pairing with the 2027 technology workshop.", "visibility": "internal"})
            await do(cm_aus, "review", recommendation="endorse", comment="Fits the RSO's technology workstream.")
            continue
        if target == "revision_requested":
            await do(cm_aus, "review", recommendation="revise", comment="Please add a budget breakdown by activity.")
            await do(cm_idn, "review", recommendation="endorse")
            continue
        if target == "declined":
            await do(cm_aus, "review", recommendation="decline", comment="Outside the RSO's mandate.")
            await do(cm_idn, "review", recommendation="decline", comment="Better placed with a bilateral donor.")
            continue
        if target == "co_chair_guidance":
            await do(cm_aus, "review", recommendation="endorse", comment="A timely dialogue.")
            await do(cm_idn, "review", recommendation="decline", comment="Overlaps with existing forums.")
            continue
        await do(cm_aus, "review", recommendation="endorse")
        await do(cm_idn, "review", recommendation="endorse")
        await do(cm_aus, "open_consultation", stakeholders=[tip.email, iom.email],
                 comment="Your views on feasibility and overlaps are welcome.")
        await do(tip, "respond", position="support_with_conditions",
                 comment="Support, provided the toolkit is piloted with two member states first.")
        if target == "stakeholder_consultation":
            continue
        await do(iom, "respond", position="support", comment="IOM can contribute trainers.")
        await do(chair, "give_guidance", decision="approve_with_conditions",
                 conditions="Pilot with two member states before regional roll-out.",
                 comment="Approved on behalf of both Co-Chairs.")
    await _load_secondments(svc, approved, cm_aus, cm_idn)
    return True


SECONDMENTS_DEMO = [
    # (owner, nominee, position, agency, role, target state, start in days from today, months)
    ("official.tha@members.example", "Pimchanok Srisuk", "Police Lieutenant Colonel", "Royal Thai Police",
     "Financial investigation adviser", "active", -60, 6),
    ("official.phl@members.example", "Maria Cristina Dela Cruz", "Senior Labor Attaché",
     "Department of Migrant Workers", "Labour migration policy officer", "under_review", 75, 5),
    ("official.vnm@members.example", "Tran Minh Duc", "Deputy Director", "Immigration Department",
     "Border management programme officer", "info_requested", 90, 4),
    ("official.lka@members.example", "Nadeesha Perera", "Assistant Superintendent of Police", "Sri Lanka Police",
     "People smuggling analyst", "arranging", 60, 6),
    ("official.nzl@members.example", "Aroha Whitmore", "Senior Policy Adviser", "Immigration New Zealand",
     "Returns and reintegration adviser", "pre_deployment", 20, 4),
    ("official.tha@members.example", "Kittipong Chaiyaporn", "Senior Prosecutor", "Office of the Attorney General",
     "Legal frameworks officer", "draft", 120, 6),
    ("official.phl@members.example", "Jose Ramon Villanueva", "Chief Investigator", "National Bureau of Investigation",
     "Cybercrime and online scams adviser", "concluding", -150, 6),
    ("official.vnm@members.example", "Le Thi Hoa", "Head of Division", "Ministry of Labour", "Victim support officer",
     "completed", -300, 4),
    ("official.lka@members.example", "Ruwan Jayasinghe", "Director", "Department of Immigration and Emigration",
     "Data and research officer", "declined", 100, 5),
    ("official.nzl@members.example", "Samuel Tane", "Policy Analyst", "Ministry of Business, Innovation and "
     "Employment", "Policy officer", "withdrawn", 110, 4),
    ("official.tha@members.example", "Suda Rattanakorn", "Social Development Officer", "Ministry of Social "
     "Development and Human Security", "Protection officer", "terminated", -90, 6),
]


@contextmanager
def _clock_at(svc: Services, day: date):
    """Act as on `day` (09:00 in Bangkok, or now if that is later than now: a demo loaded at
    02:00 must not show 09:00 today): how the demo gives old secondments a past."""
    real = svc.clock
    when = min(datetime.combine(day, time(9, 0), tzinfo=svc.timezone).astimezone(UTC), real())
    svc.clock = lambda: when
    try:
        yield
    finally:
        svc.clock = real


async def _load_secondments(svc: Services, approved: dict[str, str], cm_aus: User, cm_idn: User) -> None:
    today = svc.calendar.today(svc.clock())
    for owner_email, name, position, agency, role, target, offset, months in SECONDMENTS_DEMO:
        owner = await _user(svc, owner_email)
        start = today + timedelta(days=offset)
        end = add_months(start, months)
        began = min(today, start - timedelta(days=70))  # when the nomination was made
        data = {"nominee": {"full_name": name, "email": name.lower().replace(" ", ".") + "@members.example",
                            "position": position, "agency": agency},
                "proposed_role": role, "start_date": start.isoformat(), "end_date": end.isoformat(),
                "funding": {"salary": "sending_state", "allowances": "rso" if months > 4 else "shared"},
                "languages": ["English"], "justification": f"{name} brings {agency}'s operational experience to the "
                                                            f"RSO's work as {role.lower()}."}
        if owner.member_state in approved and target == "active":
            data["proposal_reference"] = approved[owner.member_state]

        async def do(user, action, **args):
            return await SECONDMENTS.act(svc, user=user, id_or_ref=s.id, action=action, arguments=args)

        with _clock_at(svc, began):
            s, _ = await SECONDMENTS.create(svc, user=owner, data=data)
            if target == "draft":
                continue
            await do(owner, "submit")
            if target == "withdrawn":
                await do(owner, "withdraw", comment="The nominee has been reassigned at home.")
                continue
            if target == "under_review":
                continue
            if target == "info_requested":
                await do(cm_idn, "decide", decision="request_info",
                         comment="Please confirm the nominee's English proficiency and the agency's release letter.")
                continue
            if target == "declined":
                await do(cm_aus, "decide", decision="decline",
                         comment="The RSO has no research placement in the period requested.")
                continue
            await do(cm_aus, "decide", decision="accept", comment="A welcome fit with the RSO's workplan.")
            if target == "arranging":
                continue
        with _clock_at(svc, min(today, start - timedelta(days=30))):
            await do(cm_idn, "confirm_arrangement", arrangement_signed_on=min(today, start - timedelta(days=30)).isoformat(),
                     start_date=start.isoformat(), end_date=end.isoformat())
            await do(owner, "complete_item", item="security_clearance")
            await do(cm_aus, "complete_item", item="induction_plan")
            if target == "pre_deployment":
                continue
            for item in ("visa", "travel", "insurance"):
                await do(owner, "complete_item", item=item)
        with _clock_at(svc, start):
            await do(cm_aus, "start", comment="Welcome to the RSO.")
        if target == "active":
            await do(owner, "request_extension", new_end_date=add_months(start, months + 2).isoformat(),
                     justification="The financial investigation toolkit pilot runs two months longer than planned.")
            continue
        if target == "terminated":
            await do(cm_idn, "terminate", comment="Recalled by the sending agency for a national emergency.")
            continue
        with _clock_at(svc, min(today, end - timedelta(days=30))):
            await do(cm_aus, "begin_handover", comment="Handover of the scams casework to the RSO team.")
        if target == "concluding":
            continue
        with _clock_at(svc, end + timedelta(days=5)):
            await do(owner, "submit_final_report", report=f"Final report of {name}'s secondment: objectives met; "
                                                          "victim support guidelines drafted and adopted.")
            await do(cm_idn, "complete", comment="With thanks to the Ministry of Labour.")
