"""The pages. Each route calls the same service function as its API twin; what the service
refuses is shown on the page (next to the field it names, or at the top), never a rule of
its own."""
from __future__ import annotations

import logging
import re
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from typing import Annotated

from fastapi import APIRouter, FastAPI, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup, escape
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
import segno

from rso.exports import export_response
from rso.uploads import NoFile, attach_upload, document_response
from rso.web import forms
from rso.web.session import (PENDING, CsrfError, SetUpSecondFactor, SignInRequired, check_csrf, csrf_token,
                             current_user, remember_pre_csrf, require_user, session_id, sign_in, sign_out,
                             wait_for_code)
from rso.web.strings import label, t
from services import admin as admin_service
from services import conversation
from services import mail
from services.accounts import second_factor, sessions, signin, users
from services.accounts.sessions import Stage
from services.config.reference_data import members
from services.engine import delegations, workflow
from services.engine.errors import (ActionNotAvailable, InvalidInput, NotAuthenticated, NotFound,
                                    SecondFactorRequired, TooLarge, TooManyAttempts, UnsupportedType,
                                    VersionConflict)
from services.engine.models import User
from services.engine.listing import DEFAULT_SORT, Listing, ListQuery
from services.engine.workflow import MAX_ID, Workflow
from states.common import Role
from states.conversation import DocumentKind

log = logging.getLogger("rso.web")
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(t=t, label=label)  # for the macros too
templates.env.filters["linkify"] = lambda text: linkify(text)
templates.env.filters["dmy"] = forms.show_day
router = APIRouter(include_in_schema=False)  # the pages every service has; `install` adds each lifecycle's

HOME = {Role.MEMBER_STATE: "/my", Role.CO_MANAGER: "/tasks", Role.STAKEHOLDER: "/tasks", Role.CO_CHAIR: "/tasks",
        Role.ADMIN: "/admin"}


def home_of(user: User) -> str:
    return HOME[Role(user.role)]


def nav(user: User | None) -> list[tuple[str, str]]:
    if user is None:
        return []
    role = Role(user.role)
    links = {Role.MEMBER_STATE: [("/my", "nav.my"), ("/proposals/new", "nav.new_proposal"),
                                 ("/secondments/new", "nav.nominate")],
             Role.CO_MANAGER: [("/tasks", "nav.inbox"), ("/dashboard", "nav.dashboard"), ("/proposals", "nav.proposals"),
                               ("/secondments", "nav.secondments"), ("/reports", "nav.reports"),
                               ("/delegations", "nav.delegations")],
             Role.STAKEHOLDER: [("/tasks", "nav.invitations")],
             Role.CO_CHAIR: [("/tasks", "nav.guidance"), ("/dashboard", "nav.dashboard"), ("/proposals", "nav.proposals"),
                             ("/secondments", "nav.secondments"), ("/reports", "nav.reports"),
                             ("/delegations", "nav.delegations")],
             Role.ADMIN: [("/admin", "nav.admin"), ("/dashboard", "nav.dashboard"), ("/proposals", "nav.proposals"),
                          ("/secondments", "nav.secondments"), ("/reports", "nav.reports"),
                          ("/delegations", "nav.delegations")]}
    return [(href, t(key)) for href, key in [*links[role], ("/account", "nav.account")]]


def _local(request: Request, value) -> str:
    tz = request.app.state.services.timezone
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%a %-d %b %Y, %H:%M")
    if isinstance(value, date):
        return value.strftime("%a %-d %b %Y")
    return "" if value is None else str(value)


def page(request: Request, template: str, *, user: User | None, status: int = 200, **context) -> HTMLResponse:
    context.update(user=user, nav=nav(user), t=t, label=label, csrf=csrf_token(request),
                   when=lambda v: _local(request, v), path=request.url.path,
                   role_label=label("role", user.role) if user else "")
    response = templates.TemplateResponse(request, template, context, status_code=status)
    remember_pre_csrf(request, response)
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _posted(request: Request, *, setting_up: bool = False):
    """The signed-in person and the form they posted, its CSRF token checked."""
    user = await require_user(request, setting_up=setting_up)
    form = await request.form()
    check_csrf(request, form)
    return user, form


def _by_field(errors: list[dict]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for e in errors:
        found.setdefault(e["field"], []).append(e["message"])
    return found


def _svc(request: Request):
    return request.app.state.services


def _safe_next(value: str | None) -> str | None:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


# --- signing in ------------------------------------------------------------------------------

@router.get("/")
async def root(request: Request):
    user = await current_user(request, setting_up=True)
    return redirect(home_of(user) if user else "/sign-in")


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str | None = None, signed_out: int = 0):
    return page(request, "sign_in.html", user=None, next=_safe_next(next) or "", email="", step="password",
                message=t("sign_in.signed_out") if signed_out else None, error=None)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _signed_in(request: Request, done, nxt: str | None):
    """Where a completed sign-in goes: an admin without a second factor sets one up first."""
    target = "/account/two-factor" if done.session.stage == Stage.SETUP else (nxt or home_of(done.user))
    response = redirect(target)
    sign_in(request, response, done.session)
    return response


def _refused(request: Request, exc: Exception, *, step: str, email: str, nxt: str | None):
    status, error = (429, str(exc)) if isinstance(exc, TooManyAttempts) else (401, t("sign_in.failed"))
    if step == "code" and not isinstance(exc, TooManyAttempts):
        error = t("sign_in.code_failed") if "code" in str(exc) else t("sign_in.expired")
        step = "code" if "code" in str(exc) else "password"
    response = page(request, "sign_in.html", user=None, status=status, next=nxt or "", email=email, step=step,
                    message=None, error=error)
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@router.post("/sign-in")
async def sign_in_post(request: Request):
    form = await request.form()
    check_csrf(request, form)
    email, nxt = str(form.get("email") or "").strip(), _safe_next(str(form.get("next") or ""))
    settings = request.app.state.settings
    try:
        done = await signin.sign_in(_svc(request), email=email, password=str(form.get("password") or ""),
                                    address=_address(request), via="web",
                                    lasts=timedelta(minutes=settings.token_minutes))
    except SecondFactorRequired as exc:
        response = page(request, "sign_in.html", user=None, next=nxt or "", email=email, step="code", message=None,
                        error=None)
        wait_for_code(request, response, exc.pending)
        return response
    except (NotAuthenticated, TooManyAttempts) as exc:
        return _refused(request, exc, step="password", email=email, nxt=nxt)
    return _signed_in(request, done, nxt)


@router.post("/sign-in/code")
async def sign_in_code(request: Request):
    form = await request.form()
    check_csrf(request, form)
    nxt = _safe_next(str(form.get("next") or ""))
    settings = request.app.state.settings
    try:
        done = await signin.complete(_svc(request), pending=session_id(request, PENDING) or "",
                                     code=str(form.get("code") or ""), address=_address(request), via="web",
                                     lasts=timedelta(minutes=settings.token_minutes))
    except (NotAuthenticated, TooManyAttempts) as exc:
        return _refused(request, exc, step="code", email="", nxt=nxt)
    return _signed_in(request, done, nxt)


@router.post("/sign-out")
async def sign_out_post(request: Request):
    check_csrf(request, await request.form())
    response = redirect("/sign-in?signed_out=1")
    await sign_out(request, response)
    return response


# --- the signed-in person's own account ------------------------------------------------------

async def _account_page(request: Request, user: User, *, status: int = 200, message: str | None = None,
                        errors=None, enrolment=None, recovery_codes=None):
    factor = await second_factor.status(_svc(request), user=user)
    qr = segno.make(enrolment.uri, error="m").svg_data_uri(scale=5) if enrolment else None
    return page(request, "account.html", user=user, status=status, factor=factor, enrolment=enrolment, qr=qr,
                recovery_codes=recovery_codes, message=message, errors=errors or {})


@router.get("/account")
async def account(request: Request, done: str | None = None):
    user = await require_user(request, setting_up=True)
    return await _account_page(request, user, message=t(f"account.{done}") if done in ACCOUNT_DONE else None)


@router.get("/account/two-factor")
async def two_factor_page(request: Request):
    user = await require_user(request, setting_up=True)
    svc = _svc(request)
    on = (await second_factor.status(svc, user=user))["enabled"]
    return await _account_page(request, user, enrolment=None if on else await second_factor.begin(svc, user=user))


@router.post("/account/two-factor")
async def two_factor_confirm(request: Request):
    user, form = await _posted(request, setting_up=True)
    svc = _svc(request)
    try:
        confirmed = await second_factor.confirm(svc, user=user, code=str(form.get("code") or ""))
    except InvalidInput as exc:
        return await _account_page(request, user, status=422, enrolment=await second_factor.begin(svc, user=user),
                                   errors=_by_field(exc.errors))
    if second_factor.required(user):  # the set-up-only session ends: sign in again, with the code
        await sessions.end(svc, session_id(request))
    return await _account_page(request, user, recovery_codes=confirmed.recovery_codes,
                               message=t("account.two_factor_on"))


@router.post("/account/two-factor/off")
async def two_factor_off(request: Request):
    user, form = await _posted(request)
    try:
        await second_factor.switch_off(_svc(request), user=user, code=str(form.get("code") or ""))
    except InvalidInput as exc:
        return await _account_page(request, user, status=422, errors={"off-code": [exc.errors[0]["message"]]})
    return redirect("/account?done=two_factor_off_done")


@router.post("/account/password")
async def password_post(request: Request):
    user, form = await _posted(request)
    try:
        await users.change_password(_svc(request), user=user, current=str(form.get("current_password") or ""),
                                    new=str(form.get("new_password") or ""), keep=session_id(request))
    except InvalidInput as exc:
        return await _account_page(request, user, status=422, errors=_by_field(exc.errors))
    return redirect("/account?done=password_changed")


ACCOUNT_DONE = ("password_changed", "two_factor_off_done")


# --- homes -----------------------------------------------------------------------------------

@router.get("/my")
async def my_items(request: Request):
    user = await require_user(request)
    if user.role != Role.MEMBER_STATE:
        return redirect(home_of(user))
    svc = _svc(request)
    lists = [(wf, await wf.list(svc, user=user, limit=200)) for wf in svc.workflows.values()]
    return page(request, "my.html", user=user, lists=lists)


@router.get("/tasks")
async def inbox(request: Request):
    user = await require_user(request)
    tasks = await workflow.inbox(_svc(request), user=user)
    async with _svc(request).uow(write=False) as uow:
        away, acting_for = await delegations.away(uow, user), await delegations.principals(uow, user)
    overdue = sum(x.overdue for x in tasks)
    by_kind: dict[str, int] = {}
    for x in tasks:
        by_kind[x.kind] = by_kind.get(x.kind, 0) + 1
    title = t(f"home.{user.role}") if user.role in ("co_manager", "stakeholder", "co_chair") else t("nav.inbox")
    return page(request, "inbox.html", user=user, title=title, tasks=tasks, overdue=overdue, by_kind=by_kind,
                away=away, acting_for=acting_for,
                paths={k: wf.path for k, wf in _svc(request).workflows.items()})


# --- admin -----------------------------------------------------------------------------------

def _user_fields() -> list[forms.Field]:
    roles = [(r.value, label("choice", r.value)) for r in Role]
    return [forms.Field("email", "email", "text", True, max_length=254),
            forms.Field("name", "name", "text", False, max_length=200),
            forms.Field("password", "password", "text", True, max_length=200),
            forms.Field("role", "role", "select", True, roles),
            forms.Field("member_state", "member_state", "text", False, max_length=10),
            forms.Field("country", "country", "text", False, max_length=3),
            forms.Field("organisation", "organisation", "text", False, max_length=200)]


async def _admin_page(request: Request, user: User, *, status: int = 200, values=None, errors=None, general=None,
                      message=None):
    svc = _svc(request)
    all_users = await users.users_for(svc, user=user)
    counts, failed = await admin_service.outbox_status(svc, user=user)
    emails = await mail.captured_emails(svc, user=user, limit=50)
    attempts = await signin.attempts(svc, user=user, limit=50)
    locks = {u.id: until for u in all_users if (until := await signin.locked_until(svc, u.email))}
    return page(request, "admin.html", user=user, status=status, users=all_users, counts=counts, failed=failed,
                emails=emails, attempts=attempts, locks=locks, fields=_user_fields(), values=values or {},
                errors=errors or {}, general=general or [], message=message)


ADMIN_ACTIONS = {"unlock", "deactivate", "reactivate", "reset_two_factor"}


@router.post("/admin/users/{user_id}/{action}")
async def admin_user_action(request: Request, user_id: int, action: str):
    user = await require_user(request)
    check_csrf(request, await request.form())
    if action not in ADMIN_ACTIONS:
        raise NotFound(f"action '{action}'")
    svc = _svc(request)
    if action == "unlock":
        await signin.unlock(svc, user=user, user_id=user_id)
    elif action == "reset_two_factor":
        await second_factor.remove(svc, user=user, of_user=user_id)
    else:
        await users.set_active(svc, user=user, user_id=user_id, active=action == "reactivate")
    target = next((u for u in await users.users_for(svc, user=user) if u.id == user_id), None)
    return redirect(f"/admin?done={action}&email={quote(target.email if target else '')}")


@router.get("/admin")
async def admin(request: Request, added: str | None = None, done: str | None = None, email: str = ""):
    user = await require_user(request)
    message = t("admin.user_added", email=added) if added else \
        t(f"admin.done_{done}", email=email) if done in ADMIN_ACTIONS else None
    return await _admin_page(request, user, message=message)


@router.post("/admin/users")
async def admin_add_user(request: Request):
    user, form = await _posted(request)
    data = {k: (str(form.get(k) or "").strip() or None) for k in
            ("email", "name", "password", "role", "member_state", "country", "organisation")}
    try:
        added = await users.add_user(_svc(request), user=user, email=data["email"] or "",
                                             password=data["password"] or "", role=data["role"] or "",
                                             name=data["name"], member_state=data["member_state"],
                                             country=data["country"], organisation=data["organisation"])
    except InvalidInput as exc:
        by_field, general = forms.errors_by_field(exc.errors, _user_fields())
        values = forms.values_from_form(form)
        values.pop("password", None)
        return await _admin_page(request, user, status=422, values=values, errors=by_field, general=general)
    return redirect(f"/admin?added={quote(added.email)}")


# --- the items of each lifecycle ---------------------------------------------------------------

def _member_options() -> dict[str, list[tuple[str, str]]]:
    return {"partner_member_states": [(code, f"{m['name']} ({code})") for code, m in sorted(
        members().items(), key=lambda kv: kv[1]["name"])]}


LIST_PAGE = 50  # items on one page of a list
# The orders a list's page offers, in this order (the title's own order by its name, for
# each lifecycle); another one asked for in the address is offered as well.
LIST_SORTS = ("-created", "created", "-updated", "-submitted", "submitted", "due", "reference", "{title}",
              "member_state", "state")


def _sort_label(wf: Workflow, sort: str) -> str:
    name = sort.lstrip("-")
    found = t(f"sort.{sort}")
    if found != f"sort.{sort}":
        return found
    words = t(f"sort.{name}") if t(f"sort.{name}") != f"sort.{name}" else name.replace("_", " ").capitalize()
    return t("sort.descending", order=words) if sort.startswith("-") else words


def _list_controls(wf: Workflow, user: User, sort: str) -> dict:
    """What the filter form offers: each select's options, as (value, words)."""
    sorts = [s.format(title=wf.title_sort) for s in LIST_SORTS]
    if sort not in sorts and sort.lstrip("-") in wf.sorts:
        sorts.append(sort)
    member_states = None if user.role == Role.MEMBER_STATE else _member_options()["partner_member_states"]
    return {
        "state": [(s.value, label("state", s.value)) for s in wf.lifecycle.states],
        "member_state": member_states,
        "own": [(f.name, [(v, label("choice", v)) for v in f.values]) for f in wf.list_filters],
        "overdue": [("true", t("filter.overdue_only")), ("false", t("filter.not_overdue"))],
        "sort": [(s, _sort_label(wf, s)) for s in sorts],
        # The fields the form shows (a problem with any other is told above the buttons).
        "fields": {"q", "state", "overdue", "submitted_from", "submitted_to", "sort",
                   *(["member_state"] if member_states else []), *(f.name for f in wf.list_filters)},
    }


def _list_values(query: ListQuery) -> dict[str, str]:
    """The form's values: the filter as read (a member code in capitals, a day as YYYY-MM-DD)."""
    return {**dict(query.address()), "sort": query.sort_param}


def _list_links(base: str, found: Listing) -> dict[str, str]:
    """The page's links, each keeping the filter: the next page, the first, the exports."""
    query = found.query
    kept = query.address() + ([("limit", str(query.limit))] if query.limit != LIST_PAGE else [])
    links = {"csv": f"{base}?{urlencode([*query.address(), ('format', 'csv')])}",
             "xlsx": f"{base}?{urlencode([*query.address(), ('format', 'xlsx')])}"}
    if found.next:
        links["next"] = f"{base}?{urlencode([*kept, *found.next.items()])}"
    if query.after is not None or query.before is not None:
        links["first"] = f"{base}?{urlencode(kept)}" if kept else base
    return links


# Actions that end an item for good: folded, marked as destructive, taken only once confirmed.
FINAL_ACTIONS = frozenset({"withdraw", "terminate"})


def _item_pages(router: APIRouter, wf: Workflow) -> None:
    base = f"/{wf.path}"

    def edit_fields():
        return forms.fields(wf.create_schema, options=_member_options())

    async def list_page(request: Request):
        """The list with its filter in the address (a GET form): a page of it, or with
        `format` (csv, xlsx) the whole filtered list as a file, as the API gives them."""
        user = await require_user(request)
        svc, params = _svc(request), request.query_params
        try:
            query = wf.list_query(svc, params, limit=LIST_PAGE)
            if params.get("format"):
                return export_response(await wf.export(svc, user=user, query=query, format=params["format"]))
        except InvalidInput as exc:
            return page(request, "list.html", user=user, status=422, wf=wf, title=t(f"list.{wf.path}"),
                        listing=None, total=None, values=dict(params), errors=_by_field(exc.errors),
                        controls=_list_controls(wf, user, params.get("sort") or DEFAULT_SORT), links={})
        found = await wf.listing(svc, user=user, query=query)
        total = await wf.count(svc, user=user, query=query)
        return page(request, "list.html", user=user, wf=wf, title=t(f"list.{wf.path}"), listing=found, total=total,
                    values=_list_values(query), errors={}, controls=_list_controls(wf, user, query.sort_param),
                    links=_list_links(base, found))

    async def new_form(request: Request):
        user = await require_user(request)
        wf.require_creator(user)
        return page(request, "form.html", user=user, wf=wf, item=None, reference=None, fields=edit_fields(),
                    values={"idempotency_key": uuid.uuid4().hex}, errors={}, general=[], message=None,
                    title=t(f"form.new_{wf.kind}"), action=f"{base}/new")

    async def save(request: Request, ref: str | None):
        user, form = await _posted(request)
        fs = edit_fields()
        data = forms.data_from_form(fs, form)
        if ref is not None and any(f.kind == "checkboxes" for f in fs):  # unticking every box empties the list
            data = {**{f.path: [] for f in fs if f.kind == "checkboxes"}, **data}
        submit = form.get("intent") == "submit"
        try:
            item, _ = await wf.save(_svc(request), user=user, id_or_ref=ref, data=data, submit=submit,
                                    idempotency_key=str(form.get("idempotency_key") or "") or None,
                                    if_match=str(form.get("version") or "") or None)
        except InvalidInput as exc:
            by_field, general = forms.errors_by_field(exc.errors, fs)
            return page(request, "form.html", user=user, wf=wf, item=None, reference=ref, fields=fs,
                        values=forms.values_from_form(form), errors=by_field, general=general, status=422,
                        title=t(f"form.edit_{wf.kind}", reference=ref) if ref else t(f"form.new_{wf.kind}"),
                        message=t("item.fix_below"), action=f"{base}/{ref}/edit" if ref else f"{base}/new")
        except (ActionNotAvailable, VersionConflict) as exc:
            if ref is None:
                raise
            return await item_page(request, ref, status=409, problem=t("item.conflict", detail=str(exc)))
        return redirect(f"{base}/{item.reference}?done={'submitted' if submit else 'saved'}")

    async def create(request: Request):
        return await save(request, None)

    async def edit_form(request: Request, ref: str):
        user = await require_user(request)
        found = await wf.page(_svc(request), user=user, id_or_ref=ref,
                              also=lambda uow, row: conversation.documents_of(uow, wf, user, row))
        item = found.item
        values = forms.values_from_item(item.model_dump(mode="json"))
        done = request.query_params.get("done")
        return page(request, "form.html", user=user, wf=wf, item=item, reference=item.reference,
                    fields=edit_fields(), values=values, errors={}, general=[],
                    message=None, notice=t("item.done", action=label("history", done)) if done else None,
                    title=t(f"form.edit_{wf.kind}", reference=item.reference), action=f"{base}/{item.reference}/edit",
                    documents=found.also, may=conversation.may(wf, user, item), kinds=[k.value for k in DocumentKind],
                    upload_problem=None)

    async def edit(request: Request, ref: str):
        return await save(request, ref)

    async def item_page(request: Request, ref: str, *, status: int = 200, problem: str | None = None,
                        failed_action: str | None = None, action_values=None, action_errors=None, action_general=None,
                        comment_values=None, upload_problem: str | None = None, comment_problem: str | None = None):
        user = await require_user(request)
        staff = user.role in delegations.SEATED or user.role == Role.ADMIN

        async def also(uow, row):
            # Who acts for whom on its open tasks, for RSO staff (others are not told who is away).
            cover = await delegations.cover(uow, wf.kind, row.id) if staff else {}
            return await conversation.documents_of(uow, wf, user, row), cover

        found = await wf.page(_svc(request), user=user, id_or_ref=ref, also=also)
        item = found.item
        current = item.model_dump(mode="json")
        editable = {k: current.get(k) for k in wf.update_schema.model_fields if k in current}
        actions = []
        for name in item.available_actions:
            fs = forms.offer(forms.fields(wf.arguments[wf.lifecycle.actions(name)], options=_member_options(),
                                          id_prefix=f"{name}-"), found.choices.get(name, {}))
            if failed_action == name:
                values, errors, general = action_values, action_errors, action_general
            else:
                values = forms.values_from_item(editable, "changes.") if name == "resubmit" else {}
                errors, general = {}, []
            actions.append({"name": name, "fields": fs, "values": values, "errors": errors, "general": general,
                            "open": failed_action == name, "final": name in FINAL_ACTIONS,
                            "acting_for": found.acting_for.get(name)})
        done = request.query_params.get("done")
        message = {"saved": t("item.saved"), "submitted": t("item.submitted")}.get(done or "") or (
            t("item.done", action=label("history", done)) if done else None)
        docs, cover = found.also
        visited = {e.to_state for e in found.history} | {e.from_state for e in found.history if e.from_state}
        progress = wf.lifecycle.progress(item.state, visited)
        return page(request, "item.html", user=user, status=status, wf=wf, item=item, data=current,
                    history=found.history, diagram=page_diagram(found.diagram), progress=progress, actions=actions, message=message, problem=problem,
                    can_edit=wf.can_edit(user, item), documents=docs, may=conversation.may(wf, user, item),
                    kinds=[k.value for k in DocumentKind], comment_values=comment_values or {},
                    upload_problem=upload_problem, comment_problem=comment_problem, cover=cover)

    async def show(request: Request, ref: str):
        return await item_page(request, ref)

    async def act(request: Request, ref: str, action: str):
        user, form = await _posted(request)
        try:
            model = wf.arguments[wf.lifecycle.actions(action)]
        except (ValueError, KeyError):
            raise NotFound(f"action '{action}'") from None
        fs = forms.fields(model, options=_member_options(), id_prefix=f"{action}-")
        data = forms.data_from_form(fs, form)
        if action in FINAL_ACTIONS and form.get("confirm") != "yes":  # a person confirms what cannot be undone
            return await item_page(request, ref, status=422, problem=t("item.confirm_needed"), failed_action=action,
                                   action_values=forms.values_from_form(form),
                                   action_errors={"confirm": [t("item.confirm_needed")]}, action_general=[])
        try:
            await wf.act(_svc(request), user=user, id_or_ref=ref, action=action, arguments=data,
                         if_match=str(form.get("version") or "") or None)
        except InvalidInput as exc:
            by_field, general = forms.errors_by_field(exc.errors, fs)
            return await item_page(request, ref, status=422, problem=t("item.fix_below"), failed_action=action,
                                   action_values=forms.values_from_form(form), action_errors=by_field,
                                   action_general=general)
        except VersionConflict as exc:
            return await item_page(request, ref, status=409, problem=t("item.conflict", detail=str(exc)))
        except ActionNotAvailable as exc:
            return await item_page(request, ref, status=409, problem=t("item.not_now", detail=str(exc)))
        return redirect(f"{base}/{ref}?done={action}")

    async def upload(request: Request, ref: str):
        user = await require_user(request)
        try:
            await attach_upload(request, _svc(request), wf, user, ref, check_form=lambda f: check_csrf(request, f))
        except NoFile:
            return await item_page(request, ref, status=422, upload_problem=t("documents.choose_file"))
        except (InvalidInput, TooLarge, UnsupportedType) as exc:
            return await item_page(request, ref, status=_status(exc), upload_problem=_why(exc))
        except ActionNotAvailable as exc:
            return await item_page(request, ref, status=409, upload_problem=str(exc))
        if request.query_params.get("back") == "edit":
            return redirect(f"{base}/{ref}/edit?done=attach_document#documents-h")
        return redirect(f"{base}/{ref}?done=attach_document#documents-h")

    async def download(request: Request, ref: str, document_id: Annotated[int, FastPath(ge=1, le=MAX_ID)]):
        user = await require_user(request)
        return document_response(await conversation.download(_svc(request), wf, user=user, id_or_ref=ref,
                                                             document_id=document_id))

    async def add_comment(request: Request, ref: str):
        user, form = await _posted(request)
        data = {"body": str(form.get("body") or ""), "visibility": str(form.get("visibility") or "shared")}
        try:
            await conversation.comment(_svc(request), wf, user=user, id_or_ref=ref, data=data)
        except InvalidInput as exc:
            return await item_page(request, ref, status=422, comment_values=data, comment_problem=_why(exc))
        except ActionNotAvailable as exc:
            return await item_page(request, ref, status=409, comment_values=data, comment_problem=str(exc))
        return redirect(f"{base}/{ref}?done=comment#timeline-h")

    for fn in (list_page, new_form, create, edit_form, edit, show, act, upload, download, add_comment):
        fn.__name__ = f"page_{wf.kind}_{fn.__name__}"
    router.add_api_route(base, list_page, methods=["GET"])
    router.add_api_route(f"{base}/new", new_form, methods=["GET"])
    router.add_api_route(f"{base}/new", create, methods=["POST"])
    router.add_api_route(f"{base}/{{ref}}", show, methods=["GET"])
    router.add_api_route(f"{base}/{{ref}}/edit", edit_form, methods=["GET"])
    router.add_api_route(f"{base}/{{ref}}/edit", edit, methods=["POST"])
    router.add_api_route(f"{base}/{{ref}}/actions/{{action}}", act, methods=["POST"])
    router.add_api_route(f"{base}/{{ref}}/documents", upload, methods=["POST"])
    router.add_api_route(f"{base}/{{ref}}/documents/{{document_id}}", download, methods=["GET"])
    router.add_api_route(f"{base}/{{ref}}/comments", add_comment, methods=["POST"])


_STATE_LINE = re.compile(r'^(\s*state )"([a-z_]+)"( as [a-z_]+)$', re.M)
_EDGE_LABEL = re.compile(r"^(\s*[a-z_]+ --> [a-z_]+: )(.+)$", re.M)


def page_diagram(text: str) -> str:
    """The lifecycle's Mermaid text as a page shows it: states and actions in the product's
    words, and the current state marked in a calm blue (Mermaid's `s_active` is salmon red,
    which reads as an error even on "approved")."""
    text = _STATE_LINE.sub(lambda m: f'{m.group(1)}"{label("state", m.group(2))}"{m.group(3)}', text)
    # "review | refer_to_co_chairs", "respond [internal]" (an action that stays in its state)
    text = _EDGE_LABEL.sub(lambda m: m.group(1) + m.group(2).replace(" [internal]", "").replace("_", " "), text)
    return re.sub(r"classDef s_active .*", "classDef s_active fill:#dbeafe,color:#0b3d6b,stroke:#1f5f8b,"
                  "stroke-width:3px,font-weight:bold", text)


def _status(exc: Exception) -> int:
    return 413 if isinstance(exc, TooLarge) else 415 if isinstance(exc, UnsupportedType) else 422


def _why(exc: Exception) -> str:
    if isinstance(exc, InvalidInput):
        return "; ".join(f"{label('field', e['field'])}: {e['message']}" for e in exc.errors)
    return str(exc)


_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def linkify(text: str | None) -> Markup:
    """Plain text, escaped, with its http(s) addresses made links (nothing else: no javascript:
    or data: link can come out of a comment)."""
    text, out, at = text or "", [], 0
    for m in _URL.finditer(text):
        out += [escape(text[at:m.start()]),
                Markup('<a href="{0}" rel="nofollow noopener noreferrer">{0}</a>').format(m.group(0))]
        at = m.end()
    out.append(escape(text[at:]))
    return Markup("").join(out)


# --- errors as pages ------------------------------------------------------------------------

def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "error.html", user=getattr(request.state, "web_user", None), status=status,
                status_code=status, message=message)


ERROR_MESSAGES = {401: "error.403", 403: "error.403", 404: "error.404", 500: "error.500"}


def install(app: FastAPI, lifecycles) -> None:
    """The pages, for the lifecycles the service serves."""
    app.include_router(router)
    item_pages = APIRouter(include_in_schema=False)
    for wf in lifecycles:
        _item_pages(item_pages, wf)
    app.include_router(item_pages)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired):
        return redirect(f"/sign-in?next={quote(exc.next_path)}")

    @app.exception_handler(SetUpSecondFactor)
    async def _set_up(request: Request, exc: SetUpSecondFactor):
        return redirect("/account/two-factor")

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError):
        return error_page(request, 403, t("error.csrf"))



def is_page(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/docs", "/openapi", "/static/"))


def page_error(request: Request, status: int, detail: str) -> HTMLResponse:
    """A refusal on a page: the message a person can act on."""
    if status == 404:
        return error_page(request, 404, t("error.404"))
    if status in (401, 403):
        return error_page(request, 403, t("error.403") + (f" ({detail})" if detail else ""))
    if status >= 500:
        return error_page(request, status, t("error.500"))
    return error_page(request, status, detail)

