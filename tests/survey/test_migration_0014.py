"""Migration 0014 carries a running campaign over: per-form links keep working (they lead to
their respondent's home) and invitations still queued per form become one per person."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command

from survey import create_app
from survey.cli.db_cmd import alembic_config
from survey.services.tokens import hash_token

NOW = dt.datetime(2026, 12, 1, 8, 0)


def test_upgrade_keeps_old_links_and_folds_queued_mail(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0011")
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    with engine.begin() as c:
        c.execute(t["campaigns"].insert(), dict(
            id=1, code="OLD-2026", province_code="TST", year=2026, name_vi="Cũ",
            opens_at=NOW - dt.timedelta(days=2), closes_at=NOW + dt.timedelta(days=3650),
            status="open", created_at=NOW))
        c.execute(t["respondent_groups"].insert(), dict(
            id=1, campaign_id=1, code="g", name_vi="Nhóm", priority=100))
        c.execute(t["units"].insert(), [dict(id=i, campaign_id=1, code=f"S0{i}",
                                            name_vi=f"Sở cũ {i}", level="department")
                                       for i in (1, 2)])
        from questionnaires import load_builtin_by_id

        q = load_builtin_by_id("dept-division-rates-own-department")
        c.execute(t["questionnaire_versions"].insert(), dict(
            id=1, qid=q.id, version=q.version, group_code=q.group, content_hash=q.content_hash,
            document=dict(q.document), published_at=NOW))
        c.execute(t["respondents"].insert(), dict(id=1, campaign_id=1, group_id=1,
                                                  full_name="Người Cũ", email="cu@example.vn",
                                                  created_at=NOW))
        for fid in (1, 2):
            c.execute(t["forms"].insert(), dict(
                id=fid, campaign_id=1, respondent_id=1, group_id=1, questionnaire_version_id=1,
                mode="web", status="pending", created_at=NOW))
            c.execute(t["assignments"].insert(), dict(id=fid, form_id=fid, rated_unit_id=fid))
            c.execute(t["access_tokens"].insert(), dict(
                id=fid, form_id=fid, token_hash=hash_token(f"old-link-{fid}"), created_at=NOW))
        base = dict(campaign_id=1, respondent_id=1, language="vi", to_address="cu@example.vn",
                    attempts=0, next_attempt_at=NOW, created_at=NOW, sent_at=None)
        c.execute(t["outbox_messages"].insert(), [
            dict(base, id=1, form_id=1, kind="invitation", round=0, status="sent",
                 sent_at=NOW),
            dict(base, id=2, form_id=2, kind="invitation", round=0, status="queued"),
            dict(base, id=3, form_id=1, kind="reminder", round=1, status="queued"),
            dict(base, id=4, form_id=2, kind="reminder", round=1, status="queued"),
        ])
    engine.dispose()

    command.upgrade(alembic_config(url), "0014")
    engine = sa.create_engine(url)
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT id, form_id, kind, round, status FROM outbox_messages "
                                 "ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        (1, 1, "invitation", 0, "sent"),  # history stays as it was
        (2, None, "invitation", 0, "queued"),  # one per person now (it was alone)
        (3, None, "reminder", 1, "queued"),  # two per-form reminders folded into one
    ]
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "k"})
    client = app.test_client()
    for fid in (1, 2):  # each old per-form link opens the respondent's home
        r = client.get(f"/s/old-link-{fid}")
        assert r.status_code == 302 and r.headers["Location"].endswith("/h/")
        body = client.get("/h/").get_data(as_text=True)
        assert "Sở cũ 1" in body and "Sở cũ 2" in body
    app.extensions["db_engine"].dispose()
    command.downgrade(alembic_config(url), "0011")  # and back, dropping what names no form
