"""The issue's measures for the Trà Vinh district division leader (18 departments and their own
district): one email instead of 19, at most 25 page submissions instead of about 170, and the
requests per completed unit rating, counted through the app as a browser without scripts makes
them (every POST answered by a redirect and a GET)."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import func, select

from survey import db
from survey.models import Campaign, OutboxMessage, Response
from survey.services.outbox import queue_invitations
from tests.conftest import csrf_from

LINK_RE = re.compile(r"^LINK district_division_leader \S+ http://[^/]+/s/(\S+)$", re.M)


class Counting:
    """A test client that counts requests by method."""

    def __init__(self, client) -> None:
        self.client = client
        self.count: Counter[str] = Counter()

    def get(self, path: str):
        self.count["GET"] += 1
        return self.client.get(path)

    def post(self, path: str, data: dict):
        self.count["POST"] += 1
        return self.client.post(path, data=data)


def _finish_form(c: Counting, first: str) -> int:
    """From a form's first page to its thank-you page, every radio group answered with its
    first option; returns the page POSTs."""
    path, posts = first, 0
    while path.startswith("/f/p/"):
        html = c.get(path).get_data(as_text=True)
        data = {"csrf_token": csrf_from(html), "action": "next"}
        for name, value in re.findall(r'name="(u\d+-[a-z_0-9]+)" value="([^"]+)"', html):
            data.setdefault(name, value)
        r = c.post(path, data)
        assert r.status_code == 302, (path, r.get_data(as_text=True)[:300])
        posts += 1
        path = r.headers["Location"]
    assert path.endswith("/f/review")
    html = c.get(path).get_data(as_text=True)
    r = c.post("/f/submit", {"csrf_token": csrf_from(html)})
    assert r.headers["Location"].endswith("/f/done")
    c.get("/f/done")
    return posts


def test_district_division_leader_one_email_and_at_most_25_page_posts(app):
    out = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--empty"]).output
    token = LINK_RE.search(out).group(1)
    c = Counting(app.test_client())
    r = c.get(f"/s/{token}")
    assert r.headers["Location"].endswith("/h/")
    home = c.get("/h/").get_data(as_text=True)
    page_posts = 0
    for form_link in re.findall(r'href="(/h/f/\d+)"', home)[:1] + ["next"]:
        if form_link == "next":
            home = c.get("/h/").get_data(as_text=True)
            found = re.search(r'class="button primary" href="(/h/f/\d+)"', home)
            assert found, "the home's Continue leads to the second form"
            form_link = found.group(1)
        first = c.get(form_link).headers["Location"]
        page_posts += _finish_form(c, first)
    home = c.get("/h/").get_data(as_text=True)
    assert "Đã xong 2/2 phiếu" in home
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Response)) == 19
        tvh = db.session().scalar(select(Campaign).filter_by(code="TVH-2023"))
        queue_invitations(tvh)
        mails = Counter(db.session().scalars(select(OutboxMessage.to_address)))
    assert set(mails.values()) == {1}  # one email per person (this one had 19 forms before)
    requests = sum(c.count.values())
    page_posts_per_unit = page_posts / 19
    print(f"\nTrà Vinh district division leader: page POSTs {page_posts} (was 19 x 9 = 171), "
          f"submits 2 (was 19), requests {requests} ({requests / 19:.2f} per unit rating), "
          f"page POSTs per unit rating {page_posts_per_unit:.2f}")
    assert page_posts + 2 <= 25
