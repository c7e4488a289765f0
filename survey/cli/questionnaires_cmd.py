"""``par-survey questionnaires``: check and list definitions."""

from __future__ import annotations

import sys

import click

from questionnaires import check_files


@click.group("questionnaires", help="Questionnaire definitions (YAML).")
def questionnaires_group() -> None:
    pass


@questionnaires_group.command("check", help="Validate definitions (the built-in set when no PATH).")
@click.argument("paths", nargs=-1, type=click.Path())
def check(paths: tuple[str, ...]) -> None:
    good, problems = check_files(paths)
    for p in problems:
        click.echo(str(p), err=False)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {len({p.file for p in problems})} file(s)",
                   err=True)
        sys.exit(1)
    click.echo(f"ok: {len(good)} questionnaire(s)")


@questionnaires_group.command("list", help="List the built-in definitions.")
def list_() -> None:
    good, problems = check_files()
    for q in sorted(good, key=lambda q: (q.group, q.id)):
        click.echo(f"{q.group:28} {q.key:48} {q.rating.layout.value:8} "
                   f"{len(list(q.questions())):3} q  {q.content_hash[:12]}  {q.title.vi}")
    if problems:
        click.echo(f"{len(problems)} problem(s); run 'par-survey questionnaires check'", err=True)
        sys.exit(1)
