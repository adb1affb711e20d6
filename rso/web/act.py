"""Acting from an email: /act/{token}, the page a task email's link opens (it changes
nothing), and its confirm button (a POST with a CSRF token) that takes the action once as the
link's recipient, opening no session. A link that cannot be used gets a page saying why, in
plain words, with a link to sign in. The rules are `services.email_actions`'."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from rso.web import forms
from rso.web.pages import _member_options, page
from rso.web.session import CsrfError, check_csrf, current_user
from services import email_actions
from services.config.reference_data import members
from services.email_actions import LinkRefused
from services.engine.errors import InvalidInput, VersionConflict
from states.common import ActionNotAvailable

router = APIRouter(include_in_schema=False)

# A refused link's status: gone for good (used, closed, expired), or not this person's.
STATUS = {"tampered": 400, "used": 410, "closed": 410, "expired": 410, "foreign": 403}
TITLES = {"tampered": "This link is not valid", "used": "This link has already been used",
          "closed": "There is nothing left to do", "expired": "This link has expired",
          "foreign": "This link is not yours to use"}


def _private(response: HTMLResponse) -> HTMLResponse:
    """The address holds a token: keep it out of caches, other sites' logs and search engines."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(request: Request, exc: LinkRefused) -> HTMLResponse:
    return _private(page(request, "act_problem.html", user=None, status=STATUS[exc.reason], reason=exc.reason,
                         heading=TITLES[exc.reason], message=exc.message))


def _fields(shown: email_actions.LinkPage) -> list[forms.Field]:
    """The action's fields beyond the link's choice: those it requires with this choice, and
    the comment (optional where it is not required)."""
    skip = {shown.field} if shown.field else set()
    fs = forms.fields(shown.arguments, options=_member_options(), skip=frozenset(skip), id_prefix="act-")
    kept = [f for f in fs if f.name in shown.required or f.name == "comment" or f.required]
    for f in kept:
        f.required = f.required or f.name in shown.required
    return kept


def _confirm_page(request: Request, shown: email_actions.LinkPage, *, status: int = 200, values=None, errors=None,
                  general=None, problem: str | None = None) -> HTMLResponse:
    return _private(page(request, "act.html", user=None, status=status, shown=shown, item=shown.item,
                         member_state_name=members().get(shown.item.member_state, {}).get("name", shown.item.member_state),
                         fields=_fields(shown), values=values or {}, errors=errors or {}, general=general or [],
                         problem=problem, token=request.path_params["token"]))


@router.get("/act/{token}")
async def open_link(request: Request, token: str):
    svc = request.app.state.services
    try:
        shown = await email_actions.open_link(svc, secret=request.app.state.signing_key, token=token,
                                              signed_in=await current_user(request))
    except LinkRefused as exc:
        return _refused(request, exc)
    return _confirm_page(request, shown)


@router.post("/act/{token}")
async def confirm(request: Request, token: str):
    svc, secret = request.app.state.services, request.app.state.signing_key
    form = await request.form()
    signed_in = await current_user(request)
    try:
        shown = await email_actions.open_link(svc, secret=secret, token=token, signed_in=signed_in)
    except LinkRefused as exc:
        return _refused(request, exc)
    try:
        check_csrf(request, form)
    except CsrfError:
        return _confirm_page(request, shown, status=400, problem=(
            "This page was open too long, or came from elsewhere: please press the button again."))
    fs = _fields(shown)
    data = forms.data_from_form(fs, form)
    try:
        shown, item = await email_actions.confirm(svc, secret=secret, token=token, data=data, signed_in=signed_in)
    except LinkRefused as exc:
        return _refused(request, exc)
    except InvalidInput as exc:
        by_field, general = forms.errors_by_field(exc.errors, fs)
        return _confirm_page(request, shown, status=422, values=forms.values_from_form(form), errors=by_field,
                             general=general, problem="Please correct the fields marked below.")
    except (ActionNotAvailable, VersionConflict) as exc:
        return _confirm_page(request, shown, status=409, problem=f"This cannot be done now: {exc}")
    return _private(page(request, "act_done.html", user=None, shown=shown, item=item))
