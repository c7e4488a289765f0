"""QR cards: one per respondent, opening their home; paper questionnaires stay per form."""

from __future__ import annotations

from sqlalchemy import select

from survey import db
from survey.cli.qr_cmd import qr as qr_command
from survey.models import Campaign
from survey.services.cards import forms_query, issue_for_forms, issue_for_respondents

BASE = "https://khaosat.example.vn"
DEPT = "dept-division-rates-own-department"
HDND = "hdnd-rates-departments"


def test_one_card_per_respondent_and_paper_per_form(app, make_home, tmp_path):
    person = make_home(((DEPT, ("S01",)), (DEPT, ("S02",)), (HDND, ("S01", "S02", "S03"))))
    with app.test_request_context():
        campaign = db.session().scalar(select(Campaign))
        cards = issue_for_respondents(campaign, forms_query(campaign), BASE, "vi")
        paper = issue_for_forms(campaign, forms_query(campaign), BASE, "vi")
    (card,) = cards
    assert card.respondent_id == person.respondent_id
    assert card.units == ("Sở thử 1", "Sở thử 2", "Sở thử 3")  # each unit once
    assert len(paper) == 3 and {p.respondent_id for p in paper} == {None}
    client = app.test_client()
    r = client.get(card.link.replace(BASE, ""))
    assert r.status_code == 302 and r.headers["Location"].endswith("/h/")
    runner = app.test_cli_runner()
    out = tmp_path / "svg"
    r = runner.invoke(qr_command, ["--campaign", "T-2026", "--format", "svg", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert [p.name for p in out.glob("*.svg")] == [f"respondent-{person.respondent_id}.svg"]
    assert f"QR T-2026: 1 thẻ -> {out}" in r.output  # the command's language: Vietnamese
