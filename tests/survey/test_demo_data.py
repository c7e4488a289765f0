"""The demo in the field: simulated respondents through the services, deterministic by seed."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from survey import db
from survey.models import Form, FormStatus, Response, ResponseStatus
from survey.models.integrity import IntegrityFlag
from survey.services.campaigns import find_campaign
from survey.services.quotas import quota_state
from survey.services.scores import score_campaign
from survey.services.scoring_config import scoring_for_campaign
from tests.conftest import _empty_tables

LINK_RE = re.compile(r"^LINK (\S+) (\S+) http://127\.0\.0\.1:5000/s/([A-Za-z0-9_-]{22,})$")


def _scores(app) -> list[tuple[str, int, float, float, float]]:
    with app.app_context():
        campaign = find_campaign("TVH-2023")
        result = score_campaign(campaign.id, scoring_for_campaign(campaign.id).config)
        return [(u.unit, u.rank, round(u.points.value, 9), round(u.points.ci_low, 9),
                 round(u.points.ci_high, 9)) for u in result.units]


def test_demo_fills_the_campaign_and_two_runs_with_one_seed_agree(app, client):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["demo", "--no-serve", "--seed", "7"])
    assert out.exit_code == 0, out.output
    assert re.search(r"^FIELDWORK seed 7: \d+ submitted", out.output, re.M), out.output
    with app.app_context():
        s = db.session()
        campaign = find_campaign("TVH-2023")
        statuses = dict(s.execute(select(Form.status, func.count()).where(
            Form.campaign_id == campaign.id).group_by(Form.status)).all())
        submitted = statuses.get(FormStatus.SUBMITTED, 0)
        # about a thousand forms (a matrix form rates 18 departments in one), most submitted
        assert 800 <= sum(statuses.values()) <= 1200, statuses
        assert submitted > sum(statuses.values()) / 2, statuses
        responses = s.scalar(select(func.count()).select_from(Response).where(
            Response.campaign_id == campaign.id))
        assert responses > submitted  # the matrix forms' unit ratings are responses each
        assert statuses.get(FormStatus.STARTED, 0) >= 30  # some half done
        state = quota_state(campaign.id)
        assert all(t.completed > 0 for t in state.by_group.values())  # every group answered
        assert state.total.completed >= submitted
        # the fieldwork is spread over days, not all "today"
        days = s.scalar(select(func.count(func.distinct(Response.submitted_on))).where(
            Response.campaign_id == campaign.id))
        assert days >= 10
        # the planted problems are found by the scan
        checks = set(s.scalars(select(IntegrityFlag.check_code).where(
            IntegrityFlag.campaign_id == campaign.id)))
        assert {"speeder_total", "straight_line", "burst"} <= checks
        assert s.scalar(select(func.count()).select_from(Response).where(
            Response.status == ResponseStatus.EXCLUDED)) > 0
    first = _scores(app)
    points = [p for _, _, p, _, _ in first]
    assert max(points) - min(points) > 5  # units differ: a ranking that means something
    # the printed links are still fresh forms
    for line in out.output.splitlines():
        m = LINK_RE.match(line)
        if m:
            opened = client.get(f"/s/{m.group(3)}")
            where = opened.headers["Location"]
            assert opened.status_code == 302 and where.endswith(("/f/p/1", "/h/")), where
            if where.endswith("/h/"):  # several forms: the home lists them, none begun
                home = client.get(where).get_data(as_text=True)
                assert "state-not_started" in home
                assert "state-in_progress" not in home and "state-submitted" not in home
    # idempotent: a second run on the same database simulates nothing more
    again = runner.invoke(args=["demo", "--no-serve", "--seed", "7"])
    assert "already simulated" in again.output
    assert _scores(app) == first
    # a fresh database, the same seed: the same scores
    _empty_tables(app)
    assert runner.invoke(args=["demo", "--no-serve", "--seed", "7"]).exit_code == 0
    assert _scores(app) == first
