"""Emails: who receives what for each event, both parts and the link right; an outage delays
mail but loses none; nothing is sent twice. Against a real SMTP server on loopback."""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from notifications.render import render, template_names
from rso.app import create_app
from services.infra.db import make_sync_engine
from services.mail import deliver
from services.wiring import build_services, mail_settings
from tests.conftest import ROSTER, Api

pytestmark = pytest.mark.dates  # what is right depends on the day: run again as of others

LINK = "https://workflow.rso.example/proposals/"


def deliver_pass(settings, *, at: datetime | None = None, **kw):
    """One delivery pass, as `rso deliver` makes it (at the moment `at`, for retries)."""
    async def run():
        svc = build_services(settings)
        if at is not None:
            svc.clock = lambda: at
        try:
            return await deliver(svc, mail_settings(settings), **kw)
        finally:
            await svc.dispose()
    return asyncio.run(run())


@pytest.fixture
def mail_api(settings, mail_settings_for, clock):
    settings = mail_settings_for(settings)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Api(client, clock), settings


def parts(message) -> tuple[str, str]:
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


def subjects(inbox, who) -> list[str]:
    return [m["Subject"].strip() for m in inbox.to(ROSTER[who]["email"])]


def test_each_event_emails_exactly_the_people_it_concerns(mail_api, smtp_inbox):
    api, settings = mail_api
    ref = api.create()["reference"]
    assert deliver_pass(settings).claimed == 0  # a draft emails nobody
    api.act("tha", ref, "submit")
    assert deliver_pass(settings).sent == 3
    assert subjects(smtp_inbox, "tha") == [f"{ref} received: Regional workshop on victim identification"]
    assert subjects(smtp_inbox, "cm_aus") == [f"Review requested: {ref} Regional workshop on victim identification"]
    assert len(subjects(smtp_inbox, "cm_idn")) == 1
    assert "Australian Co-Manager" in parts(smtp_inbox.to(ROSTER["cm_aus"]["email"])[0])[0]

    smtp_inbox.messages.clear()
    api.act("cm_aus", ref, "review", recommendation="endorse")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    api.act("cm_aus", ref, "open_consultation", stakeholders=[ROSTER["iom"]["email"], ROSTER["tip"]["email"]])
    deliver_pass(settings)
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_inbox.messages) == [
        ROSTER["iom"]["email"], ROSTER["tip"]["email"]]
    assert subjects(smtp_inbox, "iom")[0].startswith("Consultation invitation")

    smtp_inbox.messages.clear()
    api.act("iom", ref, "respond", position="support")
    api.act("tip", ref, "respond", position="support")
    deliver_pass(settings)
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_inbox.messages) == sorted(
        [ROSTER["chair_aus"]["email"], ROSTER["chair_idn"]["email"]])
    assert subjects(smtp_inbox, "chair_aus")[0].startswith("Guidance requested")

    smtp_inbox.messages.clear()
    api.act("chair_idn", ref, "give_guidance", decision="approve_with_conditions",
            conditions="Report to the Co-Chairs after the first workshop.", comment="Agreed by both Co-Chairs.")
    deliver_pass(settings)
    (approved,) = smtp_inbox.messages
    assert approved["To"].addresses[0].addr_spec == ROSTER["tha"]["email"]
    assert approved["Subject"].strip() == f"{ref} approved with conditions: Regional workshop on victim identification"
    text, html = parts(approved)
    for body in (text, html):
        assert "Report to the Co-Chairs after the first workshop." in body
        assert LINK + ref in body


def test_a_revision_request_tells_the_submitter_why(mail_api, smtp_inbox):
    api, settings = mail_api
    ref = api.create()["reference"]
    api.act("tha2", ref, "submit")  # the second official submits: they are told
    api.act("cm_aus", ref, "review", recommendation="revise", comment="Please break the budget down by activity.")
    api.act("cm_idn", ref, "review", recommendation="endorse")
    deliver_pass(settings)
    decision = [m for m in smtp_inbox.to(ROSTER["tha2"]["email"]) if "revision requested" in m["Subject"]]
    assert len(decision) == 1 and subjects(smtp_inbox, "tha") == []
    assert "Please break the budget down by activity." in parts(decision[0])[0]


def test_both_parts_the_link_and_a_stable_message_id(mail_api, smtp_inbox):
    api, settings = mail_api
    ref = api.create(title="Maritime <data> & information sharing")["reference"]
    api.act("tha", ref, "submit")
    deliver_pass(settings)
    (ack,) = smtp_inbox.to(ROSTER["tha"]["email"])
    text, html = parts(ack)
    assert "Maritime <data> & information sharing" in text
    assert "Maritime &lt;data&gt; &amp; information sharing" in html  # autoescaped
    assert LINK + ref in text and f'href="{LINK}{ref}"' in html
    assert ack["Message-ID"].startswith("<") and ack["Message-ID"].endswith("@rso.baliprocess.net>")
    review = smtp_inbox.to(ROSTER["cm_aus"]["email"])[0]
    due = parts(review)[0]
    assert "Due: " in due and "(Bangkok time)" in due


def test_titles_in_any_script_arrive_intact_in_subject_and_body(mail_api, smtp_inbox):
    api, settings = mail_api
    title = ("Hội thảo khu vực về nhận diện nạn nhân — Lokakarya regional tentang identifikasi korban "
             "perdagangan orang, Đà Nẵng")
    ref = api.create(title=title)["reference"]
    api.act("tha", ref, "submit")
    deliver_pass(settings)
    (ack,) = smtp_inbox.to(ROSTER["tha"]["email"])
    assert ack["Subject"] == f"{ref} received: {title}"
    assert all(len(line) <= 78 for line in ack.raw.splitlines())  # folded, never one endless line
    text, html = parts(ack)
    assert title in text and title in html


def test_a_refused_change_emails_nobody(mail_api, smtp_inbox):
    api, settings = mail_api
    p = api.create(summary="")
    assert api.post("tha", f"/proposals/{p['id']}/actions/submit", {}).status_code == 422
    assert deliver_pass(settings).claimed == 0 and smtp_inbox.messages == []


def test_an_outage_delays_mail_and_loses_none_and_nothing_is_sent_twice(mail_api, smtp_inbox):
    api, settings = mail_api
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    smtp_inbox.stop()
    now = api.clock()
    down = deliver_pass(settings, at=now)
    assert (down.claimed, down.sent, down.retrying) == (3, 0, 3)
    assert deliver_pass(settings, at=now + timedelta(seconds=5)).claimed == 0  # backing off
    smtp_inbox.start()
    smtp_inbox.reply = "451 4.3.0 Mailbox busy, try later"
    busy = deliver_pass(settings, at=now + timedelta(minutes=2))
    assert busy.retrying == 3 and smtp_inbox.messages == []
    smtp_inbox.reply = None
    back = deliver_pass(settings, at=now + timedelta(hours=1))
    assert back.sent == 3 and len(smtp_inbox.messages) == 3
    assert deliver_pass(settings, at=now + timedelta(days=1)).claimed == 0
    assert len(smtp_inbox.messages) == 3


def test_a_message_refused_too_often_is_recorded_as_failed_with_the_servers_reply(mail_api, smtp_inbox, database_url):
    api, settings = mail_api
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    smtp_inbox.reply = "550 5.1.1 Mailbox unavailable"
    t = api.clock()
    for i in range(8):
        deliver_pass(settings, at=t + timedelta(hours=2 * i))
    import sqlalchemy as sa
    from services.infra.db import make_sync_engine
    engine = make_sync_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT status, attempts, last_error FROM outbox_messages")).all()
    engine.dispose()
    assert [(r.status, r.attempts) for r in rows] == [("failed", 8)] * 3
    assert all("550" in r.last_error and "Mailbox unavailable" in r.last_error for r in rows)


@pytest.mark.postgresql_only
def test_two_delivery_passes_at_once_send_each_message_once(mail_api, smtp_inbox):
    api, settings = mail_api
    for _ in range(6):
        api.act("tha", api.create()["reference"], "submit")

    async def both():
        svcs = [build_services(settings), build_services(settings)]
        try:
            return await asyncio.gather(*(deliver(s, mail_settings(settings), batch=5) for s in svcs),
                                        *(deliver(s, mail_settings(settings), batch=5) for s in svcs))
        finally:
            for s in svcs:
                await s.dispose()

    reports = asyncio.run(both())
    assert sum(r.claimed for r in reports) == 18  # four passes of five: every row claimed by exactly one
    ids = [m["Message-ID"] for m in smtp_inbox.messages]
    assert len(ids) == 18 and len(set(ids)) == 18


def test_without_an_smtp_server_emails_are_captured_for_the_admin(api, settings):
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    assert deliver_pass(settings).captured == 3
    emails = api.get("admin", "/admin/emails").json()
    assert sorted(e["to"] for e in emails) == sorted([ROSTER["tha"]["email"], ROSTER["cm_aus"]["email"],
                                                      ROSTER["cm_idn"]["email"]])
    assert all(e["html"].startswith("<!DOCTYPE html>") and LINK + ref in e["text"] for e in emails)
    assert api.get("cm_aus", "/admin/emails").status_code == 403


def test_the_running_service_delivers_by_itself_soon_after_a_commit(settings, mail_settings_for, smtp_inbox, clock):
    settings = mail_settings_for(settings).model_copy(update={"deliver_in_background": True})
    with TestClient(create_app(settings)) as client:
        api = Api(client, clock)
        ref = api.create()["reference"]
        api.act("tha", ref, "submit")
        deadline = time.monotonic() + 10
        while len(smtp_inbox.messages) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(smtp_inbox.messages) == 3


def test_at_rest_the_service_sleeps_and_a_commit_without_mail_does_not_wake_it(settings, clock):
    """The service's own deliverer passes over the outbox after a commit that wrote emails,
    then rests: its own commits, and changes that email nobody, do not wake it again."""
    settings = settings.model_copy(update={"deliver_in_background": True})
    with TestClient(create_app(settings, clock=clock)) as client:
        api, deliverer = Api(client, clock), client.app.state.deliverer
        deliverer.idle = 3600  # only a wake-up makes a pass in this test, not the timer
        ref = api.create()["reference"]
        api.act("tha", ref, "submit")  # three emails: one pass wakes up for them
        deadline = time.monotonic() + 10
        while len(api.get("admin", "/admin/emails").json()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(api.get("admin", "/admin/emails").json()) == 3
        woken = deliverer.passes
        api.patch("tha", f"/proposals/{api.create()['reference']}", {"summary": "An edit emails nobody."})
        time.sleep(1.0)  # an idle spell, shorter than the deliverer's timer
        assert deliverer.passes == woken, "the deliverer woke up with nothing to deliver"


@pytest.mark.parametrize("template", template_names())
def test_every_template_renders_in_both_parts_with_realistic_data(template):
    context = dict(recipient_name="Ms Siriporn K.", reference="RSO-P-2026-0042",
                   title="Regional training on victim identification in fisheries", member_state_name="Thailand",
                   link="https://workflow.rso.example/proposals/RSO-P-2026-0042", link_text="Open RSO-P-2026-0042",
                   task_sentence="A proposal awaits your review as the Australian Co-Manager of the RSO.",
                   due_date="Monday 7 December 2026", comment="Please note the partner states.",
                   decision_sentence="Your proposal has been approved.", conditions="Pilot with two member states.",
                   item_label="proposal", next_step="The two RSO Co-Managers will now review it.",
                   milestone_sentence="The secondment has started.",
                   delegation_sentence="Ms Jane Doe has named you to act for her from 7 to 18 December 2026.",
                   details=[("Start", "Monday 4 January 2027"), ("End", "Friday 30 April 2027")],
                   day="Tuesday 16 March 2027", count=1, overdue=1, author_name="Ms Jane Doe (Co-Manager, AUS)",
                   comment_sentence="Ms Jane Doe commented on a proposal of yours.",
                   body="Could you say more about the budget?\nThank you.",
                   tasks=[{"reference": "RSO-P-2026-0042", "title": "Regional training", "task": "co-manager review",
                           "due": "Mon 15 Mar 2027", "overdue": True}],
                   first="1 November 2026", last="30 November 2026",
                   figures=[{"figure": "Proposals received", "value": "12"}])
    r = render(template, subject="Subject line", **context)
    for body in (r.text, r.html):
        assert "Ms Siriporn K." in body and "RSO-P-2026-0042" in body
        assert "https://workflow.rso.example/proposals/RSO-P-2026-0042" in body
    assert r.html.startswith("<!DOCTYPE html>") and "<html" not in r.text


def test_a_delivery_pass_that_dies_after_claiming_leaves_its_rows_to_the_next_one(mail_api, smtp_inbox, database_url):
    import sqlalchemy as sa
    from services.infra.db import make_sync_engine
    api, settings = mail_api
    api.act("tha", api.create()["reference"], "submit")
    now = api.clock()
    # What a pass leaves when its process dies between claiming and recording: rows "sending".
    engine = make_sync_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE outbox_messages SET status = 'sending', claimed_until = :t"),
                     {"t": (now + timedelta(minutes=5)).replace(tzinfo=None) if database_url.startswith("sqlite")
                      else now + timedelta(minutes=5)})
    engine.dispose()
    assert deliver_pass(settings, at=now + timedelta(minutes=1)).claimed == 0  # still claimed: not sent twice
    assert deliver_pass(settings, at=now + timedelta(minutes=6)).sent == 3
    assert len(smtp_inbox.messages) == 3


def _self_signed(tmp_path):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)  # wall clock ok: TLS checks the certificate's validity against it
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the TLS case: it is TLS
@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_delivery_over_starttls_or_tls_with_a_login(settings, tmp_path, mode, clock):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from tests.conftest import SmtpInbox
    cert_file, key_file = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    logins = []

    def authenticator(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"rso", b"s3cret")
        logins.append(ok)
        return AuthResult(success=ok)

    inbox = SmtpInbox()
    kwargs = dict(authenticator=authenticator, auth_required=True)
    if mode == "starttls":
        kwargs.update(tls_context=server_tls, require_starttls=True)
    else:
        # The whole connection is TLS; aiosmtpd only counts STARTTLS as TLS when offering AUTH.
        kwargs.update(ssl_context=server_tls, auth_require_tls=False)
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **kwargs)
    controller.start()
    try:
        settings = settings.model_copy(update=dict(smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_tls=mode,
                                                   smtp_username="rso", smtp_password="s3cret",
                                                   smtp_ca_file=str(cert_file)))
        with TestClient(create_app(settings)) as client:
            api = Api(client, clock)
            api.act("tha", api.create()["reference"], "submit")
        report = deliver_pass(settings)
    finally:
        controller.stop()
    assert report.sent == 3, _errors(settings)
    assert len(inbox.messages) == 3 and logins and all(logins)


def _errors(settings):
    import sqlalchemy as sa
    from services.infra.db import make_sync_engine
    engine = make_sync_engine(settings.database_url)
    with engine.connect() as conn:
        errors = [r[0] for r in conn.execute(sa.text("SELECT last_error FROM outbox_messages"))]
    engine.dispose()
    return errors


def test_every_secondment_milestone_emails_the_people_it_concerns(mail_api, smtp_inbox):
    from tests.api.test_secondment_api import ALL_ITEMS, arrange

    api, settings = mail_api
    ref = api.nominate()["reference"]
    title = "Somchai Wongsakul, Trafficking in persons investigations adviser"

    def step(expected: dict[str, list[str]]):
        deliver_pass(settings)
        got = {who: sorted(subjects(smtp_inbox, who)) for who in ROSTER}
        assert {who: s for who, s in got.items() if s} == {who: sorted(s) for who, s in expected.items()}
        smtp_inbox.messages.clear()

    api.s_act("tha", ref, "submit")
    step({"tha": [f"{ref} received: {title}"], "cm_aus": [f"Decision requested: {ref} {title}"],
          "cm_idn": [f"Decision requested: {ref} {title}"]})
    api.s_act("cm_idn", ref, "decide", decision="accept", comment="A welcome fit with the workplan.")
    step({"tha": [f"{ref} accepted: {title}"]})
    arrange(api, ref)
    step({"tha": [f"{ref} arrangement confirmed: {title}"]})
    for item in ALL_ITEMS[:-1]:
        api.s_act("tha", ref, "complete_item", item=item)
    step({})
    api.s_act("cm_aus", ref, "complete_item", item=ALL_ITEMS[-1])
    done = f"{ref} pre-deployment checklist complete: {title}"
    step({"tha": [done], "cm_aus": [done], "cm_idn": [done]})
    api.s_act("cm_aus", ref, "start")
    step({"tha": [f"{ref} started: {title}"]})
    end = api.get("tha", f"/secondments/{ref}").json()["end_date"]
    from datetime import date, timedelta
    new_end = (date.fromisoformat(end) + timedelta(days=14)).isoformat()
    api.s_act("tha", ref, "request_extension", new_end_date=new_end, justification="The pilot runs longer.")
    step({"tha": [f"{ref} extension requested: {title}"], "cm_aus": [f"Extension decision requested: {ref} {title}"],
          "cm_idn": [f"Extension decision requested: {ref} {title}"]})
    api.s_act("cm_aus", ref, "decide_extension", decision="approve")
    deliver_pass(settings)
    (approved,) = smtp_inbox.to(ROSTER["tha"]["email"])
    assert approved["Subject"] == f"{ref} extension approved: {title}"
    assert date.fromisoformat(new_end).strftime("%-d %B %Y") in parts(approved)[0]
    smtp_inbox.messages.clear()
    api.s_act("cm_idn", ref, "begin_handover")
    begun = f"{ref} handover begun: {title}"
    asked = f"Final report requested: {ref} {title}"
    step({"tha": [begun, asked], "tha2": [asked], "cm_aus": [begun], "cm_idn": [begun]})
    api.s_act("tha2", ref, "submit_final_report", report="Objectives met.")
    received = f"{ref} final report received: {title}"
    step({"tha": [received], "cm_aus": [received], "cm_idn": [received]})
    api.s_act("cm_aus", ref, "complete")
    completed = f"{ref} completed: {title}"
    step({"tha": [completed], "cm_aus": [completed], "cm_idn": [completed]})


@pytest.mark.parametrize("decision, word", [("decline", "declined"), ("request_info", "information requested")])
def test_a_nomination_decision_tells_the_member_state_why(mail_api, smtp_inbox, decision, word):
    api, settings = mail_api
    ref = api.nominate()["reference"]
    api.s_act("tha2", ref, "submit")
    deliver_pass(settings)
    smtp_inbox.messages.clear()
    api.s_act("cm_aus", ref, "decide", decision=decision, comment="No placement is open in that period.")
    deliver_pass(settings)
    (told,) = smtp_inbox.messages
    assert told["To"].addresses[0].addr_spec == ROSTER["tha2"]["email"] and word in told["Subject"]
    text, html = parts(told)
    for body in (text, html):
        assert "No placement is open in that period." in body
        assert f"https://workflow.rso.example/secondments/{ref}" in body


def test_a_withdrawal_or_termination_tells_the_member_state_and_the_co_managers(mail_api, smtp_inbox):
    from tests.api.test_secondment_api import to_active

    api, settings = mail_api
    ref = api.nominate()["reference"]
    to_active(api, ref)
    deliver_pass(settings)
    smtp_inbox.messages.clear()
    api.s_act("cm_idn", ref, "terminate", comment="Recalled by the sending agency.")
    deliver_pass(settings)
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_inbox.messages) == sorted(
        ROSTER[w]["email"] for w in ("tha", "cm_aus", "cm_idn"))
    assert all("terminated" in m["Subject"] and "Recalled by the sending agency." in parts(m)[0]
               for m in smtp_inbox.messages)


def test_withdrawing_a_proposal_tells_its_submitter_and_the_co_managers_but_a_draft_tells_nobody(mail_api, smtp_inbox):
    api, settings = mail_api
    ref = api.create()["reference"]
    api.act("tha", ref, "submit")
    deliver_pass(settings)
    smtp_inbox.messages.clear()
    api.act("tha", ref, "withdraw", comment="Funding found elsewhere.")
    deliver_pass(settings)
    got = {m["To"].addresses[0].addr_spec: m for m in smtp_inbox.messages}
    assert sorted(got) == sorted(ROSTER[w]["email"] for w in ("tha", "cm_aus", "cm_idn"))
    for m in got.values():
        assert m["Subject"] == f"{ref} withdrawn: Regional workshop on victim identification"
        assert "withdrawn by the member state" in parts(m)[0] and "Funding found elsewhere." in parts(m)[0]
    smtp_inbox.messages.clear()
    draft = api.create(title="Never sent")["reference"]
    api.act("tha", draft, "withdraw", comment="Changed our mind.")
    assert deliver_pass(settings).claimed == 0  # the RSO never received it; its author knows


def test_each_resubmission_of_a_nomination_is_acknowledged_with_its_own_round(mail_api, smtp_inbox):
    api, settings = mail_api
    ref = api.nominate()["reference"]
    api.s_act("tha", ref, "submit")
    for round_ in (2, 3):
        api.s_act("cm_aus", ref, "decide", decision="request_info", comment="Which languages?")
        deliver_pass(settings)
        smtp_inbox.messages.clear()
        assert api.s_act("tha", ref, "resubmit", comment="Thai and English.")["round"] == round_
        deliver_pass(settings)
        assert subjects(smtp_inbox, "tha") == [
            f"{ref} received (round {round_}): Somchai Wongsakul, Trafficking in persons investigations adviser"]


def test_an_email_that_cannot_be_rendered_fails_alone_with_the_reason(mail_api, smtp_inbox, database_url):
    """Emails are rendered at delivery, outside the change that wrote them: one that cannot be
    (a template since removed) is recorded as failed, saying why, and the others go out."""
    api, settings = mail_api
    api.act("tha", api.create()["reference"], "submit")
    engine = make_sync_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE outbox_messages SET template = 'no_such_template' WHERE to_email = :e"),
                     {"e": ROSTER["tha"]["email"]})
    report = deliver_pass(settings)
    assert (report.sent, report.failed) == (2, 1) and len(smtp_inbox.messages) == 2
    with engine.connect() as conn:
        status, error = conn.execute(sa.text("SELECT status, last_error FROM outbox_messages WHERE to_email = :e"),
                                     {"e": ROSTER["tha"]["email"]}).one()
        kept = conn.execute(sa.text("SELECT body_text FROM outbox_messages WHERE status = 'sent'")).scalars().all()
    engine.dispose()
    assert status == "failed" and "cannot render no_such_template" in error
    assert all("Co-Manager" in text for text in kept)  # what was sent is kept, as sent
