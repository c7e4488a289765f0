"""The same person twice in one group (issue 16, item 5), through the stored campaign."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import func, select

from survey import db
from survey.models import Form, Respondent
from survey.services.campaigns import create_campaign_from_config
from survey.services.respondents import ListRejected, import_respondents
from tests.survey.conftest import config

ROWS = ("external_id,full_name,group,unit,phone\n"
        "A,Phạm Thị Hoà,dept_division_leader,S01,+84 903 111 222\n"
        f"B,{unicodedata.normalize('NFD', 'Phạm Thị Hoà')},dept_division_leader,S01,0084903111222\n"
        "C,PHẠM THỊ HÒA,dept_division_leader,S01,0903.111.222\n"
        "D,Trần Văn Bình,dept_division_leader,S02,0911 222 333\n")


def _campaign(app, tmp_path, setting: str | None):
    text = config("DUP-2026", "84")
    if setting:
        text += f"duplicates_in_group: {setting}\n"
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    lst = tmp_path / "l.csv"
    lst.write_text(ROWS, encoding="utf-8")
    with app.app_context():
        create_campaign_from_config(path)
    return lst


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        s = db.session()
        return (s.scalar(select(func.count()).select_from(Respondent)),
                s.scalar(select(func.count()).select_from(Form)))


def test_default_refuses_naming_both_rows(app, tmp_path):
    lst = _campaign(app, tmp_path, None)
    with app.app_context(), pytest.raises(ListRejected) as caught:
        import_respondents("DUP-2026", lst)
    assert [(e.code, e.row) for e in caught.value.errors] == [
        ("LIST-DUPLICATE-PERSON", 3), ("LIST-DUPLICATE-PERSON", 4)]
    assert "row 2" in caught.value.errors[0].message()
    assert _counts(app) == (0, 0)


def test_merge_setting_keeps_one_respondent_one_form(app, tmp_path):
    lst = _campaign(app, tmp_path, "merge")
    with app.app_context():
        report = import_respondents("DUP-2026", lst)
    assert report.created == 2
    (merge,) = report.merges
    assert [r.row for r in merge.kept] == [2] and [r.row for r in merge.dropped] == [3, 4]
    assert _counts(app) == (2, 2)
