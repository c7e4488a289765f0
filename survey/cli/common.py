"""Helpers shared by the command groups."""

from __future__ import annotations

import sys

import click

from survey.models import Campaign
from survey.services.campaigns import CampaignNotFound, find_campaign


def campaign_or_exit(code: str) -> Campaign:
    """The campaign ``code`` names; else its bilingual message on stderr and exit status 1."""
    try:
        return find_campaign(code)
    except CampaignNotFound as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
