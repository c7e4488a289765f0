"""``par-survey privacy``: retention of personal data."""

from __future__ import annotations

import sys

import click

from questionnaires.problems import N_
from survey.cli.common import say
from survey.i18n import translator
from survey.services.campaigns import CampaignNotFound
from survey.services.privacy import RetentionNotDue, purge_personal_data


@click.group("privacy", help="Personal data retention.")
def privacy_group() -> None:
    pass


@privacy_group.command("purge", help="Erase respondents' names, emails and phones N days after "
                                     "the campaign closed; answers stay.")
@click.option("--campaign", "code", required=True)
@click.option("--after-days", type=click.IntRange(min=0), required=True)
def purge(code: str, after_days: int) -> None:
    try:
        report = purge_personal_data(code, after_days)
    except (CampaignNotFound, RetentionNotDue) as exc:
        click.echo(exc.message(translator()), err=True)
        sys.exit(1)
    click.echo(say(N_("erased personal data of {count} respondent(s) in {campaign}"),
                   count=report.respondents, campaign=report.campaign_code))
