"""Helpers shared by the command groups."""

from __future__ import annotations

import sys
from collections.abc import Collection

import click

from survey.models import Campaign
from survey.services.campaigns import CampaignNotFound, find_campaign


def campaign_or_exit(code: str, provinces: Collection[str] | None = None) -> Campaign:
    """The campaign ``code`` names, within ``provinces`` when a command runs as a staff account
    (``--as``, :mod:`survey.cli.scope`); else its bilingual message on stderr and exit 1."""
    try:
        return find_campaign(code, provinces)
    except CampaignNotFound as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
