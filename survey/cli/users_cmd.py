"""``par-survey users``: staff accounts."""

from __future__ import annotations

import sys

import click

from questionnaires.problems import N_
from survey.cli.common import say
from survey.i18n import translator
from survey.models import Role
from survey.services.staff import StaffError, create_staff_user


@click.group("users", help="Staff accounts.")
def users_group() -> None:
    pass


@users_group.command("create", help="Create a staff account scoped to one or more provinces.")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--province", "provinces", multiple=True, required=True,
              help="Province code; repeat for several.")
@click.option("--agency", "agency_code", default=None, help="Unit code (focal points).")
@click.password_option(help="Asked for when not given (at least 12 characters).")
def create(email: str, full_name: str, role: str, provinces: tuple[str, ...],
           agency_code: str | None, password: str) -> None:
    try:
        user = create_staff_user(email, full_name, password, Role(role), provinces, agency_code)
    except StaffError as exc:
        click.echo(exc.message(translator()), err=True)
        sys.exit(1)
    click.echo(say(N_("created {email} ({role}) for {provinces}"), email=user.email,
                   role=user.role.value, provinces=", ".join(user.province_codes)))
