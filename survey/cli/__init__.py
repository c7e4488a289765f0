"""``par-survey``: a Flask CLI group (``par-survey run``, ``routes``, ``shell`` work as in ``flask``)
with one command group per domain, each registered beside its module."""

from __future__ import annotations

import atexit
import os
import sys

from flask import Flask
from flask.cli import FlaskGroup


def init_app(app: Flask) -> None:
    from survey.cli.common import add_language_option, run_in_units_of_work
    from survey.cli import (
        campaign_cmd,
        db_cmd,
        demo_cmd,
        integrity_cmd,
        invite_cmd,
        privacy_cmd,
        public_cmd,
        qr_cmd,
        questionnaires_cmd,
        responses_cmd,
        scores_cmd,
        units_cmd,
        users_cmd,
    )

    app.cli.add_command(db_cmd.db_group)
    app.cli.add_command(demo_cmd.demo)
    app.cli.add_command(questionnaires_cmd.questionnaires_group)
    app.cli.add_command(scores_cmd.scores)
    app.cli.add_command(campaign_cmd.campaign_group)
    app.cli.add_command(campaign_cmd.respondents_group)
    app.cli.add_command(campaign_cmd.quotas)
    app.cli.add_command(users_cmd.users_group)
    app.cli.add_command(privacy_cmd.privacy_group)
    app.cli.add_command(integrity_cmd.integrity_group)
    app.cli.add_command(qr_cmd.qr)
    app.cli.add_command(invite_cmd.invite_group)
    app.cli.add_command(public_cmd.public_group)
    app.cli.add_command(units_cmd.units_group)
    app.cli.add_command(responses_cmd.responses_group)
    from survey.cli import api_cmd

    api_cmd.register(app.cli)
    for command in app.cli.commands.values():
        add_language_option(command)
    run_in_units_of_work(app.cli)  # one unit of work per command (survey/cli/common.py)


def _create_app() -> Flask:
    from survey import create_app

    return create_app()


cli = FlaskGroup(create_app=_create_app, help=__doc__)


def main() -> None:
    """Run a command, then end the process without tearing its modules down.

    A command's work is done when click exits: output is flushed and the ``atexit`` handlers
    (logging's flush among them) run as usual, but the interpreter's teardown of some 1,100
    imported modules, which frees nothing the operating system would not, is skipped
    (a quarter of a second of every command). Nothing is left to run: the app starts no
    non-daemon thread.
    """
    try:
        cli.main(prog_name="par-survey")  # standalone: ends with SystemExit, also on success
    except SystemExit as end:
        status = end.code
    else:  # pragma: no cover - click's standalone mode always exits
        status = 0
    if status is not None and not isinstance(status, int):
        print(status, file=sys.stderr)  # as the interpreter prints a non-integer exit code
        status = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status or 0)
