"""``--as EMAIL``: a command run as a staff account sees only that account's provinces.

Without it a command runs as the operator at the shell (every province). With it, the campaign
code the command is given goes through the one scope rule,
:func:`survey.services.campaigns.find_campaign` with the account's provinces, so another
province's campaign is "not found" exactly as on the pages.
"""

from __future__ import annotations

import sys

import click

from survey.i18n import translator
from survey.services.staff import StaffError, staff_provinces

as_option = click.option("--as", "actor", metavar="EMAIL", default=None,
                         help="Run as this staff account: only its provinces' campaigns.")


def provinces_of(actor: str | None) -> tuple[str, ...] | None:
    """The account's provinces (None: the operator); exits with a message if unknown."""
    if actor is None:
        return None
    try:
        return staff_provinces(actor)
    except StaffError as exc:
        click.echo(exc.message(translator()), err=True)
        sys.exit(1)
