"""``par-survey public``: public QR links per unit (posters at service counters)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import click

from survey.i18n import translator
from questionnaires.problems import N_
from survey.cli.common import campaign_or_exit, say
from survey.models import PublicLink
from survey.services.public import (
    PublicLinkError,
    create_public_links,
    list_public_links,
    public_url,
    revoke_public_links,
    rotate_public_links,
)


@click.group("public", help="Public QR links, one per unit a group rates: citizens scan the "
             "poster at the counter and get a fresh form each visit (mode 'public').")
def public_group() -> None:
    pass


@public_group.command("create", help="Create the links of a group for the given units (default: "
                      "every unit its quota cells rate). Idempotent; --daily-cap also updates "
                      "existing links.")
@click.option("--campaign", "code", required=True)
@click.option("--group", required=True, help="The respondent group (e.g. citizen).")
@click.option("--unit", "units", multiple=True, help="A rated unit's code (repeatable).")
@click.option("--daily-cap", type=click.IntRange(min=0), default=None,
              help="Public forms per link per day (default PAR_SURVEY_PUBLIC_DAILY_CAP, 300).")
def create(code: str, group: str, units: Sequence[str], daily_cap: int | None) -> None:
    campaign = campaign_or_exit(code)
    try:
        links = create_public_links(campaign, group, list(units), daily_cap)
    except PublicLinkError as exc:
        click.echo(exc.message(translator()), err=True)
        sys.exit(1)
    for link in links:
        click.echo(f"PUBLIC {link.rated_unit.code} {public_url(link)}")
    click.echo(say(N_("{count} public link(s) for {campaign}/{group}"), count=len(links),
                   campaign=campaign.code, group=group))


@public_group.command("list", help="Each link: unit, group, daily cap, public forms started "
                      "today, generation, state and URL.")
@click.option("--campaign", "code", required=True)
@click.option("--group", default=None)
@click.option("--unit", "units", multiple=True)
def list_links(code: str, group: str | None, units: Sequence[str]) -> None:
    campaign = campaign_or_exit(code)
    try:
        rows = list_public_links(campaign, group, list(units))
    except PublicLinkError as exc:
        click.echo(exc.message(translator()), err=True)
        sys.exit(1)
    click.echo(f"{'unit':<12} {'group':<26} {'cap':>5} {'today':>5} {'gen':>3} {'state':<7} url")
    for r in rows:
        click.echo(f"{r.unit_code:<12} {r.group:<26} {r.daily_cap:>5} {r.today:>5} "
                   f"{r.generation:>3} {'revoked' if r.revoked else 'live':<7} "
                   f"{'-' if r.revoked else r.url}")


_NAME_LINKS = {"rotate": N_("Name --group, --unit or --all: the links to rotate."),
               "revoke": N_("Name --group, --unit or --all: the links to revoke.")}


def _change(verb: str, action: Callable[..., list[PublicLink]], code: str, group: str | None,
            units: Sequence[str], every: bool) -> None:
    if not (group or units or every):
        click.echo(say(_NAME_LINKS[verb]), err=True)
        sys.exit(2)
    campaign = campaign_or_exit(code)
    try:
        links = action(campaign, group, list(units))
    except PublicLinkError as exc:
        click.echo(exc.message(translator()), err=True)
        sys.exit(1)
    if verb == "rotate":
        for link in links:
            click.echo(f"PUBLIC {link.rated_unit.code} {public_url(link)}")
        click.echo(say(N_("{count} link(s) rotated: print their posters again (par-survey qr "
                          "--public); the old posters no longer open a form"), count=len(links)))
    else:
        click.echo(say(N_("{count} link(s) revoked: their posters no longer open a form"),
                       count=len(links)))


def _selection(fn: Callable[..., None]) -> Callable[..., None]:
    for option in reversed([
            click.option("--campaign", "code", required=True),
            click.option("--group", default=None),
            click.option("--unit", "units", multiple=True),
            click.option("--all", "every", is_flag=True, help="Every link of the campaign.")]):
        fn = option(fn)
    return fn


@public_group.command("rotate", help="New codes for the selected links (revoked links come "
                      "back): every poster printed before stops working.")
@_selection
def rotate(code: str, group: str | None, units: Sequence[str], every: bool) -> None:
    _change("rotate", rotate_public_links, code, group, units, every)


@public_group.command("revoke", help="Stop the selected links; forms already started go on. "
                      "'rotate' brings a link back with a new code.")
@_selection
def revoke(code: str, group: str | None, units: Sequence[str], every: bool) -> None:
    _change("revoke", revoke_public_links, code, group, units, every)
