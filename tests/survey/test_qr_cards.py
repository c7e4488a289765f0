"""QR codes, printable cards and ``par-survey qr``."""

from __future__ import annotations

import io
import re
import secrets
import shutil
import subprocess
import zlib
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

import survey.manage.paper  # noqa: F401  (registers the staff routes before any app is made)
from survey import db
from survey.cli.qr_cmd import qr as qr_command
from survey.models import AccessToken, Campaign, Form
from survey.services import cards as cards_mod
from survey.services.cards import (
    FontMissing,
    cards_pdf,
    forms_query,
    issue_for_forms,
    issue_for_respondents,
)
from survey.services.qr import (
    png_bytes,
    png_many,
    qr_matrices,
    qr_matrix_reference,
    short_code,
    svg_bytes,
    svg_many,
)
from tests.conftest import csrf_from
from tests.survey.conftest import login

BASE = "https://khaosat.example.vn"


def pdf_text(data: bytes, tmp_path) -> str:
    """Text of a PDF by Ghostscript's txtwrite or poppler's pdftotext; skip if neither."""
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    if shutil.which("gs"):
        return subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER",
                               "-sDEVICE=txtwrite", "-sOutputFile=-", str(path)],
                              check=True, capture_output=True).stdout.decode("utf-8")
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", str(path), "-"], check=True,
                              capture_output=True).stdout.decode("utf-8")
    pytest.skip("neither gs (ghostscript) nor pdftotext (poppler-utils) is installed")


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", data))


def pdf_qr_matrices(data: bytes) -> list[np.ndarray]:
    """The QR matrices drawn in a PDF by ``draw_qr`` (unit-square runs after one ``cm``)."""
    out = []
    # The compressed bytes may themselves end in "\r": take everything up to "\nendstream" and let
    # the decompressor drop what follows its end (a "\r" of the line ending, if any).
    for stream in re.findall(rb"stream\r?\n(.*?)\nendstream", data, re.S):
        try:
            text = zlib.decompressobj().decompress(stream).decode("latin-1")
        except zlib.error:
            continue
        for block in re.findall(r"q 0 g [^\n]* cm\n(.*?)f Q", text, re.S):
            runs = [tuple(map(int, line.split()[:3])) for line in block.strip().splitlines()]
            size = 1 + max(c + n - 1 for c, _, n in runs)
            size = max(size, 1 + max(r for _, r, _ in runs))
            m = np.zeros((size, size), dtype=np.uint8)
            for c, r, n in runs:
                m[r, c:c + n] = 1
            out.append(m)
    return out


def test_fast_encoder_equals_segno_for_many_links():
    links = ([f"{BASE}/s/{secrets.token_urlsafe(16)}" for _ in range(200)]
             + [f"http://127.0.0.1:5000/s/{secrets.token_urlsafe(16)}"]
             + ["https://x.vn/" + "a" * k for k in range(0, 300, 7)]
             + ["HELLO 123", "0123456789", "https://a.vn/s/Ánh"])  # other modes: segno itself
    for link, matrix in zip(links, qr_matrices(links), strict=True):
        assert np.array_equal(matrix, qr_matrix_reference(link)), link


def test_svg_and_png_are_well_formed_and_hold_the_matrix():
    link = f"{BASE}/s/{secrets.token_urlsafe(16)}"
    matrix = qr_matrices([link])[0]
    assert np.array_equal(matrix, qr_matrix_reference(link))
    root = ElementTree.fromstring(svg_bytes(matrix, scale=4, border=4))
    path = next(e for e in root.iter() if e.tag.endswith("path")).get("d")
    drawn = np.zeros((matrix.shape[0] + 8,) * 2, dtype=np.uint8)
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)", path):
        drawn[int(y), int(x):int(x) + int(n)] = 1
    assert np.array_equal(drawn[4:-4, 4:-4], matrix) and drawn.sum() == matrix.sum()
    image = Image.open(io.BytesIO(png_bytes(matrix, scale=3, border=4)))
    image.load()
    assert image.size == ((matrix.shape[0] + 8) * 3,) * 2
    pixels = np.array(image.convert("L"))
    sampled = (pixels[4 * 3 + 1::3, 4 * 3 + 1::3][:matrix.shape[0], :matrix.shape[0]] < 128)
    assert np.array_equal(sampled.astype(np.uint8), matrix)
    # the batch renderers give the same files
    links = [link, "x" * 300, f"{BASE}/s/{secrets.token_urlsafe(16)}"]
    matrices = qr_matrices(links)
    assert svg_many(matrices) == [svg_bytes(m) for m in matrices]
    assert png_many(matrices, scale=3) == [png_bytes(m, scale=3) for m in matrices]


def test_cards_pdf_pages_text_qr_and_links(app, client, make_campaign, make_form, tmp_path):
    make_campaign(departments=3)
    names = [f"Người Thử {i} Đặng" for i in range(13)]
    old_tokens = []
    for i, name in enumerate(names):
        form_id, token = make_form(units=(f"S0{i % 3 + 1}",), email=f"p{i}@example.vn")
        old_tokens.append(token)
        with app.app_context(), db.write_transaction() as s:
            s.get(Form, form_id).respondent.full_name = name
    with app.test_request_context():
        campaign = db.session().scalar(select(Campaign))
        issued = issue_for_respondents(campaign, forms_query(campaign), BASE, "vi")
        data = cards_pdf(issued, campaign.name_vi)
        assert len(issued) == 13
        assert pdf_pages(data) == 2  # ten cards a page
        text = pdf_text(data, tmp_path)
        for item in issued:
            assert item.name in text and item.code in text
            assert item.respondent_id is not None  # a card opens its respondent's home
            assert item.code == short_code(item.token)
        assert "Sở thử 1" in text
        drawn = pdf_qr_matrices(data)
        assert len(drawn) == 13
        for item, matrix in zip(issued, drawn, strict=True):
            assert np.array_equal(matrix, qr_matrix_reference(item.link))
    # a card's link opens its respondent's only form; the links issued before still work
    item = issued[0]
    r = client.get(item.link.replace(BASE, ""))
    assert r.status_code == 302 and r.headers["Location"].endswith("/f/p/1")
    with client.session_transaction() as s:
        assert s["form_id"] == item.form_id
    assert app.test_client().get(f"/s/{old_tokens[0]}").status_code == 302


def test_cli_cards_svg_png_and_revoke_old(app, make_campaign, make_form, tmp_path):
    make_campaign(departments=2)
    _, first = make_form(units=("S01",), email="a@example.vn")
    _, second = make_form(units=("S02",), email="b@example.vn")
    runner = app.test_cli_runner()
    out = tmp_path / "cards.pdf"
    r = runner.invoke(qr_command, ["--campaign", "T-2026", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"%PDF") and pdf_pages(out.read_bytes()) == 1
    r = runner.invoke(qr_command, ["--campaign", "T-2026", "--unit", "S01", "--format", "svg",
                                   "--out", str(tmp_path / "svg")])
    assert r.exit_code == 0, r.output
    svgs = list((tmp_path / "svg").glob("*.svg"))
    assert len(svgs) == 1 and (tmp_path / "svg" / "index.csv").exists()
    ElementTree.fromstring(svgs[0].read_bytes())
    r = runner.invoke(qr_command, ["--campaign", "T-2026", "--format", "png", "--revoke-old",
                                   "--out", str(tmp_path / "png")])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "png").glob("*.png"))) == 2
    client = app.test_client()
    assert client.get(f"/s/{first}").status_code == 404  # revoked
    assert client.get(f"/s/{second}").status_code == 404
    with app.app_context():
        live = db.session().scalar(select(func.count()).select_from(AccessToken).where(
            AccessToken.revoked_at.is_(None)))
        assert live == 2
    r = runner.invoke(qr_command, ["--campaign", "NOPE", "--out", str(out)])
    assert r.exit_code == 1


def test_missing_font_fails_clearly_before_issuing(app, make_campaign, make_form, tmp_path,
                                                   monkeypatch):
    make_campaign()
    make_form()
    monkeypatch.setattr(cards_mod, "FONT_DIR", tmp_path)
    with app.test_request_context():
        campaign = db.session().scalar(select(Campaign))
        before = db.session().scalar(select(func.count()).select_from(AccessToken))
        with pytest.raises(FontMissing, match="is not in") as refused:
            issue_for_forms(campaign, forms_query(campaign), BASE, "vi", revoke_old=True)
        assert refused.value.code == "PDF-FONT-MISSING" and "fonts-dejavu-core" in refused.value.problem.fix()
        db.session().rollback()
        assert db.session().scalar(select(func.count()).select_from(AccessToken)) == before
        assert db.session().scalar(select(func.count()).select_from(AccessToken).where(
            AccessToken.revoked_at.is_not(None))) == 0
    r = app.test_cli_runner().invoke(qr_command, ["--campaign", "T-2026",
                                                  "--out", str(tmp_path / "x.pdf")])
    assert r.exit_code == 1 and "fonts-dejavu-core" in r.output
    assert "Không có phông chữ PDF" in r.output and "Cài gói Debian fonts-dejavu-core" in r.output  # --lang vi


def test_staff_print_cards_and_paper_forms(world):  # noqa: F811
    client = world.test_client()
    login(client, "contractor@tvh.gov.vn")
    page = client.get("/manage/c/OWN-2026/paper/print")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    r = client.post("/manage/c/OWN-2026/paper/print", data={"csrf_token": token,
                                                            "kind": "cards"})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF") and len(pdf_qr_matrices(r.data)) == 2
    r = client.post("/manage/c/OWN-2026/paper/print", data={
        "csrf_token": token, "kind": "forms", "unit": "S01"})
    assert r.status_code == 200 and len(pdf_qr_matrices(r.data)) >= 1
    r = client.post("/manage/c/OWN-2026/paper/print", data={"csrf_token": token,
                                                            "kind": "blank"})
    assert r.status_code == 422  # a blank form needs its group
    r = client.post("/manage/c/OWN-2026/paper/print", data={
        "csrf_token": token, "kind": "blank", "group": "dept_division_leader"})
    assert r.status_code == 200 and pdf_qr_matrices(r.data) == []
    # others: the viewer may not; another province's campaign does not exist for them
    viewer = world.test_client()
    login(viewer, "viewer@tvh.gov.vn")
    assert viewer.get("/manage/c/OWN-2026/paper/print").status_code == 403
    assert client.get("/manage/c/OTHER-2026/paper/print").status_code == 404
    anonymous = world.test_client().get("/manage/c/OWN-2026/paper/print")
    assert anonymous.status_code == 302 and "/manage/login" in anonymous.headers["Location"]
