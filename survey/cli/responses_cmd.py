"""``par-survey responses export``: response microdata with the design, for analysts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from survey.services.microdata import MICRODATA_FORMATS, VALUES, export_responses
from questionnaires.problems import N_
from survey.cli.common import campaign_or_exit, fail, problem_lines, say
from survey.services.scores import DesignError, ResponseFilter


@click.group("responses", help="Response microdata.")
def responses_group() -> None:
    pass


@responses_group.command("export", help="One row per valid response and rated unit, with stratum, psu, "
                                        "weight and fpc; codes as printed on the paper form, or scores.")
@click.option("--campaign", "campaign_code", required=True, help="Campaign code.")
@click.option("--format", "fmt", type=click.Choice(MICRODATA_FORMATS), required=True)
@click.option("--values", type=click.Choice(VALUES), default="codes", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--unit", "units", multiple=True, help="Only these rated units (repeatable).")
@click.option("--group", "groups", multiple=True, help="Only these respondent groups (repeatable).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only responses submitted on or after.")
def export(campaign_code: str, fmt: str, values: str, out: Path, units: tuple[str, ...],
           groups: tuple[str, ...], since: dt.datetime | None) -> None:
    campaign_id = campaign_or_exit(campaign_code).id
    filters = ResponseFilter(units, groups, since.date() if since else None)
    try:
        path = export_responses(campaign_id, fmt, out, values, filters)
    except DesignError as exc:
        fail(problem_lines([exc.problem]))
    click.echo(say(N_("wrote {file}"), file=path))
