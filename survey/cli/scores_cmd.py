"""``par-survey scores``: score a campaign's valid responses and export the results."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from survey.services.scores import (
    FORMATS,
    default_scoring_config,
    export_scores,
    find_campaign_id,
    load_campaign_questionnaires,
)


@click.command("scores", help="Score a campaign's valid responses and export them "
                              "(csv/xlsx/json tables, sav/dta microdata).")
@click.option("--campaign", "campaign_code", required=True, help="Campaign code.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="xlsx", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (csv also writes <stem>.units.csv beside it).")
@with_appcontext
def scores(campaign_code: str, fmt: str, out: Path) -> None:
    campaign_id = find_campaign_id(campaign_code)
    if campaign_id is None:
        click.echo(f"Không có chiến dịch mã {campaign_code!r}; kiểm tra lại mã chiến dịch. / "
                   f"No campaign with code {campaign_code!r}; check the campaign code.", err=True)
        sys.exit(1)
    # Until the campaign definition carries its points table, every sub-criterion is worth 1.
    config = default_scoring_config(load_campaign_questionnaires(campaign_id))
    if not config.sub_criteria:
        click.echo("Các phiếu của chiến dịch không có câu hỏi chấm điểm. / "
                   "The campaign's questionnaires have no scored questions.", err=True)
        sys.exit(1)
    for path in export_scores(campaign_id, config, fmt, out):
        click.echo(f"wrote {path}")
