"""``par-survey qr``: cards (PDF) or individual QR codes (SVG/PNG) for respondent links, and
posters for the public QR links (``--public``)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click
from flask import current_app

from questionnaires.spreadsheet import safe_row
from survey.i18n import translator
from questionnaires.problems import N_
from survey.cli.common import campaign_or_exit, fail, say
from survey.models import Campaign
from survey.services.cards import (
    FontMissing,
    cards_pdf,
    forms_query,
    issue_for_forms,
    issue_for_respondents,
    posters_pdf,
)
from survey.services.paper import paper_items_for, paper_pdf
from survey.services.public import PublicLinkError, public_posters
from survey.services.qr import png_many, qr_matrices, svg_many


#: the line ``qr`` ends with, by (paper, revoke_old)
_ISSUED = {
    (False, False): N_("QR {campaign}: {count} card(s) -> {file}"),
    (True, False): N_("QR {campaign}: {count} form(s) -> {file}"),
    (False, True): N_("QR {campaign}: {count} card(s) -> {file} (old links revoked)"),
    (True, True): N_("QR {campaign}: {count} form(s) -> {file} (old links revoked)"),
}


@click.command("qr", help="Issue a fresh link per respondent with open forms (to their "
               "home) and write printable cards (PDF, default) or one QR code per respondent "
               "(--format svg|png, --out DIR); or a fresh link per open form and paper "
               "questionnaires (--paper). Earlier links stay valid unless --revoke-old. "
               "--public: one A4 poster per public link instead (see 'par-survey public').")
@click.option("--campaign", "code", required=True)
@click.option("--unit", default=None, help="Only forms of respondents in / rating this unit.")
@click.option("--group", default=None, help="Only forms of this respondent group.")
@click.option("--format", "fmt", type=click.Choice(["pdf", "svg", "png"]), default="pdf",
              show_default=True)
@click.option("--paper", is_flag=True, help="Paper questionnaires instead of cards (PDF).")
@click.option("--revoke-old", is_flag=True, help="Revoke the links issued before.")
@click.option("--public", "public", is_flag=True,
              help="Posters of the live public links (of --unit / --group), no tokens issued.")
@click.option("--out", "out", required=True, type=click.Path(),
              help="The PDF file, or the directory for SVG/PNG files.")
def qr(code: str, unit: str | None, group: str | None, fmt: str, paper: bool,
       revoke_old: bool, public: bool, out: str) -> None:
    if public and (paper or revoke_old):
        click.echo(say(N_("--public cannot be combined with --paper or --revoke-old.")), err=True)
        sys.exit(2)
    campaign = campaign_or_exit(code)
    target = Path(out)
    if fmt != "pdf":
        target.mkdir(parents=True, exist_ok=True)
    elif target.is_dir():
        click.echo(say(N_("--out {out} is a directory; name the PDF file"), out=out), err=True)
        sys.exit(2)
    base = current_app.config["PUBLIC_URL"]
    if public:
        _public_posters(campaign, unit, group, fmt, target, base)
        return
    try:
        # paper questionnaires per form; cards and QR files per respondent (their home)
        issue = issue_for_forms if paper else issue_for_respondents
        issued = issue(campaign, forms_query(campaign, unit, group), base, "vi",
                       revoke_old, action="paper.issue" if paper else "cards.issue")
        if fmt == "pdf":
            data = (paper_pdf(paper_items_for(issued, campaign), title=campaign.name_vi)
                    if paper else cards_pdf(issued, campaign.name_vi))
            target.write_bytes(data)
        else:
            render = svg_many if fmt == "svg" else png_many
            rows = [["file", "respondent_id", "form_id", "name", "group", "rated_units", "code"]]
            images = render(qr_matrices([i.link for i in issued]))
            for item, image in zip(issued, images, strict=True):
                name = (f"respondent-{item.respondent_id}.{fmt}" if item.respondent_id
                        else f"form-{item.form_id}.{fmt}")
                (target / name).write_bytes(image)
                rows.append([name, str(item.respondent_id or ""), str(item.form_id), item.name,
                             item.group, "; ".join(item.units), item.code])
            with (target / "index.csv").open("w", encoding="utf-8-sig", newline="") as fh:
                # which file is whose; the links stay in the QRs
                csv.writer(fh).writerows(safe_row(r) for r in rows)
    except FontMissing as exc:
        fail([exc.message(translator()), exc.problem.fix(translator())])
    click.echo(say(_ISSUED[paper, revoke_old], campaign=campaign.code, count=len(issued),
                   file=out))


def _public_posters(campaign: Campaign, unit: str | None, group: str | None, fmt: str,
                    target: Path, base: str) -> None:
    """Posters (PDF) or QR files of the live public links; their codes are derived, so
    printing again gives the same posters until the links are rotated."""
    try:
        links, items = public_posters(campaign, group, [unit] if unit else [], base)
    except PublicLinkError as exc:
        click.echo(exc.message(translator()), err=True)
        sys.exit(1)
    try:
        if fmt == "pdf":
            target.write_bytes(posters_pdf(items, campaign.name_vi))
        else:
            render = svg_many if fmt == "svg" else png_many
            rows = [["file", "unit", "group", "url"]]
            images = render(qr_matrices([p.url for p in items]))
            for link, item, image in zip(links, items, images, strict=True):
                name = f"public-{link.rated_unit.code}-{link.group.code}-{link.id}.{fmt}"
                (target / name).write_bytes(image)
                rows.append([name, link.rated_unit.code, link.group.code, item.url])
            with (target / "index.csv").open("w", encoding="utf-8-sig", newline="") as fh:
                # public URLs: printed on the posters anyway
                csv.writer(fh).writerows(safe_row(r) for r in rows)
    except FontMissing as exc:
        fail([exc.message(translator()), exc.problem.fix(translator())])
    click.echo(say(N_("QR {campaign}: {count} public poster(s) -> {file}"),
                   campaign=campaign.code, count=len(items), file=target))
