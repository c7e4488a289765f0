"""Paper forms: the printable questionnaire, and keying paper answers back in.

Printing issues a fresh token per form (like cards); its QR and short code are on every page,
so a clerk finds the form again by scanning the QR or typing the code
(:func:`survey.services.qr.find_form_by_code`).

Data entry stores answers through the respondent's submit
(:func:`~survey.services.responding.store_submission`) with the form's mode set to ``paper``.
With double entry two different clerks key the form blind into
:class:`~survey.models.PaperEntry` rows; when both are there and agree the form is submitted,
exactly once (the submit's gate). Mismatches are listed for resolution; the resolver picks one
of the two values for each, which makes the entries agree. Entries are deleted once the form
is submitted.

Each clerk's action (an entry, a resolution) is one transaction: the entry, the form's mode,
the responses and the audit commit together or not at all. A submit turned away (quota full,
submitted meanwhile) rolls back to a savepoint, keeping the entries for later.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, assert_never

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from questionnaires import Option, PaperAnswer, PaperLayout, Question, Questionnaire, Section
from survey import db
from survey.models import (
    Campaign,
    Form,
    FormStatus,
    Mode,
    PaperEntry,
    QuestionnaireVersion,
    RespondentGroup,
    utcnow,
)
from survey.services.audit import record_audit
from survey.services.cards import IssuedForm, draw_qr, new_pdf
from survey.services.questionnaires import questionnaire_for
from survey.services.qr import qr_matrices
from survey.services.responding import (
    Answers,
    Availability,
    FormContext,
    SubmitOutcome,
    SubmitRefused,
    campaign_availability,
    load_form,
    store_submission,
)

if TYPE_CHECKING:  # fpdf is imported where a PDF is made: the app starts without it
    from fpdf import FPDF

# --- the printed questionnaire -----------------------------------------------------------

MARGIN = 15.0
WIDTH = 210.0 - 2 * MARGIN
BOTTOM = 297.0 - 15.0
BOX = 3.6  # mm, an option box
GRID_UNITS = 5  # units per grid block on one page width


def _with_code(o: Option, label: str) -> str:
    """An option as printed: "A. label" when its code is a printed one, else the label alone
    (internal codes such as ``individual`` are never shown to a respondent)."""
    return f"{o.code}. {label}" if o.printed else label


def _answer_room(q: Question, layout: PaperLayout) -> float:
    """The height (mm) of ``q``'s answer space that must fit on the page with its text, or
    the question starts a new page: a row of options, every option of a list, the digit
    boxes, every ruled line (7 mm apart)."""
    if layout.answer is PaperAnswer.OPTION_ROW:
        return 10
    if layout.answer is PaperAnswer.OPTION_LIST:
        return 5 * max(1, len(q.options))
    return 7 * layout.count - 2 if layout.answer is PaperAnswer.LINES else 5


def _mark(o: Option, number: int) -> str:
    """What labels an option's box in a grid: its printed code, else its number (1-based)."""
    return o.code if o.printed else str(number)


@dataclass(frozen=True)
class PaperItem:
    """One printed questionnaire: for a form (with its fresh token) or blank."""

    questionnaire: Questionnaire
    campaign_name: str
    issued: IssuedForm | None = None  # None: a blank form


class _Writer:
    def __init__(self, pdf: FPDF, lang: str) -> None:
        self.pdf = pdf
        self.lang = lang

    def L(self, label: Any) -> str:  # noqa: N802 - as in the templates
        return label.get(self.lang) if label else ""

    def header(self, item: PaperItem, matrix: Any, section: Section, index: int, total: int
               ) -> None:
        pdf = self.pdf
        pdf.add_page()
        pdf.set_xy(MARGIN, MARGIN)
        text_w = WIDTH - (32 if item.issued else 0)
        pdf.set_font("sans", "", 8)
        self.mc(text_w, 4, item.campaign_name, new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(MARGIN)
        pdf.set_font("sans", "B", 11)
        self.mc(text_w, 5.5, self.L(item.questionnaire.title), new_x="LMARGIN",
                       new_y="NEXT")
        pdf.set_font("sans", "", 8)
        if item.issued:
            pdf.set_x(MARGIN)
            lines = [f"{item.issued.name} · {item.issued.group}" if item.issued.name
                     else item.issued.group,
                     "Đánh giá / Rating: " + "; ".join(item.issued.units),
                     f"Mã phiếu / Form code: {item.issued.code}"]
            self.mc(text_w, 4, "\n".join(lines), new_x="LMARGIN", new_y="NEXT")
            draw_qr(pdf, matrix, 210 - MARGIN - 28, MARGIN, 28)
        else:
            pdf.set_x(MARGIN)
            self.mc(text_w, 4, "Phiếu trắng / Blank form", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("sans", "", 7)
        pdf.text(MARGIN, 297 - 8, f"Trang / Page {index + 1}/{total}"
                 + (f" · {item.issued.code}" if item.issued else ""))
        pdf.set_y(max(pdf.get_y() + 3, MARGIN + 32 if item.issued else 0))
        pdf.set_draw_color(0)
        pdf.line(MARGIN, pdf.get_y(), 210 - MARGIN, pdf.get_y())
        pdf.ln(3)
        pdf.set_x(MARGIN)
        pdf.set_font("sans", "B", 10.5)
        self.mc(WIDTH, 5.5, f"{index + 1}. {self.L(section.title)}", new_x="LMARGIN",
                       new_y="NEXT")
        if section.intro:
            pdf.set_font("sans", "", 8.5)
            self.mc(WIDTH, 4.2, self.L(section.intro), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)

    def mc(self, *args: Any, **kwargs: Any) -> None:
        """``multi_cell``, left-aligned (fpdf2 justifies by default)."""
        kwargs.setdefault("align", "L")
        self.pdf.multi_cell(*args, **kwargs)

    def room(self, height: float, again: Any) -> None:
        if self.pdf.get_y() + height > BOTTOM:
            again()

    def box(self, x: float, y: float) -> None:
        self.pdf.rect(x, y, BOX, BOX)

    def question_list(self, q: Question, num: str, again: Any) -> None:
        """``q`` with its number, text and answer space as its type lays it out
        (:meth:`~questionnaires.QuestionKind.paper_layout`); on a new page unless its text and
        answer space fit (a long option list may go on over the page)."""
        pdf = self.pdf
        layout = q.type.kind.paper_layout(q)
        self.room(10 + _answer_room(q, layout), again)
        pdf.set_x(MARGIN)
        pdf.set_font("sans", "B", 9)
        note = "" if not q.show_if else " (nếu áp dụng / if applicable)"
        hint = f" ({layout.hint})" if layout.hint else ""
        self.mc(WIDTH, 4.5, f"{num}. {self.L(q.text)}{hint}{note}", new_x="LMARGIN",
                       new_y="NEXT")
        pdf.set_font("sans", "", 8.5)
        match layout.answer:
            case PaperAnswer.OPTION_LIST:
                self._option_list(q, again)
            case PaperAnswer.OPTION_ROW:
                self._option_row(q)
            case PaperAnswer.DIGITS:
                self._digits(layout.count)
            case PaperAnswer.LINES:
                self._lines(layout.count)
            case _:
                assert_never(layout.answer)
        pdf.ln(2.5)

    def _option_list(self, q: Question, again: Any) -> None:
        pdf = self.pdf
        for o in q.options:
            self.room(5, again)
            y = pdf.get_y() + 0.6
            self.box(MARGIN + 4, y)
            pdf.set_xy(MARGIN + 4 + BOX + 2, y - 0.4)
            self.mc(WIDTH - 12, 4.4, _with_code(o, self.L(o.label)), new_x="LMARGIN",
                    new_y="NEXT")

    def _option_row(self, q: Question) -> None:
        pdf = self.pdf
        n = len(q.options)
        col = (WIDTH - 4) / max(n, 1)
        y = pdf.get_y() + 1
        for k, o in enumerate(q.options):
            x = MARGIN + 4 + k * col
            self.box(x, y)
            pdf.set_xy(x + BOX + 1, y - 0.4)
            self.mc(col - BOX - 2, 3.8, _with_code(o, self.L(o.label)), new_x="RIGHT",
                           new_y="TOP")
        pdf.set_y(y + 8.5)

    def _digits(self, count: int) -> None:
        pdf = self.pdf
        y = pdf.get_y() + 1
        for k in range(count):
            pdf.rect(MARGIN + 4 + k * 6, y, 6, 7)
        pdf.set_y(y + 8)

    def _lines(self, count: int) -> None:
        pdf = self.pdf
        y = pdf.get_y() + 6
        for _ in range(count):
            pdf.line(MARGIN + 4, y, 210 - MARGIN, y)
            y += 7
        pdf.set_y(y - 4)

    def grid(self, section: Section, units: Sequence[str], again: Any) -> None:
        """Questions x rated units; each cell holds one box per option code."""
        pdf = self.pdf
        for start in range(0, len(units), GRID_UNITS):
            block = units[start:start + GRID_UNITS]
            q_w = 62.0
            col = (WIDTH - q_w) / len(block)
            self.room(20, again)
            pdf.set_font("sans", "B", 7.5)
            y = pdf.get_y()
            pdf.set_xy(MARGIN, y)
            self.mc(q_w, 3.6, "Câu hỏi / Question", border=0)
            heights = []
            for k, name in enumerate(block):
                pdf.set_xy(MARGIN + q_w + k * col, y)
                self.mc(col, 3.6, name, border=0, align="C")
                heights.append(pdf.get_y())
            pdf.set_y(max(heights) + 1)
            pdf.line(MARGIN, pdf.get_y(), 210 - MARGIN, pdf.get_y())
            for num, q in enumerate(section.questions, start=1):
                legend = "  ".join(f"{_mark(o, j)} = {self.L(o.label)}"
                                   for j, o in enumerate(q.options, start=1))
                self.room(16, again)
                y = pdf.get_y() + 1
                pdf.set_xy(MARGIN, y)
                pdf.set_font("sans", "", 7.5)
                self.mc(q_w - 2, 3.5, f"{num}. {self.L(q.text)}", new_x="LMARGIN",
                               new_y="NEXT")
                if legend:
                    pdf.set_x(MARGIN)
                    pdf.set_font("sans", "", 6)
                    self.mc(q_w - 2, 2.8, legend, new_x="LMARGIN", new_y="NEXT")
                bottom = pdf.get_y()
                for k in range(len(block)):
                    x = MARGIN + q_w + k * col + 1
                    if q.type.kind.has_options:
                        per_row = max(1, int((col - 2) // (BOX + 4.5)))
                        for j, o in enumerate(q.options):
                            bx = x + (j % per_row) * (BOX + 4.5)
                            by = y + (j // per_row) * (BOX + 1.5)
                            self.box(bx, by)
                            pdf.set_font("sans", "", 6)
                            pdf.text(bx + BOX + 0.5, by + BOX - 0.6, _mark(o, j + 1))
                            bottom = max(bottom, by + BOX + 1)
                    else:
                        pdf.rect(x, y, col - 2, 6)
                        bottom = max(bottom, y + 7)
                pdf.set_y(bottom + 1)
                pdf.set_draw_color(180)
                pdf.line(MARGIN, pdf.get_y(), 210 - MARGIN, pdf.get_y())
                pdf.set_draw_color(0)
            pdf.ln(3)


def paper_pdf(items: Sequence[PaperItem], lang: str = "vi", title: str = "") -> bytes:
    """The questionnaires as an A4 PDF, one or more pages per section, the form's QR and
    short code on every page; matrix forms (several rated units) as grids."""
    pdf = new_pdf()
    pdf.set_title(title or "PAR")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    w = _Writer(pdf, lang)
    matrices = qr_matrices([i.issued.link if i.issued else "-" for i in items])
    for item, matrix in zip(items, matrices, strict=True):
        q = item.questionnaire
        units = list(item.issued.units) if item.issued else []
        total = len(q.sections)
        for index, section in enumerate(q.sections):
            def again(item: PaperItem = item, matrix: Any = matrix, section: Section = section,
                      index: int = index, total: int = total) -> None:
                w.header(item, matrix, section, index, total)

            again()
            if len(units) > 1:
                w.grid(section, units, again)
            else:
                for num, question in enumerate(section.questions, start=1):
                    w.question_list(question, f"{index + 1}.{num}", again)
    if not items:
        pdf.add_page()
    return bytes(pdf.output())


def paper_items_for(issued: Sequence[IssuedForm], campaign: Campaign) -> list[PaperItem]:
    """Printable items for freshly issued forms (their questionnaire versions loaded once)."""
    s = db.session()
    versions: dict[int, int] = dict(s.execute(select(Form.id, Form.questionnaire_version_id).where(
        Form.id.in_([i.form_id for i in issued]))).tuples().all()) if issued else {}
    cache: dict[int, Questionnaire] = {}
    out = []
    for i in issued:
        vid = versions[i.form_id]
        if vid not in cache:
            cache[vid] = questionnaire_for(s.get_one(QuestionnaireVersion, vid))
        out.append(PaperItem(cache[vid], campaign.name_vi, i))
    return out


def blank_items(campaign: Campaign, group: str) -> list[PaperItem]:
    """One blank questionnaire per questionnaire version the group's forms use."""
    s = db.session()
    ids = s.scalars(select(Form.questionnaire_version_id).distinct().join(
        RespondentGroup, RespondentGroup.id == Form.group_id).where(
        Form.campaign_id == campaign.id, RespondentGroup.code == group)).all()
    return [PaperItem(questionnaire_for(s.get_one(QuestionnaireVersion, v)), campaign.name_vi)
            for v in sorted(ids)]


# --- data entry --------------------------------------------------------------------------

class EntryOutcome(enum.Enum):
    SUBMITTED = "submitted"
    WAITING = "waiting"  # double entry: the first entry is in, a second clerk keys it blind
    MISMATCH = "mismatch"  # both entries are in and differ: to be resolved
    ALREADY_SUBMITTED = "already_submitted"
    INCOMPLETE = "incomplete"  # required questions left blank (single entry: nothing saved)
    CLOSED = "closed"
    QUOTA_FULL = "quota_full"
    TAKEN = "taken"  # two other clerks have keyed this form already


@dataclass(frozen=True)
class Mismatch:
    assignment: str  # assignment id, as text
    unit_index: int
    question_id: str
    first: Any
    second: Any


@dataclass
class EntryResult:
    outcome: EntryOutcome
    mismatches: list[Mismatch] = field(default_factory=list)
    missing: list[tuple[int, str]] = field(default_factory=list)  # (unit index, question id)


def normalize(ctx: FormContext, answers: Answers) -> Answers:
    """Keyed answers per assignment: blanks and answers hidden by show-if dropped."""
    out: Answers = {}
    for a in ctx.assignments:
        given = {k: v for k, v in answers.get(str(a.id), {}).items() if v not in (None, "", [])}
        out[str(a.id)] = ctx.questionnaire.visible_answers(given)
    return out


def entries(form_id: int) -> list[PaperEntry]:
    return list(db.session().scalars(select(PaperEntry).where(
        PaperEntry.form_id == form_id).order_by(PaperEntry.entry_no)))


def compare(ctx: FormContext, first: Answers, second: Answers) -> list[Mismatch]:
    out = []
    for i, a in enumerate(ctx.assignments):
        one, two = first.get(str(a.id), {}), second.get(str(a.id), {})
        for q in ctx.questionnaire.questions():
            if one.get(q.id) != two.get(q.id):
                out.append(Mismatch(str(a.id), i, q.id, one.get(q.id), two.get(q.id)))
    return out


def _missing(ctx: FormContext, answers: Answers) -> list[tuple[int, str]]:
    return [(i, q.id) for i, a in enumerate(ctx.assignments)
            for q in ctx.questionnaire.missing_required(answers.get(str(a.id), {}))]


def double_entry_of(form_id: int) -> bool | None:
    """Whether the form is being keyed twice (decided by its first entry); None: no entry."""
    first = next(iter(entries(form_id)), None)
    return None if first is None else first.double


def record_entry(ctx: FormContext, clerk_id: int, answers: Answers, double: bool
                 ) -> EntryResult:
    """Key one clerk's reading of a paper form (see the module docstring): one transaction,
    the entry and (when it settles the form) the submit together."""
    if ctx.submitted:
        return EntryResult(EntryOutcome.ALREADY_SUBMITTED)
    keyed = normalize(ctx, answers)
    try:
        with db.write_transaction() as s:
            rows = _entries_in(s, ctx.form.id)
            if rows:
                double = rows[0].double
            if not double:
                return _submit(s, ctx, keyed, [clerk_id])
            mine = next((e for e in rows if e.clerk_id == clerk_id), None)
            if mine is not None:
                mine.answers = keyed
                mine.saved_at = utcnow()
            elif len(rows) >= 2:
                return EntryResult(EntryOutcome.TAKEN)
            else:
                used = {e.entry_no for e in rows}
                s.add(PaperEntry(form_id=ctx.form.id, entry_no=1 if 1 not in used else 2,
                                 clerk_id=clerk_id, double=True, answers=keyed))
            s.flush()
            return _settle(s, ctx)
    except IntegrityError:  # another clerk saved the same entry number at the same moment
        return EntryResult(EntryOutcome.TAKEN)


def _entries_in(s: Session, form_id: int) -> list[PaperEntry]:
    return list(s.scalars(select(PaperEntry).where(PaperEntry.form_id == form_id)
                          .order_by(PaperEntry.entry_no)))


def _settle(s: Session, ctx: FormContext) -> EntryResult:
    """Where the form's two entries leave it: waiting, mismatched, or submitted."""
    rows = _entries_in(s, ctx.form.id)
    if len(rows) < 2:
        return EntryResult(EntryOutcome.WAITING)
    mismatches = compare(ctx, rows[0].answers, rows[1].answers)
    if mismatches:
        return EntryResult(EntryOutcome.MISMATCH, mismatches)
    return _submit(s, ctx, rows[0].answers, [rows[0].clerk_id, rows[1].clerk_id])


def mismatches_of(ctx: FormContext) -> list[Mismatch]:
    rows = entries(ctx.form.id)
    return compare(ctx, rows[0].answers, rows[1].answers) if len(rows) == 2 else []


def resolve(ctx: FormContext, picks: dict[tuple[str, str], int]) -> EntryResult:
    """Settle mismatches: ``picks`` maps (assignment, question) to the entry (1 or 2) whose
    value is right; both entries then hold it, and the form is submitted if they agree, in
    the same transaction."""
    if ctx.submitted:
        return EntryResult(EntryOutcome.ALREADY_SUBMITTED)
    with db.write_transaction() as s:
        rows = _entries_in(s, ctx.form.id)
        if len(rows) == 2:
            one = {k: dict(v) for k, v in rows[0].answers.items()}
            two = {k: dict(v) for k, v in rows[1].answers.items()}
            for (akey, qid), pick in picks.items():
                source = one if pick == 1 else two
                value = source.get(akey, {}).get(qid)
                for target in (one, two):
                    target.setdefault(akey, {}).pop(qid, None)
                    if value is not None:
                        target[akey][qid] = value
            rows[0].answers, rows[1].answers = one, two
            record_audit("paper.resolve", province_code=ctx.campaign.province_code,
                         object_type="form", object_id=ctx.form.id,
                         detail={"items": len(picks)})
            s.flush()
        return _settle(s, ctx)


_FORM_NOW = select(Form.status, Form.mode).where(Form.id == bindparam("fid"))
_AS_PAPER = (update(Form).where(Form.id == bindparam("fid"), Form.mode != Mode.PUBLIC)
             .values(mode=Mode.PAPER))


def _submit(s: Session, ctx: FormContext, answers: Answers, clerks: list[int]) -> EntryResult:
    """Submit keyed answers as a paper form (a public QR form stays one: counted apart) in
    the clerk's transaction, through the respondent's submit
    (:func:`~survey.services.responding.store_submission`). A refused submit (quota full,
    submitted meanwhile) is undone with its savepoint; the entries stay."""
    if campaign_availability(ctx.campaign) is not Availability.OPEN:
        return EntryResult(EntryOutcome.CLOSED)
    missing = _missing(ctx, answers)
    if missing:
        return EntryResult(EntryOutcome.INCOMPLETE, missing=missing)
    try:
        with db.write_transaction():  # inside the entry's block: a savepoint, undone if refused
            conn = s.connection()
            found = conn.execute(_FORM_NOW, {"fid": ctx.form.id}).first()
            if found is None or found.status is FormStatus.SUBMITTED:
                raise SubmitRefused(SubmitOutcome.ALREADY_SUBMITTED)
            conn.execute(_AS_PAPER, {"fid": ctx.form.id})
            mode = found.mode if found.mode is Mode.PUBLIC else Mode.PAPER
            keyed = replace(ctx, form=replace(ctx.form, status=found.status, mode=mode),
                            answers=answers)
            store_submission(s, keyed, utcnow())
    except SubmitRefused as refused:
        return EntryResult(_ENTRY_OUTCOME[refused.outcome])
    s.execute(delete(PaperEntry).where(PaperEntry.form_id == ctx.form.id))
    record_audit("paper.submit", province_code=ctx.campaign.province_code,
                 object_type="form", object_id=ctx.form.id, detail={"clerks": clerks})
    return EntryResult(EntryOutcome.SUBMITTED)


_ENTRY_OUTCOME = {
    SubmitOutcome.SUBMITTED: EntryOutcome.SUBMITTED,
    SubmitOutcome.ALREADY_SUBMITTED: EntryOutcome.ALREADY_SUBMITTED,
    SubmitOutcome.INCOMPLETE: EntryOutcome.INCOMPLETE,
    SubmitOutcome.CLOSED: EntryOutcome.CLOSED,
    SubmitOutcome.QUOTA_FULL: EntryOutcome.QUOTA_FULL,
}


@dataclass(frozen=True)
class PendingForm:
    form_id: int
    entries: int
    mismatches: int


def pending_forms(campaign: Campaign) -> list[PendingForm]:
    """Forms of a campaign with paper entries not yet submitted (waiting or mismatched)."""
    s = db.session()
    ids = s.scalars(select(PaperEntry.form_id).distinct().join(Form, Form.id == PaperEntry.form_id)
                    .where(Form.campaign_id == campaign.id).order_by(PaperEntry.form_id)).all()
    out = []
    for form_id in ids[:500]:
        ctx = load_form(form_id)
        if ctx is None:
            continue
        rows = entries(form_id)
        out.append(PendingForm(form_id, len(rows), len(mismatches_of(ctx))))
    return out
