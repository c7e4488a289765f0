"""``par-survey questionnaires``: check and list definitions; XLSForm import, export, template."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml

from questionnaires import Problem, Questionnaire, check_files
from questionnaires.loader import definition_files
from questionnaires.xlsform import (
    XLSFormInvalid,
    iter_problems,
    questionnaire_to_xlsx,
    write_template,
)
from questionnaires.problems import N_
from survey.cli.common import problem_lines, say

XLSX_SUFFIXES = (".xlsx", ".xlsm")


def _check_paths(paths: tuple[str, ...]) -> tuple[list[Questionnaire], list[Problem]]:
    """YAML files through the loader, workbooks through the XLSForm reader."""
    from survey.services.questionnaires import read_xlsform

    workbooks = [p for p in paths if p.lower().endswith(XLSX_SUFFIXES)]
    others = tuple(p for p in paths if p not in workbooks)
    good: list[Questionnaire] = []
    problems: list[Problem] = []
    if others or not workbooks:
        good, problems = check_files(others)
    for path in workbooks:
        try:
            good.append(read_xlsform(Path(path)))
        except XLSFormInvalid as exc:
            problems.extend(iter_problems(exc))
    return good, problems


@click.group("questionnaires", help="Questionnaire definitions (YAML).")
def questionnaires_group() -> None:
    pass


@questionnaires_group.command(
    "check", help="Validate definitions, YAML or XLSForm .xlsx (the built-in set when no PATH); "
                  "print id@vN and content hash of each accepted file.")
@click.argument("paths", nargs=-1, type=click.Path())
def check(paths: tuple[str, ...]) -> None:
    good, problems = _check_paths(paths)
    if not problems:
        click.echo(say(N_("ok: {count} questionnaire(s)"), count=len(good)))
    # id@vN and content hash per accepted file: two files with the same line are the same form
    for q in good:
        click.echo(f"{q.key:48} {q.content_hash[:12]}  {q.source}")
    for line in problem_lines(problems):
        click.echo(line, err=False)
    if problems:
        click.echo(say(N_("{count} problem(s) in {files} file(s)"), count=len(problems),
                       files=len({p.file for p in problems})), err=True)
        sys.exit(1)


@questionnaires_group.command("list", help="List the built-in definitions.")
def list_() -> None:
    good, problems = check_files()
    for q in sorted(good, key=lambda q: (q.group, q.id)):
        click.echo(f"{q.group:28} {q.key:48} {q.rating.layout.value:8} "
                   f"{len(list(q.questions())):3} q  {q.content_hash[:12]}  {q.title.vi}")
    if problems:
        click.echo(say(N_("{count} problem(s); run 'par-survey questionnaires check'"),
                       count=len(problems)), err=True)
        sys.exit(1)


def _fail(exc: XLSFormInvalid) -> None:
    for line in problem_lines(iter_problems(exc)):
        click.echo(line)
    click.echo(say(N_("{count} problem(s); nothing written"), count=len(exc.problems)), err=True)
    sys.exit(1)


@questionnaires_group.command("import", help="Convert an XLSForm workbook into a YAML definition "
                                             "written as DIR/<group>/<id>.v<N>.yaml.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to write the definition into.")
def import_(file: str, out: str) -> None:
    from survey.services.questionnaires import read_xlsform

    try:
        q = read_xlsform(Path(file))
    except XLSFormInvalid as exc:
        _fail(exc)
        return
    target = Path(out) / q.group / f"{q.id}.v{q.version}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Imported from {Path(file).name} (XLSForm); content hash {q.content_hash}\n"
    target.write_text(header + yaml.safe_dump(dict(q.document), allow_unicode=True,
                                              sort_keys=False, width=100), encoding="utf-8")
    click.echo(f"{q.key:48} {q.content_hash[:12]}  {target}")


def _find(qid: str, version: int) -> Questionnaire | None:
    """A built-in definition, else a version published in the database."""
    from questionnaires import load_questionnaire

    for path in definition_files():
        if path.name == f"{qid}.v{version}.yaml":
            return load_questionnaire(path)
    from sqlalchemy import select

    from survey import db
    from survey.models import QuestionnaireVersion
    from survey.services.questionnaires import questionnaire_for

    try:
        row = db.session().scalar(select(QuestionnaireVersion).filter_by(qid=qid, version=version))
    except Exception:  # noqa: BLE001 - no database configured: built-ins only
        return None
    return questionnaire_for(row) if row is not None else None


@questionnaires_group.command("export", help="Write a questionnaire version (built-in or "
                                             "published) as an XLSForm workbook or YAML.")
@click.argument("qid")
@click.option("--version", "version", required=True, type=int)
@click.option("--format", "fmt", type=click.Choice(["xlsx", "yaml"]), default="xlsx",
              show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False),
              help="File to write (default <id>.v<N>.<format> here).")
def export(qid: str, version: int, fmt: str, out: str | None) -> None:
    q = _find(qid, version)
    if q is None:
        click.echo(say(N_("No questionnaire {qid}@v{version}."), qid=qid, version=version), err=True)
        sys.exit(1)
    target = Path(out or f"{q.id}.v{q.version}.{fmt}")
    if fmt == "xlsx":
        target.write_bytes(questionnaire_to_xlsx(q))
    else:
        target.write_text(yaml.safe_dump(dict(q.document), allow_unicode=True, sort_keys=False,
                                         width=100), encoding="utf-8")
    click.echo(f"{q.key:48} {q.content_hash[:12]}  {target}")


@questionnaires_group.command("template", help="Write the XLSForm template workbook (Vietnamese): "
                                               "the columns, drop-downs and one example page.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False))
def template(out: str) -> None:
    write_template(out)
    click.echo(out)
