"""Helpers shared by the command groups."""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable
from typing import NoReturn

import click

from questionnaires import Problem
from survey.i18n import translator
from survey.models import Campaign
from survey.services.campaigns import CampaignNotFound, find_campaign


#: ``--lang``: the language problems are printed in (Vietnamese by default)
lang_option = click.option("--lang", type=click.Choice(["vi", "en"]), default="vi",
                           show_default=True, help="Language of the problems printed.")


def problem_lines(problems: Iterable[Problem], lang: str) -> list[str]:
    """One line per problem (where, code, rule, fix) in ``lang``, from the compiled catalog."""
    tr = translator(lang)
    return [p.render(tr) for p in problems]


def fail(lines: Iterable[str]) -> NoReturn:
    """Print ``lines`` on stderr and exit 1 (refused input)."""
    for line in lines:
        click.echo(line, err=True)
    sys.exit(1)


def campaign_or_exit(code: str, provinces: Collection[str] | None = None) -> Campaign:
    """The campaign ``code`` names, within ``provinces`` when a command runs as a staff account
    (``--as``, :mod:`survey.cli.scope`); else its bilingual message on stderr and exit 1."""
    try:
        return find_campaign(code, provinces)
    except CampaignNotFound as exc:
        click.echo(exc.message(translator()), err=True)
        sys.exit(1)
