"""Demo data: a user of every role and proposals in every state, made through the same
service functions people use, so every item has a real history."""
from __future__ import annotations

import functools
from datetime import date

from sqlmodel import func, select

from services import proposals
from services.models import User
from services.uow import Services
from services.users import create_user

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

PROPOSALS = [
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
    return await proposals.act(svc, user=user, id_or_ref=proposal_id, action=action, arguments=args)


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

    for owner_email, title, fields, target in PROPOSALS:
        owner = await _user(svc, owner_email)
        data = {"title": title, "summary": f"{title}. Submitted by {owner.name} for the RSO's consideration, "
                "with the objectives, activities and expected results set out in the concept note.",
                **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in fields.items()}}
        p, _ = await proposals.create_proposal(svc, user=owner, data=data)
        do = functools.partial(_act, svc, p.id)

        if target == "draft":
            continue
        if target == "withdrawn":
            await do(owner, "submit")
            await do(owner, "withdraw", comment="Superseded by a broader national campaign.")
            continue
        await do(owner, "submit")
        if target == "co_manager_review":
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
    return True
