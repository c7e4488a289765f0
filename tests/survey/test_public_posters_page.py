"""The staff page for public QR posters: list, create, print, replace (contractor and admin)."""

from __future__ import annotations

from sqlalchemy import select

from survey import db
from survey.models import AuditEvent, PublicLink
from tests.conftest import csrf_from
from tests.survey.test_qr_cards import pdf_pages, pdf_text
from tests.survey.conftest import login

PAGE = "/manage/c/OWN-2026/public"


def test_contractor_creates_prints_and_replaces_posters(world, tmp_path):
    client = world.test_client()
    login(client, "contractor@tvh.gov.vn")
    html = client.get(PAGE).get_data(as_text=True)
    assert "Chưa có đường dẫn công khai" in html  # none yet (Vietnamese by default)
    # printing before any link exists says so instead of an empty PDF
    r = client.get(f"{PAGE}/posters.pdf")
    assert r.status_code == 302 and r.headers["Location"].endswith(PAGE)
    bad = client.post(PAGE, data={"csrf_token": csrf_from(html), "group": "dept_division_leader",
                                  "unit": "NO-SUCH", "daily_cap": "50"})
    assert bad.status_code == 422 and "NO-SUCH" in bad.get_data(as_text=True)
    with world.app_context():
        assert db.session().scalar(select(PublicLink.id)) is None  # nothing half-written
    r = client.post(PAGE, data={"csrf_token": csrf_from(html), "group": "dept_division_leader",
                                "unit": "", "daily_cap": "50"})
    assert r.status_code == 302
    html = client.get(PAGE).get_data(as_text=True)
    with world.app_context():
        links = db.session().scalars(select(PublicLink)).all()
        assert links and all(x.daily_cap == 50 for x in links)
    urls = [u for u in html.split("<code>")[1:]]
    assert len(urls) == len(links) and all("/q/" in u for u in urls)
    pdf = client.get(f"{PAGE}/posters.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf_pages(pdf.data) == len(links)
    text = pdf_text(pdf.data, tmp_path)
    first_code = urls[0].split("/q/")[1].split("<")[0]
    assert first_code in text.replace("\n", "")
    # replacing the posters voids the printed codes
    r = client.post(f"{PAGE}/rotate", data={"csrf_token": csrf_from(html), "unit": ""})
    assert r.status_code == 302
    assert world.test_client().get(f"/q/{first_code}").status_code == 404
    assert first_code not in client.get(PAGE).get_data(as_text=True)
    with world.app_context():
        actions = [e.action for e in db.session().scalars(select(AuditEvent))]
        assert "public.create" in actions and "public.rotate" in actions


def test_focal_points_and_viewers_cannot_reach_the_posters(world):
    for role in ("focal_point", "viewer"):
        client = world.test_client()
        login(client, f"{role}@tvh.gov.vn")
        assert client.get(PAGE).status_code == 403
        assert client.get(f"{PAGE}/posters.pdf").status_code == 403
