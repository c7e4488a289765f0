"""Dependencies point one way: the pure packages never import the web stack or ``survey``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"flask", "flask_wtf", "flask_babel", "flask_login", "sqlalchemy", "wtforms",
             "alembic", "survey"}
ALLOWED_INTERNAL = {
    "questionnaires": set(),
    "sampling": {"questionnaires"},
    "analysis": {"questionnaires"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED_INTERNAL))
def test_pure_packages_stay_pure(package):
    others = set(ALLOWED_INTERNAL) - {package} - ALLOWED_INTERNAL[package]
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_modules(path) & (FORBIDDEN | others)
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
