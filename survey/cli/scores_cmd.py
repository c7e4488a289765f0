"""``par-survey scores``: score a campaign's valid responses and export the results."""

from __future__ import annotations

from pathlib import Path

import click

from questionnaires import Problem
from questionnaires.problems import N_
from survey.cli.common import campaign_or_exit, fail, problem_lines, say
from survey.i18n import translator
from survey.cli.scope import as_option, provinces_of
from survey.services.scores import (
    FORMATS,
    AppraisedRejected,
    DesignError,
    export_scores,
    read_appraised,
)
from survey.services.scoring_config import ScoringConfigError, scoring_for_campaign, scoring_problems


@click.command("scores", help="Score a campaign's valid responses and export them "
                              "(csv/xlsx/json tables, sav/dta microdata).")
@click.option("--campaign", "campaign_code", required=True, help="Campaign code.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="xlsx", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (csv: a ZIP of one CSV per table with methods.csv and codebook.csv).")
@click.option("--appraised", "appraised_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Appraised points, CSV or XLSX with columns unit, appraised_points, "
                   "max_appraised_points: fills the index %, ranks and bands.")
@as_option
def scores(campaign_code: str, fmt: str, out: Path, appraised_file: Path | None,
           actor: str | None) -> None:
    campaign_id = campaign_or_exit(campaign_code, provinces_of(actor)).id
    try:
        config = scoring_for_campaign(campaign_id).config
    except ScoringConfigError as exc:
        fail([Problem("SCORING-CONFIG-INVALID").message(translator())]
             + [f"  {line}" for line in problem_lines(scoring_problems(exc))])
    if not config.sub_criteria:
        fail([Problem("SCORING-NO-ITEMS").message(translator())])
    appraised = None
    if appraised_file is not None:
        try:
            imported = read_appraised(campaign_id, appraised_file, config)
        except AppraisedRejected as exc:
            refused = Problem("APPRAISED-REFUSED", params={"file": appraised_file})
            fail([refused.message(translator())]
                 + [f"  {line}" for line in problem_lines(exc.problems)])
        config, appraised = imported.config, dict(imported.points)
    try:
        written = export_scores(campaign_id, config, fmt, out, appraised=appraised)
    except DesignError as exc:
        fail(problem_lines([exc.problem]))
    for path in written:
        click.echo(say(N_("wrote {file}"), file=path))
