"""The campaign's ``design:`` section: strata, population sizes, lonely-PSU rule, weighting.

Checked when the campaign file is loaded (every problem is a located ``CFG-DESIGN`` error whose
rule is a catalog message, rendered in the reader's language at the edge);
the web layer turns the result into an :class:`analysis.SurveyDesign`. Shape (every key
optional)::

    design:
      strata: [group, rated_unit]     # the default; or [rated_unit] (source_unit: refused, see parse)
      population: populations.csv     # columns group, rated_unit, N (a stratum's population size)
      lonely_psu: certainty           # fail | remove | certainty | adjust (default) | average (R survey.lonely.psu)
      weighting:
        citizen:                      # a respondent group
          rake: {margins: citizen-margins.csv, max_iter: 50, epsilon: 1.0e-7}
          # or poststratify: {by: [sex], margins: citizen-sex.csv}
          trim: {lower: 0.3, upper: 3.0}

A margins file has columns ``variable, level, N`` (rake: one block of rows per variable) or
the ``by`` variables and ``N`` (poststratify). A variable is a question id of the group's
questionnaire and a level is the option code printed on the paper form. Files are read
relative to the campaign file's folder and must stay inside it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from questionnaires.problems import N_, Text
from sampling.tabular import TableLimits, TableReadError, read_error_text, read_table

__all__ = [
    "DEFAULT_STRATA",
    "LONELY_PSU_RULES",
    "STRATUM_VARIABLES",
    "DesignProblem",
    "DesignSpec",
    "GroupWeighting",
    "Margin",
    "parse_design",
]

STRATUM_VARIABLES: Final = ("group", "rated_unit")
DEFAULT_STRATA: Final = ("group", "rated_unit")
LONELY_PSU_RULES: Final = ("fail", "remove", "certainty", "adjust", "average")
_TOP_KEYS: Final = ("strata", "population", "lonely_psu", "weighting")
_GROUP_KEYS: Final = ("rake", "poststratify", "trim")


@dataclass(frozen=True, slots=True)
class DesignProblem:
    """One problem of the section: where (the path inside the campaign file, or a table's file,
    row and column) and the rule broken."""

    path: str
    rule: Text
    file: str = ""
    row: int | None = None
    column: str | None = None


@dataclass(frozen=True, slots=True)
class Margin:
    """Population counts of one calibration variable (or a cross of ``by`` variables).

    ``totals`` maps a level (a tuple of option codes, one per variable) to its count.
    """

    variables: tuple[str, ...]
    totals: Mapping[tuple[str, ...], float]


@dataclass(frozen=True, slots=True)
class GroupWeighting:
    """Weighting steps for one respondent group, applied after the base weights N/n."""

    method: str | None  # "rake" | "poststratify" | None (trim only)
    margins: tuple[Margin, ...] = ()
    margins_file: str = ""
    max_iter: int = 50
    epsilon: float = 1e-7
    trim: tuple[float, float] | None = None  # (lower, upper) bounds on the weights


@dataclass(frozen=True, slots=True)
class DesignSpec:
    """A checked ``design:`` section (the defaults when the campaign has none)."""

    strata: tuple[str, ...] = DEFAULT_STRATA
    population: Mapping[tuple[str, str], float] = field(default_factory=dict)
    population_file: str = ""
    #: "adjust" unless the section says otherwise: a stratum with one response (of several
    #: people) adds its deviation from zero, a conservative variance, instead of failing the run
    lonely_psu: str = "adjust"
    weighting: Mapping[str, GroupWeighting] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form with the files' contents (the campaign row keeps this)."""
        return {
            "strata": list(self.strata),
            "population": [[g, u, n] for (g, u), n in sorted(self.population.items())],
            "population_file": self.population_file,
            "lonely_psu": self.lonely_psu,
            "weighting": {
                g: {"method": w.method, "margins_file": w.margins_file, "max_iter": w.max_iter,
                    "epsilon": w.epsilon, "trim": list(w.trim) if w.trim else None,
                    "margins": [{"variables": list(m.variables),
                                 "totals": [[*k, n] for k, n in m.totals.items()]} for m in w.margins]}
                for g, w in sorted(self.weighting.items())
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> DesignSpec:
        """The inverse of :meth:`to_json`; ``None`` gives the defaults."""
        if not data:
            return cls()
        weighting: dict[str, GroupWeighting] = {}
        for g, w in dict(data.get("weighting") or {}).items():
            margins = tuple(
                Margin(tuple(m["variables"]),
                       {tuple(str(x) for x in row[:-1]): float(row[-1]) for row in m["totals"]})
                for m in w.get("margins", []))
            trim = w.get("trim")
            weighting[str(g)] = GroupWeighting(w.get("method"), margins, str(w.get("margins_file", "")),
                                               int(w.get("max_iter", 50)), float(w.get("epsilon", 1e-7)),
                                               (float(trim[0]), float(trim[1])) if trim else None)
        return cls(
            strata=tuple(data.get("strata") or DEFAULT_STRATA),
            population={(str(g), str(u)): float(n) for g, u, n in data.get("population") or []},
            population_file=str(data.get("population_file", "")),
            lonely_psu=str(data.get("lonely_psu", "adjust")),
            weighting=weighting,
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _cell_number(text: str) -> float | None:
    try:
        f = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return f if math.isfinite(f) else None


class _Parser:
    def __init__(self, base_dir: Path | None, groups: Collection[str], units: Collection[str]) -> None:
        self.base_dir = base_dir
        self.groups = set(groups)
        self.units = set(units)
        self.problems: list[DesignProblem] = []

    def bad(self, path: str, rule: str, **params: Any) -> None:
        """A problem at ``path`` in the campaign file."""
        self.problems.append(DesignProblem(path, Text(rule, params)))

    def bad_in(self, file: str, rule: str, *, at: str = "", row: int | None = None,
               column: str | None = None, **params: Any) -> None:
        """A problem in a population or margins table ``file``: at a ``row`` (as shown) and
        ``column``, or about the whole table named at ``at`` in the campaign file."""
        self.problems.append(DesignProblem(at, Text(rule, params), file, row, column))

    def keys(self, raw: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in sorted(set(map(str, raw)) - set(allowed)):
            self.bad(f"{path}.{key}", N_("key '{key}' is not allowed (allowed: {allowed})"),
                     key=key, allowed=", ".join(allowed))

    def table(self, ref: Any, path: str,
              required: tuple[str, ...]) -> tuple[str, list[tuple[int, dict[str, str]]]] | None:
        if not isinstance(ref, str) or not ref.strip():
            self.bad(path, N_("must name a CSV or XLSX file"))
            return None
        if self.base_dir is None:
            self.bad(path, N_("the configuration was given as text, so no file can be read"))
            return None
        rel = Path(ref.strip())
        target = (self.base_dir / rel).resolve()
        if rel.is_absolute() or not target.is_relative_to(self.base_dir.resolve()):
            self.bad(path, N_("the path must stay inside the configuration's folder"))
            return None
        shown = str(self.base_dir / rel)
        try:
            table = read_table(target, limits=TableLimits(max_rows=200_000))
        except TableReadError as exc:
            self.bad(path, N_("cannot read {file}: {reason}"), file=shown, reason=read_error_text(exc))
            return None
        header = [h.strip() for h in table.header]
        missing = [c for c in required if c not in header]
        if missing:
            self.bad_in(shown, N_("missing column {columns}"), row=1, columns=", ".join(missing))
            return None
        rows = [(number, {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)})
                for number, cells in table.rows]
        return shown, rows

    def strata(self, raw: Any) -> tuple[str, ...]:
        p = "design.strata"
        if not isinstance(raw, list) or not raw:
            self.bad(p, N_("must be a non-empty list of stratum variables"))
            return DEFAULT_STRATA
        out: list[str] = []
        for k, v in enumerate(raw):
            if v == "source_unit":
                self.bad(f"{p}[{k}]", N_("responses do not keep the respondent's own unit (they are kept "
                                         "apart from identities), so source_unit cannot be a stratum"))
            elif v not in STRATUM_VARIABLES:
                self.bad(f"{p}[{k}]", N_("'{value}' is not a stratum variable ({allowed})"),
                         value=v, allowed=", ".join(STRATUM_VARIABLES))
            elif v in out:
                self.bad(f"{p}[{k}]", N_("'{value}' repeats"), value=v)
            else:
                out.append(str(v))
        if "rated_unit" not in out and out:
            self.bad(p, N_("must include rated_unit: scores are computed per rated unit"))
        return tuple(out) or DEFAULT_STRATA

    def population(self, raw: Any) -> tuple[str, dict[tuple[str, str], float]]:
        p = "design.population"
        found = self.table(raw, p, ("group", "rated_unit", "N"))
        if found is None:
            return "", {}
        shown, rows = found
        out: dict[tuple[str, str], float] = {}
        first: dict[tuple[str, str], int] = {}
        for number, cells in rows:
            g, u, n = cells["group"], cells["rated_unit"], _cell_number(cells["N"])
            ok = True
            if g not in self.groups:
                self.bad_in(shown, N_("group '{group}' is not a group of the campaign"), row=number, column="group",
                              group=g)
                ok = False
            if u not in self.units:
                self.bad_in(shown, N_("unit '{unit}' is not a unit of the campaign"), row=number, column="rated_unit",
                              unit=u)
                ok = False
            if n is None or n < 1 or n != int(n):
                self.bad_in(shown, N_("N must be a whole number >= 1"), row=number, column="N")
                ok = False
            if (g, u) in first:
                self.bad_in(shown, N_("stratum ({group}, {unit}) repeats row {first}"), row=number,
                              group=g, unit=u, first=first[(g, u)])
                ok = False
            if ok and n is not None:
                first[(g, u)] = number
                out[(g, u)] = n
        return str(raw), out

    def margins_rake(self, raw: Any, path: str) -> tuple[str, tuple[Margin, ...]]:
        found = self.table(raw, path, ("variable", "level", "N"))
        if found is None:
            return "", ()
        shown, rows = found
        by_var: dict[str, dict[tuple[str, ...], float]] = {}
        for number, cells in rows:
            var, level, n = cells["variable"], cells["level"], _cell_number(cells["N"])
            if not var or not level:
                self.bad_in(shown, N_("missing variable or level"), row=number)
                continue
            if n is None or n <= 0:
                self.bad_in(shown, N_("N must be a number > 0"), row=number, column="N")
                continue
            totals = by_var.setdefault(var, {})
            if (level,) in totals:
                self.bad_in(shown, N_("level '{level}' of '{variable}' repeats"), row=number,
                              level=level, variable=var)
                continue
            totals[(level,)] = n
        if not by_var and rows:
            return str(raw), ()
        if not rows:
            self.bad_in(shown, N_("the margins file has no data rows"), at=path)
        sums = {v: sum(t.values()) for v, t in by_var.items()}
        if len(sums) > 1 and max(sums.values()) - min(sums.values()) > 1e-6 * max(sums.values()):
            self.bad_in(shown, N_("the margins must have equal totals: {totals}"), at=path,
                        totals=", ".join(f"{v} {t:g}" for v, t in sums.items()))
        return str(raw), tuple(Margin((v,), t) for v, t in by_var.items())

    def margins_post(self, raw: Any, by: tuple[str, ...], path: str) -> tuple[str, tuple[Margin, ...]]:
        found = self.table(raw, path, (*by, "N"))
        if found is None:
            return "", ()
        shown, rows = found
        totals: dict[tuple[str, ...], float] = {}
        for number, cells in rows:
            key = tuple(cells[b] for b in by)
            n = _cell_number(cells["N"])
            if any(not k for k in key):
                self.bad_in(shown, N_("missing post-stratum level"), row=number)
            elif n is None or n <= 0:
                self.bad_in(shown, N_("N must be a number > 0"), row=number, column="N")
            elif key in totals:
                self.bad_in(shown, N_("cell ({cell}) repeats"), row=number, cell=", ".join(key))
            else:
                totals[key] = n
        return str(raw), (Margin(by, totals),)

    def group(self, raw: Any, path: str) -> GroupWeighting | None:
        if not isinstance(raw, Mapping):
            self.bad(path, N_("must be a mapping (rake | poststratify, trim)"))
            return None
        self.keys(raw, _GROUP_KEYS, path)
        if "rake" in raw and "poststratify" in raw:
            self.bad(path, N_("choose rake or poststratify, not both"))
            return None
        method: str | None = None
        margins: tuple[Margin, ...] = ()
        file = ""
        max_iter, epsilon = 50, 1e-7
        if "rake" in raw:
            method = "rake"
            r = raw["rake"]
            if not isinstance(r, Mapping) or "margins" not in r:
                self.bad(f"{path}.rake", N_("needs margins: <margins file>"))
            else:
                self.keys(r, ("margins", "max_iter", "epsilon"), f"{path}.rake")
                file, margins = self.margins_rake(r["margins"], f"{path}.rake.margins")
                if "max_iter" in r:
                    m = r["max_iter"]
                    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 10_000:
                        self.bad(f"{path}.rake.max_iter", N_("must be a whole number from 1 to 10000"))
                    else:
                        max_iter = m
                if "epsilon" in r:
                    e = _number(r["epsilon"])
                    if e is None or e <= 0:
                        self.bad(f"{path}.rake.epsilon", N_("must be a number > 0"))
                    else:
                        epsilon = e
        elif "poststratify" in raw:
            method = "poststratify"
            r = raw["poststratify"]
            if not isinstance(r, Mapping) or "margins" not in r or "by" not in r:
                self.bad(f"{path}.poststratify", N_("needs by: [variables] and margins: <file>"))
            else:
                self.keys(r, ("by", "margins"), f"{path}.poststratify")
                by = r["by"]
                if isinstance(by, str):
                    by = [by]
                if not isinstance(by, list) or not by or not all(isinstance(b, str) and b for b in by):
                    self.bad(f"{path}.poststratify.by", N_("must be a list of question ids"))
                else:
                    file, margins = self.margins_post(r["margins"], tuple(by), f"{path}.poststratify.margins")
        trim: tuple[float, float] | None = None
        if "trim" in raw:
            t = raw["trim"]
            lo = _number(t.get("lower")) if isinstance(t, Mapping) else None
            hi = _number(t.get("upper")) if isinstance(t, Mapping) else None
            if isinstance(t, Mapping):
                self.keys(t, ("lower", "upper"), f"{path}.trim")
            if lo is None or hi is None or not 0 < lo <= 1 <= hi:
                self.bad(f"{path}.trim",
                         N_("needs lower and upper with 0 < lower <= 1 <= upper (ratios to the mean weight)"))
            else:
                trim = (lo, hi)
        if method is None and trim is None:
            self.bad(path, N_("needs at least one step: rake, poststratify or trim"))
            return None
        return GroupWeighting(method, margins, file, max_iter, epsilon, trim)

    def parse(self, raw: Any) -> DesignSpec:
        if not isinstance(raw, Mapping):
            self.bad("design", N_("must be a mapping"))
            return DesignSpec()
        self.keys(raw, _TOP_KEYS, "design")
        strata = self.strata(raw["strata"]) if "strata" in raw else DEFAULT_STRATA
        pop_file, population = self.population(raw["population"]) if "population" in raw else ("", {})
        lonely = "adjust"
        if "lonely_psu" in raw:
            if raw["lonely_psu"] not in LONELY_PSU_RULES:
                self.bad("design.lonely_psu", N_("must be one of {allowed}"), allowed=", ".join(LONELY_PSU_RULES))
            else:
                lonely = str(raw["lonely_psu"])
        weighting: dict[str, GroupWeighting] = {}
        if "weighting" in raw:
            w = raw["weighting"]
            if not isinstance(w, Mapping) or not w:
                self.bad("design.weighting", N_("must be a mapping {{group: steps}}"))
            else:
                for g, steps in w.items():
                    path = f"design.weighting.{g}"
                    if str(g) not in self.groups:
                        self.bad(path, N_("group '{group}' is not a group of the campaign"), group=g)
                        continue
                    found = self.group(steps, path)
                    if found is not None:
                        weighting[str(g)] = found
        return DesignSpec(strata, population, pop_file, lonely, weighting)


def parse_design(raw: Any, *, base_dir: Path | None, groups: Collection[str],
                 units: Collection[str]) -> tuple[DesignSpec, tuple[DesignProblem, ...]]:
    """Check a ``design:`` section; returns the spec and every located problem (none when valid)."""
    parser = _Parser(base_dir, groups, units)
    spec = parser.parse(raw)
    return spec, tuple(parser.problems)
