"""Dependencies point one way: the pure packages never import the web stack or ``survey``.

The rules are import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``); these
tests run them, check that they do catch a breach, and close the two gaps a contract on names
leaves: an external package nobody thought to forbid (``flask_sqlalchemy``), and a module
imported by name at run time (``importlib.import_module("sqlalchemy")``).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = ("questionnaires", "sampling", "analysis")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
#: the only third-party packages the pure packages may use
ALLOWED_EXTERNAL = {"numpy", "scipy", "yaml", "openpyxl", "defusedxml", "email_validator",
                    "pandas", "pyreadstat", "orjson"}


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_import_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("bad", [
    ("sampling", "import sqlalchemy\n"),
    ("analysis", "def later():\n    from flask import current_app\n    return current_app\n"),
    ("questionnaires", "import analysis\n"),
    ("sampling", "from analysis import design\n"),
])
def test_contracts_catch_a_breach(tmp_path, bad):
    package, source = bad
    for name in (*PURE, "survey"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "translations", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / package / "_breach.py").write_text(source, encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout


def test_pure_packages_use_only_allowed_external_packages():
    graph = grimp.build_graph(*PURE, "survey", include_external_packages=True)
    ours = {*PURE, "survey"}
    found: dict[str, set[str]] = {}
    for package in PURE:
        for module in graph.find_descendants(package) | {package}:
            for imported in graph.find_modules_directly_imported_by(module):
                top = imported.split(".")[0]
                if top in ours or top in sys.stdlib_module_names or top in ALLOWED_EXTERNAL:
                    continue
                found.setdefault(module, set()).add(top)
    assert not found, f"pure packages import packages outside the allowed list: {found}"


def _dynamic_imports(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in ("import_module", "__import__"):
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_import_nothing_by_name_at_run_time(package):
    found = {str(p.relative_to(ROOT)): lines for p in sorted((ROOT / package).rglob("*.py"))
             if (lines := _dynamic_imports(p))}
    assert not found, f"imports by name hide from the contracts: {found}"


@pytest.mark.parametrize("package", (*PURE, "survey"))
def test_settings_are_read_only_in_survey_config(package):
    """Every ``PAR_SURVEY_*`` setting is read in one place, ``survey/config.py``."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if path == ROOT / "survey" / "config.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"settings read outside survey/config.py: {found}"


# ---------------------------------------------------------------------------- units of work

#: The only places that may commit by themselves (survey.db.own_transaction, or a Core
#: connection's own transaction), each with its reason (docs/architecture.md, "Units of work").
OWN_TRANSACTIONS = {
    ("survey/api/__init__.py", "guarded"): "an API call counts against its rate whatever it does",
    ("survey/services/staff.py", "log_in"): "a login attempt counts before the password is checked",
    ("survey/services/staff.py", "resume_session"): "last seen: bookkeeping, not the request's action",
    ("survey/services/import_jobs.py", "_stage"): "a poll sees the job's stage at once",
    ("survey/services/import_jobs.py", "_claim"): "every other runner sees the claim at once",
    ("survey/services/import_jobs.py", "run_import_job"): "the import and the job's result",
    ("survey/services/outbox.py", "_claim"): "every other worker sees the claim at once",
    ("survey/services/outbox.py", "_release"): "released rows go back to the queue at once",
    ("survey/services/outbox.py", "_deliver"): "a message is marked sending before it is sent",
    ("survey/services/outbox.py", "_record"): "a sent message is recorded at once (Core)",
    ("survey/services/webhooks.py", "_claim"): "every other worker sees the claim at once",
    ("survey/services/webhooks.py", "_record"): "a delivery attempt is recorded at once",
    ("survey/services/webhooks.py", "_release"): "released deliveries go back at once",
}
#: Where a unit of work is opened: the edges, never a service.
EDGES = ("survey/manage/access.py", "survey/api/__init__.py", "survey/cli/")
_COMMITTING = {"commit", "rollback", "own_transaction", "begin", "begin_nested"}


def _calls(path: Path) -> list[tuple[str, str, int]]:
    """(enclosing function, called attribute, line) of every ``x.attr(...)`` call."""
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                else function
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                found.append((function, child.func.attr, child.lineno))
            visit(child, name)

    visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    return found


def test_only_the_named_exceptions_commit_outside_a_unit_of_work():
    """Services flush; the edge commits. A ``.commit()`` / ``.rollback()`` /
    ``own_transaction()`` / ``.begin()`` anywhere in ``survey/`` but ``survey/db.py`` must be
    one of :data:`OWN_TRANSACTIONS`; ``unit_of_work()`` only at an edge."""
    seen: set[tuple[str, str]] = set()
    breaches: list[str] = []
    for path in sorted((ROOT / "survey").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "survey/db.py":
            continue
        for function, attr, line in _calls(path):
            if attr in _COMMITTING:
                if (rel, function) in OWN_TRANSACTIONS:
                    seen.add((rel, function))
                else:
                    breaches.append(f"{rel}:{line} {function}() calls .{attr}()")
            if attr == "unit_of_work" and not rel.startswith(EDGES):
                breaches.append(f"{rel}:{line} {function}() opens a unit of work")
    assert not breaches, "commits outside the edges and the named exceptions:\n" + \
        "\n".join(breaches)
    assert seen == set(OWN_TRANSACTIONS), "listed but no longer there: " + \
        str(set(OWN_TRANSACTIONS) - seen)


def test_the_unit_of_work_guard_catches_a_commit(tmp_path):
    module = tmp_path / "x.py"
    module.write_text("def save(s):\n    s.add(1)\n    s.commit()\n", encoding="utf-8")
    assert ("save", "commit", 3) in _calls(module)
