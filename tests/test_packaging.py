"""Vietnamese does not depend on a make step: a built wheel carries the compiled catalogs, and
the app refuses to start without them.

The wheel test builds the sdist and, from it, the wheel with ``python -m build`` (isolated
builds: setuptools, wheel and Babel come from PyPI or pip's cache), installs the wheel into a
fresh virtualenv, migrates a database with the installed ``par-survey`` and renders pages.
The fresh virtualenv borrows this environment's third-party packages (a ``.pth`` line to its
site-packages, whose own ``.pth`` files, among them this checkout's editable install, are not
read), so nothing but the build tools is downloaded; the test checks that ``survey`` is
imported from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from survey import create_app
from survey.i18n import CatalogMissing

ROOT = Path(__file__).resolve().parent.parent
CATALOG = "survey/translations/vi/LC_MESSAGES/messages.mo"


def test_app_refuses_to_start_without_the_vietnamese_catalog(tmp_path):
    with pytest.raises(CatalogMissing, match="make translations") as refused:
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                    "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path)})
    assert "python -m build" in str(refused.value)
    assert str(tmp_path / "vi" / "LC_MESSAGES" / "messages.mo") in str(refused.value)


RENDER = textwrap.dedent("""\
    import sys
    import survey
    from survey import create_app
    print(survey.__file__)
    app = create_app()
    for url in sys.argv[1:]:
        response = app.test_client().get(url)  # a new browser each: the language is kept
        print("=====", url, response.status_code)
        print(response.get_data(as_text=True))
    """)


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600
         ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _pages(output: str) -> dict[str, tuple[int, str]]:
    pages = {}
    for chunk in output.split("===== ")[1:]:
        head, _, body = chunk.partition("\n")
        url, status = head.rsplit(" ", 1)
        pages[url] = (int(status), body)
    return pages


def test_wheel_carries_the_catalogs_and_renders_vietnamese(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], cwd=tmp_path)
    wheel = next(dist.glob("par_survey-*.whl"))
    sdist = next(dist.glob("par_survey-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert not [n for n in names if n.endswith(".mo")], "the sdist must compile, not carry, .mo"
    assert any(n.endswith("messages.po") for n in names)
    with zipfile.ZipFile(wheel) as zf:
        inside = set(zf.namelist())
    assert {CATALOG, "survey/templates/base.html", "survey/migrations/env.py",
            "survey/alembic.ini"} <= inside

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
          "--no-index", str(wheel)], cwd=tmp_path)
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                        cwd=tmp_path).stdout.strip())
    (purelib / "_borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "PAR_SURVEY_SECRET_KEY": "x" * 32, "PAR_SURVEY_INSTANCE_DIR": str(tmp_path / "instance"),
           "PAR_SURVEY_DATABASE_URL": f"sqlite:///{tmp_path / 'wheel.db'}"}
    _run([str(venv / "bin" / "par-survey"), "db", "upgrade"], cwd=tmp_path, env=env)
    (tmp_path / "render.py").write_text(RENDER)
    out = _run([str(python), "render.py", "/manage/login", "/manage/login?lang=en",
                "/s/AAAAAAAAAAAAAAAAAAAAAAAA"], cwd=tmp_path, env=env).stdout
    assert out.splitlines()[0].startswith(str(purelib)), "survey was not imported from the wheel"
    pages = _pages(out)
    status, vi = pages["/manage/login"]
    assert status == 200 and '<html lang="vi"' in vi
    assert "Đăng nhập" in vi and ">Log in<" not in vi  # the chrome, translated
    status, en = pages["/manage/login?lang=en"]
    assert status == 200 and ">Log in<" in en
    status, unknown = pages["/s/AAAAAAAAAAAAAAAAAAAAAAAA"]
    assert status == 404 and '<html lang="vi"' in unknown

    (purelib / CATALOG).unlink()
    refused = subprocess.run([str(python), "render.py"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "CatalogMissing" in refused.stderr and "make translations" in refused.stderr
