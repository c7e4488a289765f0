"""Helpers shared by the command groups."""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable
from typing import Any, NoReturn

import click

from questionnaires import Problem
from survey.i18n import CLI_LANGUAGE, translator
from survey.models import Campaign
from survey.services.campaigns import CampaignNotFound, find_campaign


def remember_language(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    """Keep a command's ``--lang`` where :func:`survey.i18n.translator` finds it."""
    ctx.meta[CLI_LANGUAGE] = value
    return value


#: ``--lang vi|en`` on every command (:func:`add_language_option`): the language of the
#: problems and refusals it prints, Vietnamese by default
LANGUAGE_OPTION = click.Option(["--lang"], type=click.Choice(["vi", "en"]), default="vi",
                               show_default=True, expose_value=False, is_eager=True,
                               callback=remember_language,
                               help="Language of the problems and refusals printed.")


def add_language_option(command: click.Command) -> None:
    """Give ``command`` (each command of a group) ``--lang``, unless it has its own."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_language_option(sub)
    elif not any(p.name == "lang" for p in command.params):
        command.params.append(LANGUAGE_OPTION)


def problem_lines(problems: Iterable[Problem]) -> list[str]:
    """One line per problem (where, code, rule, fix) in the command's ``--lang``."""
    tr = translator()
    return [p.render(tr) for p in problems]


def fail(lines: Iterable[str]) -> NoReturn:
    """Print ``lines`` on stderr and exit 1 (refused input)."""
    for line in lines:
        click.echo(line, err=True)
    sys.exit(1)


def campaign_or_exit(code: str, provinces: Collection[str] | None = None) -> Campaign:
    """The campaign ``code`` names, within ``provinces`` when a command runs as a staff account
    (``--as``, :mod:`survey.cli.scope`); else its message (in ``--lang``) on stderr and exit 1."""
    try:
        return find_campaign(code, provinces)
    except CampaignNotFound as exc:
        click.echo(exc.message(translator()), err=True)
        sys.exit(1)
