"""``par-survey units``: a campaign's units across the 1 July 2025 merger.

``map`` lists where every unit of a campaign built on the old units went; ``crosswalk-template``
writes the file a province fills in for its departments (and any split it settles);
``crosswalk-check`` validates a filled crosswalk against the campaigns it links.  These read
campaign files, not the database.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from questionnaires.spreadsheet import safe_row
from sampling import Campaign, CampaignInvalid, load_campaign
from sampling.crosswalk import (
    Crosswalk,
    CrosswalkInvalid,
    UnitMapping,
    crosswalk_template,
    map_units,
    needs_crosswalk,
    read_crosswalk,
    reason_text,
    template_csv,
)
from sampling.units_2025 import load_unit_table
from questionnaires.problems import N_
from survey.cli.common import fail, problem_lines, remember_language, say

MAP_COLUMNS = ("old_code", "old_name", "level", "gso_code", "matched", "how", "new", "decide",
               "reason")


def _campaign(path: str) -> Campaign:
    try:
        return load_campaign(path)
    except CampaignInvalid as exc:
        fail(problem_lines(exc.errors))


def _crosswalk(path: str, old: list[Campaign], new: Campaign | None) -> Crosswalk:
    table = load_unit_table()
    try:
        return read_crosswalk(
            Path(path), old_units={c.code: {u.code: u.name_vi for u in c.units} for c in old},
            required={c.code: needs_crosswalk(c.units, c.province, table) for c in old},
            new_units=None if new is None else {u.code for u in new.units})
    except CrosswalkInvalid as exc:
        fail(problem_lines(exc.errors)
             + [say(N_("{count} error(s), crosswalk refused"), count=len(exc.errors))])


def mapping_records(rows: list[UnitMapping], lang: str) -> list[dict[str, Any]]:
    """The JSON shape of ``units map``: one record per old unit."""
    return [{
        "old_code": m.old_code, "old_name": m.old_name, "level": m.level,
        "new": [{"code": r.code, "name": r.name, "share": r.share} for r in m.new],
        "how": m.how, "gso_code": m.gso_code or None, "matched": m.matched.value,
        "decide": m.decide, "reason": reason_text(m.reason, lang) or None,
        "partial": list(m.partial), "candidates": list(m.candidates), "source": m.source or None,
    } for m in rows]


def _new_text(m: UnitMapping) -> str:
    parts = []
    for r in m.new:
        share = "" if r.share is None or (len(m.new) == 1 and r.share == 1) else f" ×{r.share:g}"
        mark = "*" if r.code in m.partial else ""
        parts.append(f"{r.code} {r.name}{share}{mark}".strip())
    return "; ".join(parts)


def _flat(m: UnitMapping, lang: str) -> list[str]:
    return [m.old_code, m.old_name, m.level, m.gso_code, m.matched.value, m.how, _new_text(m),
            "x" if m.decide else "", reason_text(m.reason, lang)]


def _table(rows: list[list[str]]) -> str:
    widths = [min(max(len(r[i]) for r in rows), 60) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c if len(c) <= 60 else c[:57] + "..." for c in r]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


@click.group("units", help="Units across the 1 July 2025 merger (đơn vị hành chính sau sắp xếp).")
def units_group() -> None:
    pass


@units_group.command("map", help="Where every unit of a campaign built on the old units went: "
                     "new units, how, and what a person must decide.")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--crosswalk", "crosswalk", type=click.Path(dir_okay=False, exists=True),
              help="A filled crosswalk for the departments (see crosswalk-template).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", is_eager=True,
              callback=remember_language)
def map_(config: str, crosswalk: str | None, fmt: str, out: str | None, lang: str) -> None:
    campaign = _campaign(config)
    cw = _crosswalk(crosswalk, [campaign], None) if crosswalk else None
    rows = map_units(campaign.units, campaign.province, load_unit_table(),
                     campaign=campaign.code, crosswalk=cw)
    if fmt == "json":
        text = json.dumps(mapping_records(rows, lang), ensure_ascii=False, indent=1) + "\n"
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
        writer.writerow(safe_row(MAP_COLUMNS))
        writer.writerows(safe_row(_flat(m, lang)) for m in rows)
        text = buffer.getvalue()
    else:
        text = _table([list(MAP_COLUMNS)] + [_flat(m, lang) for m in rows])
    decide = sum(m.decide for m in rows)
    summary = say(N_("{units} units, {decide} to decide"), units=len(rows), decide=decide)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"{summary}: {out}")
    else:
        click.echo(text, nl=False)
        click.echo(summary, err=True)


@units_group.command("crosswalk-template", help="Write the crosswalk a province fills in: one "
                     "row per department (or unit the national table cannot place), and each "
                     "part of a split commune.")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, exists=True),
              help="The earlier campaign (built on the old units).")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write here, not stdout.")
def template(config: str, out: str | None) -> None:
    campaign = _campaign(config)
    text = template_csv(crosswalk_template(campaign.units, campaign.province, load_unit_table(),
                                           campaign.code))
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(say(N_("{count} rows: {file}"), count=text.count(chr(10)) - 1, file=out))
    else:
        click.echo(text, nl=False)


@units_group.command("crosswalk-check", help="Validate a filled crosswalk against the earlier "
                     "campaign(s) and, if given, the new one.")
@click.argument("crosswalk", type=click.Path(dir_okay=False, exists=True))
@click.option("--old", "old", required=True, multiple=True,
              type=click.Path(dir_okay=False, exists=True), help="An earlier campaign file.")
@click.option("--new", "new", type=click.Path(dir_okay=False, exists=True),
              help="The new campaign file.")
def check(crosswalk: str, old: tuple[str, ...], new: str | None) -> None:
    cw = _crosswalk(crosswalk, [_campaign(p) for p in old], _campaign(new) if new else None)
    click.echo(say(N_("OK: {count} valid rows"), count=len(cw.links)))
