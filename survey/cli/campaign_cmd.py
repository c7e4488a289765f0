"""``par-survey campaign``, ``respondents`` and ``quotas``: campaigns from YAML, respondent
lists, and quota progress."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from questionnaires.spreadsheet import safe_row
from sampling import CampaignInvalid, write_list_template
from survey.i18n import translator
from questionnaires.problems import N_, Text
from survey.cli.common import campaign_or_exit, fail, problem_lines, say
from survey.cli.scope import as_option, provinces_of
from survey.services.campaigns import (
    CampaignNotFound,
    ProvinceNotAllowed,
    build_sampling_campaign,
    create_campaign_from_config,
)
from survey.services.quota_reports import QUOTA_COLUMNS, quota_rows, quota_state_dict
from survey.services.quotas import QuotaState, quota_state, refresh_quota_counts
from survey.services.respondents import ListRejected, import_respondents


@click.group("campaign", help="Survey campaigns (đợt khảo sát) from configuration files.")
def campaign_group() -> None:
    pass


@campaign_group.command("create", help="Create or update a campaign from its YAML file "
                        "(idempotent; nothing is written if the file has errors).")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False))
@as_option
def create(config: str, actor: str | None) -> None:
    try:
        campaign = create_campaign_from_config(config, provinces_of(actor))
    except (CampaignNotFound, ProvinceNotAllowed) as exc:  # not this account's, or a move
        fail([exc.message(translator())])
    except CampaignInvalid as exc:
        fail(problem_lines(exc.errors)
              + [say(N_("{count} error(s), nothing written"), count=len(exc.errors))])
    click.echo(f"CAMPAIGN {campaign.code} id={campaign.id}")


@click.group("respondents", help="Respondent lists (danh sách người trả lời).")
def respondents_group() -> None:
    pass


@respondents_group.command("import", help="Import a CSV or XLSX list into a campaign "
                           "(all rows or none) and create the forms its quotas call for.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--campaign", "code", required=True)
@as_option
def import_(file: str, code: str, actor: str | None) -> None:
    try:
        report = import_respondents(campaign_or_exit(code, provinces_of(actor)).code, file)
    except CampaignNotFound as exc:
        fail([exc.message(translator())])
    except ListRejected as exc:
        more = exc.error_count - len(exc.errors)
        fail(problem_lines(exc.errors)
              + ([f"... +{more}"] if more else [])
              + [say(N_("{count} error(s), nothing imported"), count=exc.error_count)])
    click.echo(say(N_("{file}: created {created}, updated {updated}, unchanged {unchanged}; forms +{forms} "
                      "(assignments +{assignments}, removed {removed})"),
                   file=report.file, created=report.created, updated=report.updated,
                   unchanged=report.unchanged, forms=report.forms_created,
                   assignments=report.assignments_created, removed=report.forms_removed))
    for m in report.merges:
        how = "+".join(k.value for k in m.matched_on)
        kept = ", ".join(say(N_("{group} (row {row})"), group=r.group, row=r.row) for r in m.kept)
        dropped = ", ".join(say(N_("{group} (row {row})"), group=r.group, row=r.row) for r in m.dropped)
        click.echo(say(N_("MERGED {name}: kept {kept}; dropped {dropped} [{how}]"),
                       name=m.kept[0].full_name, kept=kept, dropped=dropped, how=how))


@respondents_group.command("template", help="Write the campaign's XLSX list template.")
@click.option("--campaign", "code", required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def template(code: str, out: str) -> None:
    write_list_template(Path(out), build_sampling_campaign(campaign_or_exit(code)))
    click.echo(out)


@click.command("quotas", help="Quota progress of a campaign, per cell with totals; public QR "
               "forms (a self-selected sample) are counted apart in the public_* columns.")
@click.option("--campaign", "code", required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--recount", is_flag=True,
              help="First assign every form to its cell again and recount the cells' form "
              "counts (after rows were changed by hand or restored).")
def quotas(code: str, fmt: str, recount: bool) -> None:
    campaign_id = campaign_or_exit(code).id
    if recount:
        moved = refresh_quota_counts(campaign_id)
        click.echo(say(N_("Recounted; {moved} assignments moved cell."), moved=moved), err=True)
    state = quota_state(campaign_id)
    rows = quota_rows(state.cells)
    if fmt == "json":
        click.echo(json.dumps(quota_state_dict(state), ensure_ascii=False, indent=2))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
        writer.writerow(QUOTA_COLUMNS)
        writer.writerows(safe_row("" if v is None else v for v in row) for row in rows)
        click.echo(buf.getvalue(), nl=False)
    else:
        _echo_table(state, rows)


def _echo_table(state: QuotaState, rows: list[list[object]]) -> None:
    text = [[("?" if v is None and name == "target" else "" if v is None else str(v))
             for name, v in zip(QUOTA_COLUMNS, row, strict=True)] for row in rows]
    widths = [max([len(name), *(len(r[i]) for r in text)]) for i, name in enumerate(QUOTA_COLUMNS)]
    click.echo("  ".join(n.ljust(w) for n, w in zip(QUOTA_COLUMNS, widths, strict=True)))
    for r in text:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    for scope, tallies in ((N_("group {key}"), state.by_group), (N_("unit {key}"), state.by_unit),
                           (N_("total"), {"": state.total})):
        for key, t in tallies.items():
            unknown = (" " + say(N_("(+{count} unknown)"), count=t.unknown_targets)
                       if t.unknown_targets else "")
            click.echo(say(N_("TOTAL {scope}: target {target}{unknown}, invited {invited}, started "
                              "{started}, completed {completed}, valid {valid}, over quota "
                              "{over_quota}; public QR: started {public_started}, completed "
                              "{public_completed}, valid {public_valid}"),
                           scope=Text(scope, {"key": key}), target=t.target, unknown=unknown,
                           invited=t.invited, started=t.started, completed=t.completed,
                           valid=t.valid, over_quota=t.over_quota,
                           public_started=t.public_started, public_completed=t.public_completed,
                           public_valid=t.public_valid))
