"""Every page in Vietnamese, with no UI string left in English (issue 16, item 6).

Two checks against the Babel catalog:

- :func:`test_the_catalog_holds_every_extracted_msgid` extracts the msgids as ``pybabel
  extract`` would (babel.cfg's files, the ``_``/``_l``/``N_`` keywords) and fails on any missing from
  ``messages.po`` (a string that would show in English whatever the language);
- :func:`test_every_page_renders_in_vietnamese_without_english_ui_text` renders every staff
  page (each GET route, as each role) and every respondent page in Vietnamese, and fails when
  the visible text holds an untranslated msgid (missing, or with an empty msgstr), the English
  text of a translated msgid, or English text of a library (Flask-Login's login message).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from sqlalchemy import select

from survey import db
from survey.manage.access import ROUTES
from survey.models import Form, Role
from tests.survey.conftest import login, url_for_rule


ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "survey" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"
#: English UI text from libraries, which pybabel does not extract from our code.
LIBRARY_TEXT = ("Please log in to access this page.",)
_PLACEHOLDER = re.compile(r"%\(\w+\)[sdf]|%[sdf]|\{\w*\}")


def extracted_msgids() -> dict[str, str]:
    """msgid -> where, as ``pybabel extract -F babel.cfg -k _l -k N_`` finds them."""
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "N_": None}
    method_map = [("questionnaires/**.py", "python"), ("analysis/**.py", "python"), ("sampling/**.py", "python"),
                  ("survey/**.py", "python"), ("templates/**.html", "jinja2")]
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords=keywords):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def catalog() -> dict[str, str]:
    """msgid -> msgstr ("" when untranslated or fuzzy) of the Vietnamese catalog."""
    with CATALOG.open("rb") as fh:
        po = read_po(fh)
    out = {}
    for m in po:
        if not m.id:
            continue
        msgid = m.id[0] if isinstance(m.id, tuple) else m.id
        text = m.string[0] if isinstance(m.string, tuple) else m.string
        out[msgid] = "" if m.fuzzy else (text or "")
    return out


def test_the_catalog_holds_every_extracted_msgid():
    found, known = extracted_msgids(), catalog()
    assert len(found) > 300  # the extraction itself works
    missing = {m: where for m, where in found.items() if m not in known}
    assert missing == {}, "msgids missing from messages.po (add them at its end)"


def _fragment(msgid: str) -> str:
    """The longest literal piece of a msgid (placeholders cut out), as it shows on a page."""
    return max((p.strip() for p in _PLACEHOLDER.split(msgid)), key=len)


class _Text(HTMLParser):
    """Visible text and the attributes people read (labels, placeholders, alt, titles)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("placeholder", "title", "alt", "aria-label") and value:
                self.parts.append(value)
            if name == "value" and value and dict(attrs).get("type") in ("submit", "button"):
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def english_left(text: str, known: dict[str, str], found: dict[str, str]) -> list[str]:
    """UI strings of ``text`` that Vietnamese readers would see in English."""
    bad = []
    for msgid in set(found) | set(known):
        piece = " ".join(_fragment(msgid).split())
        translated = known.get(msgid, "")
        if not translated:
            if len(piece) >= 4 and re.search(r"[A-Za-z]{3}", piece) and piece in text:
                bad.append(msgid)
        elif (len(piece) >= 12 and " " in piece and piece not in translated
              and piece in text):
            bad.append(msgid)
    bad.extend(t for t in LIBRARY_TEXT if t in text)
    return sorted(bad)


@pytest.fixture
def pages(world, make_form):
    """(who, path, html) of every page a person reads, rendered in Vietnamese."""
    out: list[tuple[str, str, str]] = []

    def get(client, who: str, path: str) -> None:
        r = client.get(path, headers={"Accept-Language": "vi"})
        if r.status_code in (301, 302, 303):
            r = client.get(r.headers["Location"], headers={"Accept-Language": "vi"})
        if r.mimetype == "text/html":
            out.append((who, path, r.get_data(as_text=True)))

    anonymous = world.test_client()
    get(anonymous, "anonymous", "/manage/")  # the login page, with Flask-Login's message
    get(anonymous, "anonymous", "/manage/login")
    get(anonymous, "anonymous", "/no-such-page")
    get(anonymous, "anonymous", "/")
    rules = [r for r in world.url_map.iter_rules()
             if r.endpoint in ROUTES and "GET" in r.methods]
    for role in (Role.ADMIN, Role.CONTRACTOR, Role.FOCAL_POINT):
        client = world.test_client()
        assert login(client, f"{role.value}@tvh.gov.vn").status_code == 302
        for rule in rules:
            if rule.endpoint in ("manage.login",):
                continue
            get(client, role.value, url_for_rule(rule.rule, "OWN-2026"))
        get(client, role.value, "/manage/c/OWN-2026/?sort=unit&level=department")
        with world.app_context():
            form_id = db.session().scalar(select(Form.id).order_by(Form.id))
        get(client, role.value, f"/manage/c/OWN-2026/paper/entry?form={form_id}")
        get(client, role.value, "/manage/c/OWN-2026/console?q=an@example")
    respondent = world.test_client()
    _form, token = make_form()
    get(respondent, "respondent", f"/s/{token}")
    for path in ("/f/", "/f/p/1", "/f/p/2", "/f/review"):
        get(respondent, "respondent", path)
    return out


def test_every_page_renders_in_vietnamese_without_english_ui_text(pages):
    known, found = catalog(), extracted_msgids()
    assert len(pages) > 40
    problems = {}
    for who, path, html in pages:
        assert 'lang="vi"' in html, path
        left = english_left(visible_text(html), known, found)
        if left:
            problems[f"{who} {path}"] = left
    assert problems == {}


def test_login_message_and_dashboard_options_are_vietnamese(pages):
    by_path = {(who, path): html for who, path, html in pages}
    assert "Vui lòng đăng nhập để xem trang này." in by_path[("anonymous", "/manage/")]
    dashboard = by_path[("admin", "/manage/c/OWN-2026/")]
    sort = re.search(r'<select id="f-sort" name="sort">(.*?)</select>', dashboard).group(1)
    level = re.search(r'<select id="f-level" name="level">(.*?)</select>', dashboard).group(1)
    labels = re.findall(r">([^<]+)</option>", sort + level)
    assert "Chậm nhất trước" in labels and "Sở, ban, ngành" in labels
    assert not {"lag", "unit", "group", "completed", "department"} & set(labels)
    # roles by name, not by code, in the header and the accounts page
    assert "admin@tvh.gov.vn · Quản trị viên Sở Nội vụ" in dashboard
    users = by_path[("admin", "/manage/users")]
    assert "Cán bộ đầu mối của cơ quan" in users and ">focal_point<" not in users
