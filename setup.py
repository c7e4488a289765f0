"""Build step (metadata is in pyproject.toml): compile the message catalogs at build time.

The compiled catalogs (``messages.mo``) are not committed. Without them the app would serve
its Vietnamese pages with English buttons and headings, so ``create_app`` refuses to start, and
every build compiles them:

* a wheel or sdist-to-wheel build (``python -m build``) compiles each
  ``survey/translations/<lang>/LC_MESSAGES/*.po`` into the wheel, and ships inside the ``survey``
  package the folders a checkout keeps beside it (``templates/``, ``migrations/``,
  ``alembic.ini``), so an installed wheel renders pages and migrates a database;
* an editable install (``pip install -e .``, what ``make`` does) compiles them in place, as
  ``make translations`` does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CATALOGS = "survey/translations"
#: a checkout's folder or file -> where the wheel carries it (see survey/config.py: shipped)
SHIPPED = {"templates": "survey/templates", "migrations": "survey/migrations",
           "alembic.ini": "survey/alembic.ini"}


def compile_catalogs(source: Path, target: Path) -> list[Path]:
    """Compile every ``.po`` under ``source`` into the same place under ``target``."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name, domain=po.stem)
        with mo.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=True)  # as `pybabel compile --use-fuzzy` in make
        written.append(mo)
    if not written:
        raise SystemExit(f"no message catalogs (.po) under {source}")
    return written


class BuildPyWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            compile_catalogs(ROOT / CATALOGS, ROOT / CATALOGS)
            return
        build_lib = Path(self.build_lib)
        compile_catalogs(ROOT / CATALOGS, build_lib / CATALOGS)
        for name, target in SHIPPED.items():
            source, dest = ROOT / name, build_lib / target
            if source.is_dir():
                shutil.copytree(source, dest, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(source, dest)


setup(cmdclass={"build_py": BuildPyWithCatalogs})
