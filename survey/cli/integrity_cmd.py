"""``par-survey integrity``: scan a campaign's responses for speeders, straight-lining, bursts ..."""

from __future__ import annotations

import click

from survey.cli.common import campaign_or_exit
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
    click.echo(f"{summary.campaign_code}: {summary.responses} responses; ok {c.get('ok', 0)}, "
               f"review {c.get('review', 0)}, exclude {c.get('exclude', 0)}; "
               f"excluded {summary.excluded}; unit flags {summary.unit_flags}; "
               f"reviewer decisions kept {summary.decided}")
