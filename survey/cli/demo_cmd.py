"""``par-survey demo``: migrate, load the demo campaign, print links, serve."""

from __future__ import annotations

import click
from flask import current_app
from werkzeug.serving import run_simple

from survey import db
from questionnaires.problems import N_
from survey.cli.common import commits_in_steps, say
from survey.cli.db_cmd import upgrade_database
from survey.services.demo import load_demo_campaign
from survey.services.demo_data import DEFAULT_SEED, fill_demo_campaign


@click.command("demo", help="Load the demo campaign (idempotent), print a link per demo "
               "respondent and serve the app.")
@click.option("--no-serve", is_flag=True, help="Print the links and exit.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--empty", is_flag=True, help="No simulated respondents: the campaign as listed.")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int,
              help="Seed of the simulated fieldwork (same seed, same answers).")
@commits_in_steps  # the campaign is one unit; its simulated respondents save page by page
def demo(no_serve: bool, port: int, host: str, empty: bool, seed: int) -> None:
    upgrade_database()
    with db.unit_of_work():
        result = load_demo_campaign()
    fill = None if empty else fill_demo_campaign(result.campaign_code, seed)
    base = f"http://{host}:{port}"
    # one LINK per demo respondent, to their home (group, their own unit, link), under the
    # CAMPAIGN line of the campaign they answer in
    campaign = None
    for link in sorted(result.links, key=lambda x: x.campaign_code != result.campaign_code):
        if link.campaign_code != campaign:
            campaign = link.campaign_code
            click.echo(f"CAMPAIGN {campaign}")
        click.echo(f"LINK {link.group_code} {link.unit_code} {base}/s/{link.token}")
    if result.public is not None:
        p = result.public
        click.echo(f"PUBLIC {p.group_code} {p.unit_code} {base}/q/{p.code}")
    click.echo(f"STAFF {base}/manage/login {result.admin_email} {result.admin_password}")
    if fill is not None:
        click.echo(f"FIELDWORK seed {fill.seed}: " + ("already simulated" if fill.skipped else
                   f"{fill.submitted} submitted, {fill.half_done} half done, {fill.untouched} "
                   f"not started of {fill.forms} simulated forms ({fill.seconds} s)"))
    if no_serve:
        return
    click.echo(say(N_("serving on {url} (Ctrl+C to stop)"), url=base))
    # Flask ignores app.run() inside its own CLI, so serve with werkzeug directly.
    run_simple(host, port, current_app._get_current_object(),  # type: ignore[attr-defined]
               use_reloader=False,
               threaded=True)
