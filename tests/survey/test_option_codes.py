"""Respondents see option codes only where a paper form prints them (A, B, C ...; a 1-5
scale); internal codes such as ``individual`` or ``land`` never reach a page (issue 18)."""

from __future__ import annotations

import re

from questionnaires import load_builtin_by_id


def _labels(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", x) for x in re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)]


def test_citizen_pages_show_no_internal_codes(client, make_form):
    q = load_builtin_by_id("citizen-sipas")
    _, token = make_form("citizen-sipas")
    client.get(f"/s/{token}")
    internal = {o.code for s in q.sections for x in s.questions for o in x.options
                if not o.printed}
    assert {"individual", "land"} <= internal
    for page in range(1, len(q.sections) + 1):
        html = client.get(f"/f/p/{page}").get_data(as_text=True)
        shown = re.findall(r'<span class="code">([^<]*)</span>', html)
        assert all(len(c) <= 2 for c in shown), (page, shown)
        labels = [" ".join(t.split()) for t in _labels(html)]
        leaked = [t for t in labels for c in internal if t == c or t.startswith(c + " ")]
        assert not leaked, (page, leaked)
        assert not re.search(r"\b(individual|land)\b", " ".join(labels)), page


def test_letter_codes_the_paper_prints_are_shown(client, make_form):
    _, token = make_form()
    client.get(f"/s/{token}")
    html = client.get("/f/p/1").get_data(as_text=True)
    assert '<span class="code">A</span>' in html and '<span class="code">E</span>' in html


def test_which_codes_are_printed():
    q = load_builtin_by_id("citizen-sipas")
    printed = {o.code for s in q.sections for x in s.questions for o in x.options if o.printed}
    assert printed <= {"1", "2", "3", "4", "5", "9", "A", "B", "C", "D", "E"}
