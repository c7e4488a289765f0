"""``par-survey invite``: queue and deliver invitations and reminders by email (the outbox).

``send`` and ``remind`` queue and then deliver (``--queue-only`` leaves delivery to workers);
``work`` is the delivery worker (several may run at once); ``problems`` lists bounced, failed
and uncertain messages; ``resolve`` settles an uncertain one.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from survey import db
from questionnaires.problems import N_, ProblemError
from survey.cli.common import campaign_or_exit, commits_in_steps, fail, say
from survey.i18n import translator
from survey.services.mail import MailConfigError, smtp_settings
from survey.services.outbox import (
    NotUncertain,
    QueueReport,
    WorkReport,
    bounced_recipients,
    due_count,
    failed_messages,
    queue_invitations,
    queue_reminders,
    resolve_uncertain,
    uncertain_messages,
    work,
)


def _fail(exc: ProblemError) -> NoReturn:
    """The refusal (message and fix) in the command's ``--lang``, then exit 1."""
    fail([line for line in (exc.message(translator()), exc.problem.fix(translator())) if line])


def _echo_queue(report: QueueReport) -> None:
    click.echo(say(N_("QUEUED {queued} (already {already}, no email {no_email}, bounced address "
                      "{bounced})"), queued=report.queued, already=report.already_queued,
                   no_email=report.no_email, bounced=report.bounced))


def _deliver(once: bool = True, campaign_id: int | None = None) -> WorkReport:
    try:
        settings = smtp_settings()
    except MailConfigError as exc:
        _fail(exc)
    total = due_count(campaign_id)
    try:
        with click.progressbar(length=total, label=say(N_("sending")), file=sys.stderr,
                               show_pos=True) as bar:
            report = work(once=once, settings=settings, progress=bar.update)
    except MailConfigError as exc:
        _fail(exc)
    click.echo(say(N_("SENT {sent}, bounced {bounced}, retry later {retried} (+{released} not "
                      "attempted), failed {failed}, uncertain {uncertain}"),
                   sent=report.sent, bounced=report.bounced, retried=report.retried,
                   released=report.released, failed=report.failed, uncertain=report.uncertain))
    return report


@click.group("invite", help="Email invitations and reminders (thư mời, nhắc nhở).")
def invite_group() -> None:
    pass


@invite_group.command("send", help="Queue one invitation per respondent with web forms not "
                      "yet submitted (listing the units, with the link to their home) who was "
                      "not invited yet, then deliver them.")
@click.option("--campaign", "code", required=True)
@click.option("--group", default=None, help="only this respondent group code")
@click.option("--unit", default=None, help="only respondents with a form rating this unit code")
@click.option("--language", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--queue-only", is_flag=True, help="queue; leave delivery to `invite work`")
@commits_in_steps  # the queue is one unit; delivery commits message by message
def send(code: str, group: str | None, unit: str | None, language: str, queue_only: bool) -> None:
    with db.unit_of_work():
        campaign = campaign_or_exit(code)
        report = queue_invitations(campaign, group=group, unit=unit, language=language)
    _echo_queue(report)
    if not queue_only:
        _deliver(campaign_id=None)


@invite_group.command("remind", help="Queue reminders to respondents who have not completed, "
                      "invited (or last reminded) at least N days ago, then deliver them.")
@click.option("--campaign", "code", required=True)
@click.option("--after-days", type=float, required=True)
@click.option("--group", default=None)
@click.option("--unit", default=None)
@click.option("--queue-only", is_flag=True)
@commits_in_steps  # the queue is one unit; delivery commits message by message
def remind(code: str, after_days: float, group: str | None, unit: str | None,
           queue_only: bool) -> None:
    with db.unit_of_work():
        campaign = campaign_or_exit(code)
        report = queue_reminders(campaign, after_days=after_days, group=group, unit=unit)
    _echo_queue(report)
    if not queue_only:
        _deliver()


@invite_group.command("work", help="Deliver queued messages (safe to run several at once). "
                      "With --once: until nothing is due, else forever.")
@click.option("--once", is_flag=True)
@commits_in_steps  # a worker: each claim and each delivery is committed as it happens
def work_cmd(once: bool) -> None:
    if once:
        _deliver(once=True)
        return
    try:
        settings = smtp_settings()
    except MailConfigError as exc:
        _fail(exc)
    click.echo(say(N_("worker started; Ctrl-C to stop")), err=True)
    try:
        work(once=False, settings=settings,
             progress=lambda n: click.echo(".", nl=False, err=True))
    except KeyboardInterrupt:
        click.echo("\n" + say(N_("stopped")), err=True)


@invite_group.command("problems", help="Bounced, failed and uncertain messages of a campaign.")
@click.option("--campaign", "code", required=True)
def problems(code: str) -> None:
    campaign = campaign_or_exit(code)
    for p in (bounced_recipients(campaign.id) + failed_messages(campaign.id)
              + uncertain_messages(campaign.id)):
        click.echo(f"{p.status.upper()} id={p.outbox_id} {p.kind} {p.email} ({p.full_name}): "
                   f"{p.detail or ''}")


@invite_group.command("resolve", help="Settle an uncertain message: --delivered marks it sent, "
                      "--not-delivered revokes its link and queues it again.")
@click.option("--id", "outbox_id", type=int, required=True)
@click.option("--delivered/--not-delivered", required=True)
def resolve(outbox_id: int, delivered: bool) -> None:
    try:
        resolve_uncertain(outbox_id, delivered=delivered)
    except NotUncertain as exc:
        _fail(exc)
    click.echo(say(N_("RESOLVED {id} delivered") if delivered else N_("RESOLVED {id} queued again"),
                   id=outbox_id))
