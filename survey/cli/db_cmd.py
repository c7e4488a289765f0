"""``par-survey db``: schema migrations through Alembic."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask import current_app

from questionnaires.problems import N_
from survey.cli.common import say
from survey.config import shipped

if TYPE_CHECKING:  # alembic is imported by the commands that migrate: every other command starts without it
    from alembic.config import Config


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config(str(shipped("alembic.ini")))
    cfg.attributes["configure_logger"] = False  # keep the app's logging as it is
    cfg.set_main_option("script_location", str(shipped("migrations")))
    cfg.set_main_option("sqlalchemy.url",
                        (url or current_app.config["SQLALCHEMY_DATABASE_URI"]).replace("%", "%%"))
    return cfg


def upgrade_database(url: str | None = None) -> None:
    from alembic import command

    # "heads": branches made in parallel upgrade together until they are chained in one line
    command.upgrade(alembic_config(url), "heads")


@click.group("db", help="Database schema migrations (Alembic).")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Create or upgrade the database schema to the latest revision.")
def upgrade() -> None:
    upgrade_database()
    click.echo(say(N_("database at head")))


@db_group.command("current", help="Show the database's current revision.")
def current() -> None:
    from alembic import command

    command.current(alembic_config())
