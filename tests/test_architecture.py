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
                    "pandas", "pyreadstat"}


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
