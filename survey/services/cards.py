"""Printable cards: one per respondent (their home: every open form of theirs), with their
name, the units rated, the short link, the short code and the QR code; A4, ten cards a page,
with cut marks. A form without a respondent gets a card of its own.

Making cards issues a fresh token per card (the raw token exists only in the PDF); earlier
links stay valid unless ``revoke_old``. Submitted forms get no card. Paper questionnaires stay
per form (:mod:`survey.services.paper`, through :func:`issue_for_forms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Select, select, update
from sqlalchemy.orm import selectinload

from questionnaires.problems import ProblemError
from survey import db
from survey.config import FONT_DIR
from survey.models import (
    AccessToken,
    Assignment,
    Campaign,
    Form,
    FormStatus,
    Mode,
    Respondent,
    RespondentGroup,
    Unit,
    utcnow,
)
from survey.services.audit import record_audit
from survey.services.qr import form_link, qr_matrices, short_code, short_link
from survey.services.tokens import issue_respondent_token, issue_token

if TYPE_CHECKING:  # fpdf is imported where a PDF is made: the app starts without it
    from fpdf import FPDF

FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FONT_PACKAGE = "fonts-dejavu-core"

# A4 in mm; 2 x 5 cards of 95 x 55 mm inside 10 mm margins (cut along the grid)
PAGE_W, PAGE_H = 210.0, 297.0
COLS, ROWS = 2, 5
CARD_W, CARD_H = 95.0, 55.0
LEFT = (PAGE_W - COLS * CARD_W) / 2
TOP = (PAGE_H - ROWS * CARD_H) / 2
QR_MM = 36.0  # 33 modules (version 4): about 1.1 mm each; 4 mm quiet zone to the cut


class FontMissing(ProblemError, RuntimeError):
    """The Unicode font for Vietnamese text is not installed (PDF-FONT-MISSING)."""


@dataclass(frozen=True)
class IssuedForm:
    """A form (or a respondent's home) with the fresh token just issued for it (exists only
    until printed)."""

    form_id: int  # a home's card: the first of the respondent's open forms
    name: str
    group: str
    units: tuple[str, ...]
    token: str
    link: str
    code: str
    respondent_id: int | None = None  # set on a card for a respondent's home


def check_fonts() -> None:
    """Raise :class:`FontMissing` (saying what to install) unless the PDF fonts are there."""
    missing = [f for f in FONT_FILES.values() if not (FONT_DIR / f).is_file()]
    if missing:
        raise FontMissing("PDF-FONT-MISSING", fonts=", ".join(missing), directory=str(FONT_DIR),
                          package=FONT_PACKAGE)


def new_pdf() -> FPDF:
    """An A4 portrait FPDF with DejaVu Sans (regular and bold) as ``sans``."""
    from fpdf import FPDF

    check_fonts()
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creator("par-survey")
    for style, name in FONT_FILES.items():
        pdf.add_font("sans", style, str(FONT_DIR / name))
    return pdf


def forms_query(campaign: Campaign, unit: str | None = None, group: str | None = None
                ) -> Select[tuple[Form]]:
    """Open (not submitted) forms of a campaign, optionally of one respondent group and of
    one unit (the respondent's own unit or a unit the form rates). Forms started from a
    public QR poster belong to whoever scanned it and get no card."""
    stmt = select(Form).where(Form.campaign_id == campaign.id,
                              Form.status != FormStatus.SUBMITTED, Form.mode != Mode.PUBLIC)
    if group:
        stmt = stmt.where(Form.group_id.in_(select(RespondentGroup.id).where(
            RespondentGroup.campaign_id == campaign.id, RespondentGroup.code == group)))
    if unit:
        unit_ids = select(Unit.id).where(Unit.campaign_id == campaign.id, Unit.code == unit)
        stmt = stmt.where(
            Form.respondent_id.in_(select(Respondent.id).where(Respondent.unit_id.in_(unit_ids)))
            | Form.id.in_(select(Assignment.form_id).where(Assignment.rated_unit_id.in_(unit_ids))))
    return stmt


def issue_for_forms(campaign: Campaign, stmt: Select[tuple[Form]], base_url: str, lang: str,
                    revoke_old: bool = False, action: str = "cards.issue"
                    ) -> list[IssuedForm]:
    """Issue one fresh token per selected form (revoking the old ones if asked), in one
    transaction, and return what is printed. Audited (counts only, never tokens)."""
    check_fonts()  # before any token is issued (or an old one revoked)
    out: list[IssuedForm] = []
    with db.write_transaction() as s:
        forms = list(s.scalars(stmt.options(
            selectinload(Form.respondent), selectinload(Form.group),
            selectinload(Form.assignments).selectinload(Assignment.rated_unit))))
        ids = [f.id for f in forms]
        if revoke_old and ids:
            for i in range(0, len(ids), 1000):
                s.execute(update(AccessToken).where(
                    AccessToken.form_id.in_(ids[i:i + 1000]),
                    AccessToken.revoked_at.is_(None)).values(revoked_at=utcnow()))
        for f in forms:
            token = issue_token(f)
            link = form_link(token, base_url)
            out.append(IssuedForm(
                form_id=f.id, name=f.respondent.full_name if f.respondent else "",
                group=f.group.name(lang), units=tuple(a.rated_unit.name(lang)
                                                      for a in f.assignments),
                token=token, link=link, code=short_code(token)))
        record_audit(action, province_code=campaign.province_code, object_type="campaign",
                     object_id=campaign.code, detail={"forms": len(out), "revoke_old": revoke_old})
    out.sort(key=lambda c: (c.units, c.group, c.name, c.form_id))
    return out


def issue_for_respondents(campaign: Campaign, stmt: Select[tuple[Form]], base_url: str,
                          lang: str, revoke_old: bool = False, action: str = "cards.issue"
                          ) -> list[IssuedForm]:
    """Issue one fresh token per respondent with a selected form, opening their home (listing
    the units of all their selected forms), and one per selected form without a respondent;
    in one transaction (revoking the old links of those respondents and forms if asked).
    Audited (counts only, never tokens)."""
    check_fonts()  # before any token is issued (or an old one revoked)
    out: list[IssuedForm] = []
    with db.write_transaction() as s:
        forms = list(s.scalars(stmt.order_by(Form.id).options(
            selectinload(Form.respondent), selectinload(Form.group),
            selectinload(Form.assignments).selectinload(Assignment.rated_unit))))
        people: dict[int, list[Form]] = {}
        alone: list[Form] = []
        for f in forms:
            if f.respondent_id is None:
                alone.append(f)
            else:
                people.setdefault(f.respondent_id, []).append(f)
        if revoke_old and forms:
            ids, rids = [f.id for f in forms], list(people)
            for i in range(0, max(len(ids), len(rids)), 1000):
                s.execute(update(AccessToken).where(
                    AccessToken.form_id.in_(ids[i:i + 1000])
                    | AccessToken.respondent_id.in_(rids[i:i + 1000]),
                    AccessToken.revoked_at.is_(None)).values(revoked_at=utcnow()))
        for rid, own in people.items():
            token = issue_respondent_token(rid)
            link = form_link(token, base_url)
            units = tuple(dict.fromkeys(a.rated_unit.name(lang) for f in own
                                        for a in f.assignments))
            out.append(IssuedForm(
                form_id=own[0].id, name=own[0].respondent.full_name if own[0].respondent else "",
                group=own[0].group.name(lang), units=units, token=token, link=link,
                code=short_code(token), respondent_id=rid))
        for f in alone:
            token = issue_token(f)
            out.append(IssuedForm(
                form_id=f.id, name="", group=f.group.name(lang),
                units=tuple(a.rated_unit.name(lang) for a in f.assignments), token=token,
                link=form_link(token, base_url), code=short_code(token)))
        record_audit(action, province_code=campaign.province_code, object_type="campaign",
                     object_id=campaign.code, detail={"cards": len(out), "forms": len(forms),
                                                      "revoke_old": revoke_old})
    out.sort(key=lambda c: (c.units, c.group, c.name, c.form_id))
    return out


class _Fitter:
    """Cuts text with an ellipsis to a width; widths are cached (groups and units repeat)."""

    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.cache: dict[tuple[str, float, str, float], str] = {}

    def __call__(self, text: str, width: float) -> str:
        key = (self.pdf.font_style, self.pdf.font_size_pt, text, width)
        if key not in self.cache:
            if len(self.cache) > 10000:
                self.cache.clear()
            fitted = text
            if self.pdf.get_string_width(text) > width:
                while fitted and self.pdf.get_string_width(fitted + "…") > width:
                    fitted = fitted[:-1]
                fitted += "…"
            self.cache[key] = fitted
        return self.cache[key]


def draw_qr(pdf: FPDF, matrix: np.ndarray, x: float, y: float, size: float) -> None:
    """Draw a QR matrix as vector rectangles (one per run of dark modules) at (x, y), ``size``
    mm wide. Written straight into the page content (one transform, one fill) because
    thousands of ``rect`` calls per page are too slow for large print runs."""
    n = matrix.shape[0]
    module = size / n * pdf.k
    padded = np.zeros((n, n + 2), dtype=np.int8)
    padded[:, 1:-1] = matrix
    diff = np.diff(padded, axis=1)
    starts = np.argwhere(diff == 1)
    lengths = np.argwhere(diff == -1)[:, 1] - starts[:, 1]
    runs = zip(starts[:, 1].tolist(), starts[:, 0].tolist(), lengths.tolist(), strict=True)
    body = "".join(map("%d %d %d 1 re\n".__mod__, runs))
    pdf._out(f"q 0 g {module:.4f} 0 0 {-module:.4f} {x * pdf.k:.2f} {(pdf.h - y) * pdf.k:.2f} cm\n"
             f"{body}f Q")  # noqa: SLF001 - fpdf2 2.8.9's page content writer


def _cut_marks(pdf: FPDF) -> None:
    """Dashed guides along the card grid and solid ticks in the margins."""
    pdf.set_draw_color(150)
    pdf.set_line_width(0.1)
    right, bottom = LEFT + COLS * CARD_W, TOP + ROWS * CARD_H
    with pdf.local_context():
        pdf.set_dash_pattern(dash=1, gap=2)
        for c in range(COLS + 1):
            x = LEFT + c * CARD_W
            pdf.line(x, TOP, x, bottom)
        for r in range(ROWS + 1):
            y = TOP + r * CARD_H
            pdf.line(LEFT, y, right, y)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    for c in range(COLS + 1):
        x = LEFT + c * CARD_W
        pdf.line(x, 2, x, TOP - 2)
        pdf.line(x, bottom + 2, x, PAGE_H - 2)
    for r in range(ROWS + 1):
        y = TOP + r * CARD_H
        pdf.line(2, y, LEFT - 2, y)
        pdf.line(right + 2, y, PAGE_W - 2, y)


def cards_pdf(items: Sequence[IssuedForm], title: str) -> bytes:
    """The cards as an A4 PDF (``COLS`` x ``ROWS`` a page); the QR codes are 1-bit images."""
    pdf = new_pdf()
    pdf.set_title(title)
    fit = _Fitter(pdf)
    matrices = qr_matrices([c.link for c in items])
    per_page = COLS * ROWS
    text_w = CARD_W - QR_MM - 8
    for n, (card, matrix) in enumerate(zip(items, matrices, strict=True)):
        slot = n % per_page
        if slot == 0:
            pdf.add_page()
            _cut_marks(pdf)
        x = LEFT + (slot % COLS) * CARD_W
        y = TOP + (slot // COLS) * CARD_H
        draw_qr(pdf, matrix, x + CARD_W - QR_MM - 4.5, y + (CARD_H - QR_MM) / 2, QR_MM)
        tx = x + 4
        pdf.set_font("sans", "", 6.5)
        pdf.text(tx, y + 6, fit(title, text_w))
        pdf.set_font("sans", "B", 10)
        pdf.text(tx, y + 13, fit(card.name or "—", text_w))
        pdf.set_font("sans", "", 7)
        pdf.text(tx, y + 19, fit(card.group, text_w))
        pdf.text(tx, y + 25, "Đánh giá / Rating:")
        pdf.set_font("sans", "B", 8)
        units = card.units or ("—",)
        pdf.text(tx, y + 29.5, fit(units[0] + (f" (+{len(units) - 1})"
                                                     if len(units) > 1 else ""), text_w))
        pdf.set_font("sans", "", 6.5)
        pdf.text(tx, y + 35, "Quét mã QR hoặc mở / Scan or open:")
        host, _, token = short_link(card.link).rpartition("/")
        pdf.text(tx, y + 39, fit(host + "/", text_w + 2))
        pdf.text(tx, y + 43, token)
        pdf.set_font("sans", "B", 8)
        pdf.text(tx, y + 49, f"Mã / Code: {card.code}")
    if not items:
        pdf.add_page()
        pdf.set_font("sans", "", 10)
        pdf.text(LEFT, TOP, "—")
    return bytes(pdf.output())


# --- public posters ----------------------------------------------------------------------

POSTER_QR_MM = 120.0  # about 3 mm a module for a 33-module code: readable from a metre away


@dataclass(frozen=True)
class Poster:
    """One unit's public QR poster (the URL holds the link's public code, not a token)."""

    unit_vi: str
    unit_en: str
    group: str
    url: str


POSTER_STEPS_VI = ("1. Mở camera điện thoại và quét mã QR.",
                   "2. Bấm «Bắt đầu» và trả lời vài câu hỏi (khoảng 5 phút).",
                   "Không cần ghi tên. Câu trả lời được bảo mật.")
POSTER_STEPS_EN = ("1. Open your phone's camera and scan the QR code.",
                   "2. Press “Start” and answer a few questions (about 5 minutes).",
                   "No name needed. Your answers are confidential.")


def posters_pdf(items: Sequence[Poster], title: str) -> bytes:
    """One A4 page per poster: the survey, the unit, a large QR of the URL, the short URL and
    short instructions in Vietnamese and English."""
    pdf = new_pdf()
    pdf.set_title(title)
    fit = _Fitter(pdf)
    matrices = qr_matrices([p.url for p in items])
    margin = 15.0
    width = PAGE_W - 2 * margin

    def centred(text: str, size: float, style: str = "", h: float | None = None,
                one_line: bool = False) -> None:
        pdf.set_font("sans", style, size)
        pdf.set_x(margin)
        pdf.multi_cell(width, h or size * 0.5, fit(text, width) if one_line else text,
                       align="C", new_x="LMARGIN", new_y="NEXT")

    for poster, matrix in zip(items, matrices, strict=True):
        pdf.add_page()
        pdf.set_y(margin)
        centred(title, 11, one_line=True)
        pdf.ln(3)
        centred("Ý KIẾN CỦA BẠN VỀ DỊCH VỤ CÔNG", 22, "B")
        centred("Your opinion on the public service you received", 13)
        pdf.ln(4)
        centred(poster.unit_vi, 18, "B")
        if poster.unit_en and poster.unit_en != poster.unit_vi:
            centred(poster.unit_en, 12)
        y = max(pdf.get_y() + 4, 82.0)
        size = min(POSTER_QR_MM, PAGE_H - y - 78)
        draw_qr(pdf, matrix, (PAGE_W - size) / 2, y, size)
        pdf.set_y(y + size + 3)
        centred(short_link(poster.url), 14, "B")
        pdf.ln(3)
        for line in POSTER_STEPS_VI:
            centred(line, 12, h=6)
        pdf.ln(2)
        for line in POSTER_STEPS_EN:
            centred(line, 10.5, h=5.2)
        pdf.set_y(PAGE_H - margin - 10)
        centred("Không dùng điện thoại? Xin nhân viên tại quầy một phiếu giấy.", 10, "B", h=5)
        centred("No phone? Ask the staff at the counter for a paper form.", 9.5, h=5)
    if not items:
        pdf.add_page()
        pdf.set_font("sans", "", 10)
        pdf.text(LEFT, TOP, "—")
    return bytes(pdf.output())
