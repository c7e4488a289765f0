"""Helpers shared by the command groups, and the command's unit of work.

Every command runs as one unit of work (:func:`survey.db.unit_of_work`): what its services
write is committed once when it returns and rolled back when it fails or exits with an error,
so a command is all or nothing. :func:`run_in_units_of_work` applies this to every command at
registration (``survey/cli/__init__.py``). The named exception is :func:`commits_in_steps`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Collection, Iterable
from typing import Any, NoReturn, TypeVar

import click
from flask import current_app
from flask.cli import NoAppException, ScriptInfo

from questionnaires import Problem
from questionnaires.problems import Text
from survey import db
from survey.i18n import CLI_LANGUAGE, translator
from survey.models import Campaign
from survey.services.campaigns import CampaignNotFound, find_campaign

F = TypeVar("F", bound=Callable[..., Any])


def remember_language(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    """Keep a command's ``--lang`` where :func:`survey.i18n.translator` finds it."""
    ctx.meta[CLI_LANGUAGE] = value
    return value


#: ``--lang vi|en`` on every command (:func:`add_language_option`): the language of the
#: problems, refusals and status lines it prints, Vietnamese by default
LANGUAGE_OPTION = click.Option(["--lang"], type=click.Choice(["vi", "en"]), default="vi",
                               show_default=True, expose_value=False, is_eager=True,
                               callback=remember_language,
                               help="Language of the messages printed (problems, refusals, status lines).")


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


def say(msgid: str, **params: Any) -> str:
    """A status line (an English msgid marked with ``N_``, named placeholders) in the command's
    ``--lang``."""
    return Text(msgid, params).text(translator())


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


def commits_in_steps(callback: F) -> F:
    """Mark a command that opens its own units of work instead of being one: a worker that
    commits each claim and each delivery as it goes (others must see them at once, and a
    crash must not undo messages already sent), or ``demo``, which commits the campaign before
    it serves the app. Such a command says in its body where each unit is."""
    callback.commits_in_steps = True  # type: ignore[attr-defined]
    return callback


def _app_context(ctx: click.Context) -> bool:
    """Push the application's context unless one is active (``par-survey`` pushes it); False
    when there is no application at all: a command on files alone (``units map``) driven by
    plain click, with no database to work in."""
    if not current_app:
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()
        except NoAppException:
            return False
        ctx.with_resource(app.app_context())
    return True


def _one_unit(callback: Callable[..., Any]) -> Callable[..., Any]:
    steps = getattr(callback, "commits_in_steps", False)

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not _app_context(click.get_current_context()) or steps:
            return callback(*args, **kwargs)
        with db.unit_of_work():
            return callback(*args, **kwargs)

    run.unit_of_work = True  # type: ignore[attr-defined]
    return run


def run_in_units_of_work(command: click.Command) -> click.Command:
    """Wrap ``command`` (and every subcommand of a group) so that it runs in the app context
    as one unit of work, unless marked :func:`commits_in_steps`."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            run_in_units_of_work(sub)
    elif command.callback is not None and not getattr(command.callback, "unit_of_work", False):
        command.callback = _one_unit(command.callback)
    return command
