"""Respondent routes. Thin: parse, call one service, render or redirect."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import abort, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.respond import bp
from survey.i18n import current_language
from survey.models import Mode
from survey.respond.forms import FieldView, field_name, page_answers, validate_page
from survey.respond.pages import page_blocks, review_sections
from survey.services.home import form_of, home_form, load_home
from survey.services.paradata import PageTiming, current_client
from survey.services.responding import (
    Availability,
    FormContext,
    SubmitOutcome,
    TooManyAttempts,
    campaign_availability,
    load_form,
    open_form,
    open_link,
    save_page,
    submit_form,
)
from survey.services.tokens import LinkedForm

SESSION_KEY = "form_id"  # the form this browser is answering: set by a token link and by a public Start
HOME_KEY = "respondent_id"  # the respondent whose home the session's link opened
HONEYPOT = "homepage"  # a public form's hidden field; no browser autofills a name like it
PAGE_SHOWN_KEY = "page_shown"  # [form id, page index, time shown]: paradata, never trusted for more


@bp.get("/")
def index() -> str:
    return render_template("respond/index.html")


@bp.get("/s/<token>")
def open_token(token: str) -> WerkzeugResponse | tuple[str, int]:
    """Enter through a personal link: remember the respondent (their home) and, for a link to
    one form, the form in the session; drop the token from the URL.

    Opening changes nothing a respondent did (mail scanners open links first); it only records
    that the link was opened.
    """
    try:
        opened = open_link(token, current_client())
    except TooManyAttempts:
        return render_template("errors.html", kind="rate_limited", status=429), 429
    if opened is None:
        abort(404)
    session.clear()
    session.permanent = True
    if opened.respondent_id is not None:
        session[HOME_KEY] = opened.respondent_id
    if len(opened.forms) != 1:
        return redirect(url_for("respond.home"))  # several forms: the home lists them
    session[SESSION_KEY] = opened.forms[0].form_id
    return enter_form(opened.forms[0].begun)


def enter_form(begun: bool) -> WerkzeugResponse:
    """Where a link (or a poster's Start) leads: a form with no page saved yet straight to its
    first page, which then carries the welcome of the landing page; a begun one to the landing
    page, which resumes it or says it was submitted.

    The first page is page 1: it always has a question to show, since show-if may only refer
    to questions of earlier pages (the loader refuses others, ``QN-SHOW-IF-ORDER``).
    """
    return redirect(url_for("respond.landing") if begun else url_for("respond.page", page=1))


def _current() -> FormContext | tuple[str, int]:
    """The session's form, or the rendered page that stands instead of it."""
    form_id = session.get(SESSION_KEY)
    ctx = load_form(form_id) if isinstance(form_id, int) else None
    if ctx is None:
        return _message("session_ended", 401)
    if ctx.submitted:
        return _message("already_submitted", 200, ctx)
    availability = campaign_availability(ctx.campaign)
    if availability is not Availability.OPEN:
        kind = "closed" if availability is Availability.CLOSED else "not_yet"
        return _message(kind, 403, ctx)
    return ctx


def _message(kind: str, status: int, ctx: FormContext | None = None) -> tuple[str, int]:
    return render_template("respond/message.html", kind=kind, ctx=ctx), status


def _navigate(url: str, render: Callable[[], Any]) -> Any:
    """Where a successful POST leads. A browser running no script is redirected there
    (post/redirect/get). A page enhanced by htmx (``hx-boost`` on its form, so the request says
    ``HX-Boosted``) gets that page in this same response, and htmx puts ``url`` in the address
    bar and the history (``HX-Push-Url``): one round trip per page instead of two, which on a
    phone's network is most of the wait. Refresh, Back and bookmarks then GET ``url`` as usual.
    Any other answer to a boosted post (a page with errors, "saved", a refusal, a proxy's
    error page) leaves the address bar alone: the forms say ``hx-push-url="false"``.
    """
    if request.headers.get("HX-Boosted") != "true":
        return redirect(url)
    response = make_response(render())
    response.headers["HX-Push-Url"] = url
    return response


@bp.get("/f/")
def landing() -> Any:
    ctx = _current()
    if not isinstance(ctx, FormContext):
        return ctx
    return _show_landing(ctx)


def _show_landing(ctx: FormContext) -> str:
    resume = ctx.first_incomplete_section()
    return render_template("respond/landing.html", ctx=ctx,
                           resume=resume if resume is not None else len(ctx.questionnaire.sections),
                           started=bool(ctx.answers))


@bp.route("/f/p/<int:page>", methods=["GET", "POST"])
def page(page: int) -> Any:
    ctx = _current()
    if not isinstance(ctx, FormContext):
        return ctx
    q = ctx.questionnaire
    if not 1 <= page <= len(q.sections):
        abort(404)
    index = page - 1
    n = len(ctx.assignments)
    if request.method == "GET":
        return _show_page(ctx, index)
    form = validate_page(q, index, n, request.form)
    answers = page_answers(form, q, index, n)
    saved = save_page(ctx, index, {str(a.id): answers[i] for i, a in enumerate(ctx.assignments)},
                      PageTiming(_page_seconds(ctx.form.id, index), current_client()),
                      honeypot=(ctx.form.mode is Mode.PUBLIC
                                and bool(request.form.get(HONEYPOT, "").strip())))
    if saved is None:  # submitted meanwhile (another tab): the landing page says so
        return redirect(url_for("respond.landing"))
    ctx = saved
    action = request.form.get("action", "next")
    if action == "back":
        previous = _neighbour_page(ctx, index, -1)
        if previous is None:
            return _navigate(url_for("respond.landing"), lambda: _show_landing(ctx))
        return _navigate(url_for("respond.page", page=previous + 1),
                         lambda: _show_page(ctx, previous))
    if action == "save":
        return render_template("respond/message.html", kind="saved", ctx=ctx)
    page_ids = {question.id for question in q.sections[index].questions}
    missing = {
        i: {m.id for m in q.missing_required(ctx.answers_for(a), (q.sections[index],))}
        for i, a in enumerate(ctx.assignments)
        # a matrix form: a unit left blank on this page is left for later (the home and the
        # review say what is unfinished); one begun here must be finished here
        if n == 1 or page_ids & set(ctx.answers_for(a))
    }
    has_errors = any(f.errors for f in form.values()) or any(missing.values())
    if has_errors:
        session[PAGE_SHOWN_KEY] = [ctx.form.id, index, time.time()]  # shown again
        return _render_page(ctx, index, form, missing), 422
    following = _neighbour_page(ctx, index, +1)
    if following is not None:
        return _navigate(url_for("respond.page", page=following + 1),
                         lambda: _show_page(ctx, following))
    return _navigate(url_for("respond.review"), lambda: _render_review(ctx))


def _show_page(ctx: FormContext, index: int) -> str:
    """A page with the saved answers (nothing to validate, so no WTForms form is built)."""
    n = len(ctx.assignments)
    saved = [ctx.answers_for(a) for a in ctx.assignments]
    fields = {field_name(i, question.id): FieldView(field_name(i, question.id),
                                                    saved[i].get(question.id))
              for i in range(n) for question in ctx.questionnaire.sections[index].questions}
    session[PAGE_SHOWN_KEY] = [ctx.form.id, index, time.time()]
    return _render_page(ctx, index, fields, {})


def _render_page(ctx: FormContext, index: int, fields: Any, missing: dict[int, set[str]]
                 ) -> str:
    blocks, errors = page_blocks(ctx, index, fields, missing, current_language())
    # A respondent who has saved nothing yet came straight here from the link: page 1 then
    # also says what the landing page says (a page saved, even empty, leaves a draft).
    return render_template("respond/page.html", ctx=ctx, index=index, blocks=blocks,
                           errors=errors, honeypot=HONEYPOT,
                           welcome=index == 0 and not ctx.answers)


def _page_seconds(form_id: int, index: int) -> float | None:
    """Seconds since this page was last shown in this session (None if it was not)."""
    shown = session.pop(PAGE_SHOWN_KEY, None)
    if (not isinstance(shown, list) or len(shown) != 3 or shown[0] != form_id or shown[1] != index
            or not isinstance(shown[2], int | float)):
        return None
    return max(0.0, time.time() - float(shown[2]))


def _neighbour_page(ctx: FormContext, index: int, step: int) -> int | None:
    """The next page in ``step`` direction with a question to show (show-if can empty a page)."""
    q = ctx.questionnaire
    i = index + step
    while 0 <= i < len(q.sections):
        if any(ctx.page_has_questions(i, a) for a in ctx.assignments):
            return i
        i += step
    return None


@bp.get("/f/review")
def review() -> Any:
    ctx = _current()
    if not isinstance(ctx, FormContext):
        return ctx
    return _render_review(ctx)


def _render_review(ctx: FormContext) -> str:
    return render_template("respond/review.html", ctx=ctx,
                           incomplete=ctx.first_incomplete_section(),
                           review=review_sections(ctx))


@bp.post("/f/submit")
def submit() -> Any:
    ctx = _current()
    if not isinstance(ctx, FormContext):
        return ctx
    # CSRF is checked before the view runs (CSRFProtect); the form has nothing else to read.
    outcome = submit_form(ctx)
    if outcome is SubmitOutcome.INCOMPLETE:
        return _render_review(ctx), 422
    if outcome is SubmitOutcome.CLOSED:
        return _message("closed", 403, ctx)
    if outcome is SubmitOutcome.ALREADY_SUBMITTED:
        return _message("already_submitted", 200, ctx)
    if outcome is SubmitOutcome.QUOTA_FULL:
        return _message("quota_full", 409, ctx)  # nothing stored; the draft is kept
    return _navigate(url_for("respond.done"), lambda: _thanks(ctx))


@bp.get("/f/done")
def done() -> Any:
    form_id = session.get(SESSION_KEY)
    ctx = load_form(form_id) if isinstance(form_id, int) else None
    if ctx is None or not ctx.submitted:
        return redirect(url_for("respond.landing"))
    return _thanks(ctx)


def _thanks(ctx: FormContext) -> str:
    return render_template("respond/message.html", kind="thanks", ctx=ctx)


@bp.get("/h/")
def home() -> Any:
    """The respondent's home: each of their forms, where it stands, and what to continue."""
    respondent_id = session.get(HOME_KEY)
    found = load_home(respondent_id) if isinstance(respondent_id, int) else None
    if found is None:
        return _message("session_ended", 401)
    return render_template("respond/home.html", home=found)


@bp.get("/h/f/<int:form_id>")
def continue_form(form_id: int) -> Any:
    """Enter one form of the home: it becomes the session's form (the per-form flow from
    here), opened where it was left: its first page with a required question unanswered, or
    the review when every page is answered."""
    respondent_id = session.get(HOME_KEY)
    ctx = form_of(respondent_id, form_id) if isinstance(respondent_id, int) else None
    if ctx is None:
        abort(404)
    open_form(LinkedForm(ctx.form.id, ctx.form.status), current_client())
    session[SESSION_KEY] = ctx.form.id
    if ctx.submitted:
        return redirect(url_for("respond.home"))
    state = home_form(ctx)
    if state.review_next:
        return redirect(url_for("respond.review"))
    return redirect(url_for("respond.page", page=state.page))
