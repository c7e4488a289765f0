"""What the API does, from the command line: API tokens (``users token``), response
response rows as the API streams them (``responses stream``), campaigns, integrity and outbox as JSON, import jobs
(``respondents work-imports``) and webhooks (``webhooks ...``)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from questionnaires.spreadsheet import safe_row
from survey.i18n import translator
from survey import db
from survey.models import Campaign
from survey.services.api_data import campaign_data, integrity_data, outbox_data
from survey.services.api_tokens import create_api_token, list_api_tokens, revoke_api_token
from questionnaires.problems import N_, Text
from survey.cli.common import campaign_or_exit, commits_in_steps, say
from survey.services.import_jobs import work_import_jobs
from survey.services.response_rows import RowFilters, iter_response_rows, response_columns
from survey.services.staff import StaffError
from survey.services.webhooks import (
    EVENTS,
    WebhookError,
    deliver_webhooks,
    delivery_log,
    list_deliveries,
    list_webhooks,
    register_webhook,
    replay_delivery,
    rotate_webhook_secret,
    set_webhook_active,
)


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# ---------------------------------------------------------------------------- users token

@click.group("token", help="API tokens of a staff account (shown once, stored hashed).")
def token_group() -> None:
    pass


@token_group.command("create", help="Make a named API token; the token alone is the last line.")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--expires-days", type=int, default=None, help="Days until it stops working.")
def token_create(email: str, name: str, expires_days: int | None) -> None:
    try:
        row, raw = create_api_token(email, name, expires_days)
    except StaffError as exc:
        _fail(exc.message(translator()))
    until = row.expires_at.isoformat(timespec="minutes") if row.expires_at else Text(N_("never"))
    click.echo(say(N_("Token {id} '{name}'; expires: {until}. Copy it now, it is not shown again."),
                   id=row.id, name=row.name, until=until), err=True)
    click.echo(raw)


@token_group.command("list", help="The account's tokens with their last use.")
@click.option("--email", required=True)
def token_list(email: str) -> None:
    try:
        rows = list_api_tokens(email)
    except StaffError as exc:
        _fail(exc.message(translator()))
    for t in rows:
        state = "live" if t.live else ("revoked" if t.revoked_at else "expired")
        until = f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "never"
        used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "never"
        click.echo(f"{t.id}\t{t.name}\t{t.prefix}…\t{state}\tcreated {t.created_at:%Y-%m-%d}"
                   f"\texpires {until}\tlast used {used}")


@token_group.command("revoke", help="Revoke a token of the account, by --id or --name.")
@click.option("--email", required=True)
@click.option("--id", "token_id", type=int, default=None)
@click.option("--name", default=None)
def token_revoke(email: str, token_id: int | None, name: str | None) -> None:
    try:
        n = revoke_api_token(email, token_id=token_id, name=name)
    except StaffError as exc:
        _fail(exc.message(translator()))
    click.echo(say(N_("revoked {count}"), count=n))


# ---------------------------------------------------------------------------- read commands

@click.command("list", help="Campaigns as JSON (the API's /campaigns).")
@click.option("--province", default=None)
def campaign_list(province: str | None) -> None:
    from sqlalchemy import select

    stmt = select(Campaign).order_by(Campaign.year.desc(), Campaign.code)
    if province:
        stmt = stmt.where(Campaign.province_code == province)
    _json({"campaigns": [campaign_data(c) for c in db.session().scalars(stmt)]})


@click.command("show", help="One campaign as JSON, with --outbox its outbox status.")
@click.option("--campaign", "code", required=True)
@click.option("--outbox", is_flag=True, help="Mail and webhook deliveries by status.")
def campaign_show(code: str, outbox: bool) -> None:
    campaign = campaign_or_exit(code)
    _json(outbox_data(campaign) if outbox else campaign_data(campaign))


@click.command("show", help="Integrity flags and decisions as JSON (the API's /integrity).")
@click.option("--campaign", "code", required=True)
def integrity_show(code: str) -> None:
    _json(integrity_data(campaign_or_exit(code)))


@click.command("stream", help="Valid responses as NDJSON or CSV, one per rated "
               "unit, never an identity, as the API's /responses streams them.")
@click.option("--campaign", "code", required=True)
@click.option("--format", "fmt", type=click.Choice(["ndjson", "csv"]), default="ndjson",
              show_default=True)
@click.option("--unit", default=None)
@click.option("--group", default=None)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Submitted on or after this day.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: standard output).")
def responses_export(code: str, fmt: str, unit: str | None, group: str | None, since: Any,
                     out: Path | None) -> None:
    campaign = campaign_or_exit(code)
    filters = RowFilters(unit=unit, group=group, since=since.date() if since else None)
    stream = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    try:
        if fmt == "csv":
            columns = response_columns(campaign.id)
            writer = csv.writer(stream, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
            writer.writerow(safe_row(columns))
            for row in iter_response_rows(campaign.id, filters):  # escaped as the API's CSV
                writer.writerow(safe_row("" if (v := row.get(c)) is None else v
                                         for c in columns))
        else:
            for row in iter_response_rows(campaign.id, filters):
                stream.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    finally:
        if out:
            stream.close()


@click.command("work-imports", help="Run the respondent-list import jobs posted through the "
               "API that no web worker ran (or whose worker died).")
@commits_in_steps  # a worker: each job's claim, stages and result are committed as they happen
def work_imports() -> None:
    click.echo(say(N_("ran {count} job(s)"), count=work_import_jobs()))


# ---------------------------------------------------------------------------- webhooks

@click.group("webhooks", help="Signed event posts to a campaign's HTTPS endpoints.")
def webhooks_group() -> None:
    pass


@webhooks_group.command("add", help="Register an endpoint; its signing secret is the last line.")
@click.option("--campaign", "code", required=True)
@click.option("--url", required=True)
@click.option("--event", "events", multiple=True, type=click.Choice(EVENTS),
              help="Repeat; default: every event.")
def webhooks_add(code: str, url: str, events: tuple[str, ...]) -> None:
    try:
        row, secret = register_webhook(campaign_or_exit(code), url, list(events or EVENTS))
    except WebhookError as exc:
        _fail(exc.message(translator()))
    click.echo(say(N_("webhook {id} {url} [{events}]"), id=row.id, url=row.url,
                   events=", ".join(row.events)), err=True)
    click.echo(secret)


@webhooks_group.command("list", help="A campaign's endpoints.")
@click.option("--campaign", "code", required=True)
def webhooks_list(code: str) -> None:
    for e in list_webhooks(campaign_or_exit(code)):
        state = "active" if e.active else "disabled"
        rotating = (f"\told secret until {e.rotating_until:%Y-%m-%d %H:%M}"
                    if e.rotating_until else "")
        click.echo(f"{e.id}\t{state}\t{e.url}\t{','.join(e.events)}{rotating}")


@webhooks_group.command("rotate", help="A new secret (the last line); the old one still signs "
                        "for --keep-old-hours.")
@click.option("--campaign", "code", required=True)
@click.option("--id", "endpoint_id", type=int, required=True)
@click.option("--keep-old-hours", type=float, default=24.0, show_default=True)
def webhooks_rotate(code: str, endpoint_id: int, keep_old_hours: float) -> None:
    try:
        click.echo(rotate_webhook_secret(campaign_or_exit(code), endpoint_id,
                                         keep_old_hours=keep_old_hours))
    except WebhookError as exc:
        _fail(exc.message(translator()))


@webhooks_group.command("disable", help="Stop queueing events for an endpoint.")
@click.option("--campaign", "code", required=True)
@click.option("--id", "endpoint_id", type=int, required=True)
@click.option("--enable", is_flag=True, help="Start again instead.")
def webhooks_disable(code: str, endpoint_id: int, enable: bool) -> None:
    try:
        set_webhook_active(campaign_or_exit(code), endpoint_id, enable)
    except WebhookError as exc:
        _fail(exc.message(translator()))
    click.echo(say(N_("enabled") if enable else N_("disabled")))


@webhooks_group.command("deliveries", help="Deliveries newest first; --dead: the dead-letter "
                        "list.")
@click.option("--campaign", "code", required=True)
@click.option("--dead", is_flag=True)
def webhooks_deliveries(code: str, dead: bool) -> None:
    for d in list_deliveries(campaign_or_exit(code), status="dead" if dead else None):
        click.echo(f"{d.id}\t{d.event_id}\t{d.event_type}\tendpoint {d.endpoint_id}\t{d.status}"
                   f"\tattempts {d.attempts}\t{d.last_error or ''}")


@webhooks_group.command("log", help="The delivery log: every attempt and its answer.")
@click.option("--campaign", "code", required=True)
@click.option("--delivery", "delivery_id", type=int, default=None)
def webhooks_log(code: str, delivery_id: int | None) -> None:
    for a in delivery_log(campaign_or_exit(code), delivery_id=delivery_id):
        click.echo(f"{a.at:%Y-%m-%d %H:%M:%S}\tdelivery {a.delivery_id}\t{a.event_id}\t"
                   f"{a.status_code or '-'}\t{a.duration_ms} ms\t{a.error or ''}")


@webhooks_group.command("replay", help="Queue a dead (or delivered) delivery again.")
@click.option("--campaign", "code", required=True)
@click.option("--delivery", "delivery_id", type=int, required=True)
def webhooks_replay(code: str, delivery_id: int) -> None:
    try:
        replay_delivery(campaign_or_exit(code), delivery_id)
    except WebhookError as exc:
        _fail(exc.message(translator()))
    click.echo(say(N_("queued")))


@webhooks_group.command("work", help="Post due deliveries (safe to run several at once); "
                        "--forever keeps polling.")
@click.option("--forever", is_flag=True)
@commits_in_steps  # a worker: each claim and each delivery is committed as it happens
def webhooks_work(forever: bool) -> None:
    report = deliver_webhooks(once=not forever)
    click.echo(say(N_("delivered {delivered}, retried {retried}, dead {dead}"),
                   delivered=report.delivered, retried=report.retried, dead=report.dead))


def register(app_cli: click.Group) -> None:
    """Add these commands to the groups they belong to."""
    from survey.cli import campaign_cmd, integrity_cmd, responses_cmd, users_cmd

    users_cmd.users_group.add_command(token_group)
    campaign_cmd.campaign_group.add_command(campaign_list)
    campaign_cmd.campaign_group.add_command(campaign_show)
    campaign_cmd.respondents_group.add_command(work_imports)
    integrity_cmd.integrity_group.add_command(integrity_show)
    responses_cmd.responses_group.add_command(responses_export)
    app_cli.add_command(webhooks_group)
