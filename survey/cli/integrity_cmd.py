"""``par-survey integrity``: scan a campaign's responses for speeders, straight-lining, bursts ..."""

from __future__ import annotations

import click

from questionnaires.problems import N_
from survey.cli.common import campaign_or_exit, say
from survey.services.integrity import scan_campaign


@click.group("integrity", help="Response-integrity checks.")
def integrity_group() -> None:
    pass


@integrity_group.command("scan", help="Scan a campaign's responses. Re-running replaces the "
                                      "previous scan's flags and keeps reviewers' decisions.")
@click.option("--campaign", "campaign_code", required=True, help="Campaign code.")
def scan(campaign_code: str) -> None:
    campaign = campaign_or_exit(campaign_code)
    summary = scan_campaign(campaign, actor_email="cli")
    c = summary.counts
    click.echo(say(N_("{campaign}: {responses} responses; ok {ok}, review {review}, exclude "
                      "{exclude}; excluded {excluded}; unit flags {unit_flags}; reviewer "
                      "decisions kept {decided}"),
                   campaign=summary.campaign_code, responses=summary.responses,
                   ok=c.get("ok", 0), review=c.get("review", 0), exclude=c.get("exclude", 0),
                   excluded=summary.excluded, unit_flags=summary.unit_flags,
                   decided=summary.decided))
