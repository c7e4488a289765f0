"""``par-survey``: a Flask CLI group (``par-survey run``, ``routes``, ``shell`` work as in ``flask``)
with one command group per domain, each registered beside its module."""

from __future__ import annotations

import atexit
import ctypes
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


#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


def _batch_memory() -> None:
    """Tune memory for a command that lives seconds: keep freed memory for reuse.

    A scoring run makes and drops arrays of a million rows hundreds of times. By default
    glibc gives each block over a few MB its own mapping and unmaps it when freed, so the
    next array of that size faults every page in again, and numpy asks the kernel for huge
    pages, which on hosts with transparent huge pages in ``madvise`` mode can stall on
    compaction. A quarter to a third of the bench's time went to the kernel (0.7-1.3 s of
    system time in 5 s). Here blocks up to 32 MB come from the heap, freed memory stays in
    it (the process ends soon anyway), and arrays use normal pages. Only ``par-survey``
    does this (its development servers, ``run`` and ``demo``, included): the production
    workers (gunicorn) live for days and give memory back.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: its defaults stay
        pass
    else:
        libc.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)
        libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
        libc.mallopt(_M_TOP_PAD, 64 * 2**20)
    from numpy._core import multiarray  # type: ignore[attr-defined]  # numpy's own switch, read at import

    set_hugepage = getattr(multiarray, "_set_madvise_hugepage", None)  # as NUMPY_MADVISE_HUGEPAGE=0 does
    if set_hugepage is not None:
        set_hugepage(False)


def main() -> None:
    """Run a command, then end the process without tearing its modules down.

    A command's work is done when click exits: output is flushed and the ``atexit`` handlers
    (logging's flush among them) run as usual, but the interpreter's teardown of some 1,100
    imported modules, which frees nothing the operating system would not, is skipped
    (a quarter of a second of every command). Nothing is left to run: the app starts no
    non-daemon thread.
    """
    _batch_memory()
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
