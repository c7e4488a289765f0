"""The respondent flow's cost in-process, for comparing two checkouts on a noisy machine.

``bench_forms.py`` measures throughput under gunicorn against a baseline in the same run; on a
shared VM whose speed drifts within minutes, a few per cent between two commits is lost in
the noise. This script runs the same requests in one process through Flask's test client on
PostgreSQL (no sockets, no workers): ``--forms N`` scripted forms (open the link, three
htmx-boosted page posts, submit) or ``--posts N`` plain page posts of page 2 of one form
(the page-post phase), after a warm-up, and prints the CPU time per form or post.

CPU time still moves with the machine. Counted instructions do not: run it twice under
cachegrind, with N and with 0, and divide the difference by N::

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        .venv/bin/python bench/flow_cost.py --posts 200 --database-url postgresql+psycopg://...

Run from another checkout (``python OTHER/bench/flow_cost.py``; copy the file into an older
one's ``bench/``) it measures that checkout's code: the script puts its own tree first on
``sys.path``. It drops and rebuilds the schema of
``--database-url``, as ``bench_forms.py`` does.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("PAR_SURVEY_SECRET_KEY", "bench-" + secrets.token_urlsafe(24))

import bench_forms  # noqa: E402
import forms_client  # noqa: E402

WARM_UP = 20
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}


class _Answers:
    """forms_client's answer picker, seeded."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def __call__(self, page: bytes) -> list[tuple[str, str]]:
        return forms_client.Browser.answers(self, page)  # type: ignore[arg-type]


def one_form(client, token: str, answers: _Answers) -> None:
    opened = client.get(f"/s/{token}")
    assert opened.status_code == 302, opened.status_code
    body = client.get(opened.headers["Location"]).data
    for page in (1, 2, 3):
        posted = client.post(f"/f/p/{page}", data=dict(answers(body) + [("action", "next")]),
                             headers={**BOOSTED, "HX-Current-URL": f"http://bench/f/p/{page}"})
        assert posted.status_code == 200, (page, posted.status_code)
        body = posted.data
    match = forms_client.CSRF_RE.search(body)
    assert match is not None, "review page without CSRF token"
    done = client.post("/f/submit", data={"csrf_token": match.group(1).decode()}, headers=BOOSTED)
    assert done.status_code == 200 and (done.headers.get("HX-Push-Url") or "").endswith("/f/done")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test_flow_cost")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--forms", type=int, help="scripted forms to complete after the warm-up")
    what.add_argument("--posts", type=int, help="plain posts of page 2 after the warm-up")
    args = parser.parse_args()
    bench_forms.reset_database(args.database_url)
    n = args.forms if args.forms is not None else args.posts
    tokens, _ = bench_forms.seed(args.database_url, (n + WARM_UP) if args.forms is not None else 1, 8)
    from survey import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url})
    answers = _Answers(1)
    if args.forms is not None:
        for token in tokens[:WARM_UP]:
            one_form(app.test_client(), token, answers)
        start = time.process_time()
        for token in tokens[WARM_UP:]:
            one_form(app.test_client(), token, answers)
    else:
        client = app.test_client()
        opened = client.get(f"/s/{tokens[0]}")
        body = client.get(opened.headers["Location"]).data
        assert client.post("/f/p/1", data=dict(answers(body) + [("action", "next")])).status_code == 302
        form = dict(answers(client.get("/f/p/2").data) + [("action", "next")])
        for _ in range(WARM_UP):
            assert client.post("/f/p/2", data=form).status_code == 302
        start = time.process_time()
        for _ in range(n):
            assert client.post("/f/p/2", data=form).status_code == 302
    spent = time.process_time() - start
    unit = "form" if args.forms is not None else "page post"
    per = f"{spent / n * 1000:.2f} ms of CPU per {unit}" if n else "nothing measured (N = 0)"
    print(f"{ROOT.name}: {n} x {unit}: {per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
