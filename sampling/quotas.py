"""Quota rules as provincial plans write them, and their expansion into quota cells.

A plan line such as "Lãnh đạo phòng chuyên môn thuộc UBND cấp huyện (02 người × 9 huyện
× 18 sở, ban, ngành) = 324 phiếu" is one :class:`QuotaRule`::

    count: 2            # 02 người
    per: district       # from each district (× 9 huyện)
    rate: each department   # each rates every department (× 18 sở)

and expands into one :class:`QuotaCell` per (district, department) with target 2, so
fieldwork can be tracked per rated unit and per source unit alike.

Rule shapes
-----------
``count: N, per: L`` (``rate: own`` is the default)
    N respondents for each unit of level L, rating that unit ("3 division leaders per
    department rate their own department"; "20 citizens per department").
``count: N, per: A, rate: each B``
    N respondents from each unit of level A rate each unit of level B.
``count: N, per: L, children: {count: M, name: ...}``
    N per child × M children per unit of L ("2 division leaders × 13 divisions × 9
    districts").  With ``children: {count: all, level: C}`` the children are the units
    of level C below each unit in the tree, one cell per child.
``count: all``
    A census of the group: the target is the number of people on the loaded list and
    stays ``None`` (unknown) until :func:`resolve_census` is given list counts.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from sampling.units import Unit, UnitTree


class RateMode(enum.StrEnum):
    """Which units a rule's respondents rate."""

    OWN = "own"
    """The unit the quota is set for (their own unit, or the agency a citizen used)."""
    EACH = "each"
    """Every unit of :attr:`QuotaRule.rate_level`."""


class CellMode(enum.StrEnum):
    """How cells are cut when respondents come from units other than the rated one."""

    PER_SOURCE = "per_source"
    """One cell per (source unit, rated unit): track "2 from each district" exactly."""
    POOLED = "pooled"
    """One cell per rated unit, target summed over source units (e.g. 2 × 9 = 18)."""


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """The "× M children" factor of a rule.

    Attributes
    ----------
    count : int or None
        M, or ``None`` for every child at :attr:`level` found in the unit tree.
    level : str or None
        Level of the children when they are in the unit tree (e.g. ``commune``).
    name_vi, name_en : str
        What the children are, for reports (e.g. "phòng chuyên môn" / "division").
    """

    count: int | None
    level: str | None = None
    name_vi: str = ""
    name_en: str = ""


@dataclass(frozen=True, slots=True)
class QuotaRule:
    """One quota line of a sample plan.

    Attributes
    ----------
    id : str
        Unique within the campaign; cells refer to it.
    group : str
        Respondent group code.
    questionnaires : tuple of str
        Forms each respondent fills for each rated unit (usually one).
    count : int or None
        Respondents per unit (per child when :attr:`children` is set); ``None`` is a census.
    per : str
        Level of the units the count applies to.
    rate : RateMode
        Rate their own ``per`` unit, or each unit of :attr:`rate_level`.
    rate_level : str or None
        Required when ``rate`` is ``EACH``.
    children : ChildSpec or None
        Multiplies the count by children per unit.
    cells : CellMode
        Cell granularity for ``EACH`` rules and for ``children: all``.
    close_when_full : bool
        Whether fieldwork stops accepting forms for a cell once its target is met.
    only, exclude : tuple of str
        Restrict the ``per`` units.
    label_vi, label_en : str
        The plan's own wording, for reports.
    """

    id: str
    group: str
    questionnaires: tuple[str, ...]
    count: int | None
    per: str
    rate: RateMode = RateMode.OWN
    rate_level: str | None = None
    children: ChildSpec | None = None
    cells: CellMode = CellMode.PER_SOURCE
    close_when_full: bool = False
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    label_vi: str = ""
    label_en: str = ""

    @property
    def census(self) -> bool:
        """Whether the rule surveys everyone on the list."""
        return self.count is None


@dataclass(frozen=True, slots=True)
class QuotaCell:
    """A concrete fieldwork target: forms of one questionnaire about one rated unit.

    Attributes
    ----------
    group : str
        Respondent group code.
    questionnaire : str
        Questionnaire id.
    rated_unit : str
        Code of the unit the forms rate.
    target : int or None
        Number of forms; ``None`` means unknown until the census list is loaded.
    source_unit : str or None
        Where the respondents come from when that differs from the rated unit
        (e.g. the district whose division leaders rate a department); ``None`` when
        respondents come from the rated unit itself or are pooled.
    close_when_full : bool
        Stop accepting forms once ``target`` is met.
    rule : str
        Id of the rule that made the cell.
    census : bool
        The target is (or will be) the size of the loaded list.
    """

    group: str
    questionnaire: str
    rated_unit: str
    target: int | None
    source_unit: str | None = None
    close_when_full: bool = False
    rule: str = ""
    census: bool = False

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        """Identity of the cell: (group, questionnaire, rated unit, source unit)."""
        return (self.group, self.questionnaire, self.rated_unit, self.source_unit)


@dataclass(frozen=True, slots=True)
class Total:
    """A sum of targets that keeps unknown (census) cells visible.

    Attributes
    ----------
    forms : int
        Sum of the known targets.
    cells : int
        Number of cells summed.
    unknown_cells : int
        Cells whose target is not known yet; when non-zero ``forms`` is a lower bound.
    """

    forms: int = 0
    cells: int = 0
    unknown_cells: int = 0

    @property
    def complete(self) -> bool:
        """Whether every target in the sum is known."""
        return self.unknown_cells == 0

    def __add__(self, other: Total) -> Total:
        return Total(self.forms + other.forms, self.cells + other.cells,
                     self.unknown_cells + other.unknown_cells)


TotalKey = Literal["group", "questionnaire", "rule", "rated_unit", "rated_level", "source_unit"]


@dataclass(frozen=True, slots=True)
class QuotaPlan:
    """The expanded cells of a campaign with totals by any dimension.

    Attributes
    ----------
    cells : tuple of QuotaCell
        In rule order, then unit order.
    rules : tuple of QuotaRule
        The rules the cells came from.
    tree : UnitTree
        Used to find rated units' levels and to resolve census targets.
    """

    cells: tuple[QuotaCell, ...]
    rules: tuple[QuotaRule, ...]
    tree: UnitTree = field(repr=False)

    def total(self) -> Total:
        """Sum over every cell."""
        return _sum(self.cells)

    def totals_by(self, key: TotalKey) -> dict[str, Total]:
        """Totals per group, questionnaire, rule, rated unit, rated unit's level or source.

        Keys keep first-appearance order; cells without a source unit are summed under
        ``""`` for ``source_unit``.
        """
        getter: Callable[[QuotaCell], str]
        if key == "rated_level":
            getter = lambda c: self.tree.get(c.rated_unit).level  # noqa: E731
        elif key == "source_unit":
            getter = lambda c: c.source_unit or ""  # noqa: E731
        elif key in ("group", "questionnaire", "rule", "rated_unit"):
            getter = lambda c: getattr(c, key)  # noqa: E731
        else:
            raise ValueError(f"unknown total key {key!r}")
        groups: dict[str, list[QuotaCell]] = defaultdict(list)
        for cell in self.cells:
            groups[getter(cell)].append(cell)
        return {k: _sum(v) for k, v in groups.items()}

    def select(self, **match: str | None) -> tuple[QuotaCell, ...]:
        """Cells whose named fields equal the given values, e.g. ``select(group="citizen")``."""
        return tuple(c for c in self.cells
                     if all(getattr(c, name) == value for name, value in match.items()))


def _sum(cells: Iterable[QuotaCell]) -> Total:
    forms = n = unknown = 0
    for cell in cells:
        n += 1
        if cell.target is None:
            unknown += 1
        else:
            forms += cell.target
    return Total(forms, n, unknown)


@dataclass(frozen=True, slots=True)
class ExpansionProblem:
    """A rule that cannot be expanded as written; mapped to a located problem."""

    rule_index: int
    code: str
    params: Mapping[str, object]


def rule_units(rule: QuotaRule, tree: UnitTree) -> tuple[Unit, ...]:
    """The ``per`` units a rule applies to, after ``only`` / ``exclude``."""
    units = tree.at_level(rule.per)
    if rule.only:
        keep = set(rule.only)
        units = tuple(u for u in units if u.code in keep)
    if rule.exclude:
        drop = set(rule.exclude)
        units = tuple(u for u in units if u.code not in drop)
    return units


def _expand_rule(rule: QuotaRule, index: int, tree: UnitTree,
                 problems: list[ExpansionProblem]) -> list[QuotaCell]:
    per_units = rule_units(rule, tree)
    if not per_units:
        problems.append(ExpansionProblem(index, "CFG-QUOTA-NO-UNITS", {"level": rule.per}))
        return []
    if rule.rate is RateMode.EACH:
        rated_all = tree.at_level(rule.rate_level or "")
        if not rated_all:
            problems.append(ExpansionProblem(index, "CFG-QUOTA-NO-UNITS",
                                             {"level": rule.rate_level}))
            return []

    # (source unit or None, rated unit, target) before splitting by questionnaire
    pieces: list[tuple[str | None, str, int | None]] = []
    for unit in per_units:
        # sources: (source code, respondents from it); None means "the unit itself"
        sources: list[tuple[str | None, int | None]]
        spec = rule.children
        if spec is None:
            sources = [(None, rule.count)]
        elif spec.count is not None:
            if spec.level is not None:
                found = len(tree.children(unit.code, spec.level))
                # Units listed without their children are fine (the children are drawn
                # later); a partial list that cannot supply M children is not.
                if 0 < found < spec.count:
                    problems.append(ExpansionProblem(index, "CFG-QUOTA-CHILDREN-SHORT", {
                        "unit": unit.code, "actual": found, "level": spec.level,
                        "expected": spec.count}))
            sources = [(None, None if rule.count is None else rule.count * spec.count)]
        else:
            kids = tree.children(unit.code, spec.level)
            if not kids:
                problems.append(ExpansionProblem(index, "CFG-QUOTA-CHILDREN-SHORT", {
                    "unit": unit.code, "actual": 0, "level": spec.level, "expected": "≥ 1"}))
                continue
            if rule.cells is CellMode.POOLED:
                sources = [(None, None if rule.count is None else rule.count * len(kids))]
            else:
                sources = [(k.code, rule.count) for k in kids]

        if rule.rate is RateMode.OWN:
            for source, target in sources:
                pieces.append((source, unit.code, target))
        else:
            for rated in tree.at_level(rule.rate_level or ""):
                for source, target in sources:
                    pieces.append((source if source is not None else unit.code,
                                   rated.code, target))

    if rule.rate is RateMode.EACH and rule.cells is CellMode.POOLED:
        pooled: dict[str, int | None] = {}
        for _source, rated_code, target in pieces:
            if rated_code not in pooled:
                pooled[rated_code] = target
            else:
                prev = pooled[rated_code]
                pooled[rated_code] = None if prev is None or target is None else prev + target
        pieces = [(None, rated_code, t) for rated_code, t in pooled.items()]

    return [
        QuotaCell(rule.group, questionnaire, rated_code, target, source,
                  rule.close_when_full, rule.id, rule.census)
        for questionnaire in rule.questionnaires
        for source, rated_code, target in pieces
    ]


def expand_rules(rules: Sequence[QuotaRule], tree: UnitTree
                 ) -> tuple[tuple[QuotaCell, ...], list[ExpansionProblem]]:
    """Expand rules into cells, reporting rules that cannot be expanded or that overlap.

    Returns
    -------
    cells, problems
        Cells of every rule that expanded; problems as :class:`ExpansionProblem`.
    """
    problems: list[ExpansionProblem] = []
    cells: list[QuotaCell] = []
    owner: dict[tuple[str, str, str, str | None], int] = {}
    for index, rule in enumerate(rules):
        rule_cells = _expand_rule(rule, index, tree, problems)
        for cell in rule_cells:
            first = owner.setdefault(cell.key, index)
            if first != index:
                problems.append(ExpansionProblem(index, "CFG-QUOTA-DUPLICATE-CELL", {
                    "first_index": first, "first": f"rule '{rules[first].id}'",
                    "group": cell.group,
                    "questionnaire": cell.questionnaire, "rated": cell.rated_unit,
                    "source_text": f", source '{cell.source_unit}'" if cell.source_unit else "",
                }))
                break
        cells.extend(rule_cells)
    return tuple(cells), problems


def expand_quotas(rules: Sequence[QuotaRule], tree: UnitTree) -> QuotaPlan:
    """Expand quota rules over a unit tree into a :class:`QuotaPlan`.

    Raises
    ------
    ValueError
        If a rule cannot be expanded; campaigns loaded by :func:`sampling.config.load_campaign`
        have already been checked, so this only happens for hand-built rules.
    """
    cells, problems = expand_rules(rules, tree)
    if problems:
        raise ValueError(f"quota rules cannot be expanded: {problems[:5]}")
    return QuotaPlan(cells, tuple(rules), tree)


def resolve_census(plan: QuotaPlan, counts: Mapping[tuple[str, str], int]) -> QuotaPlan:
    """Fill census targets from list counts.

    Parameters
    ----------
    plan : QuotaPlan
        A plan whose census cells have ``target=None``.
    counts : mapping of (group, own unit code) to int
        Respondents on the cleaned list, e.g. from
        :meth:`sampling.lists.CleanList.counts_by_group_unit`.

    Returns
    -------
    QuotaPlan
        A new plan; a census cell's target is the number of the group's listed members
        whose own unit lies within the cell's source unit (or rated unit for ``own``
        rules, or any of the rule's units when pooled).
    """
    tree = plan.tree
    by_group: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (group, unit), n in counts.items():
        by_group[group].append((unit, n))
    rules = {r.id: r for r in plan.rules}

    def members(group: str, scopes: Iterable[str]) -> int:
        scope_set = tuple(scopes)
        return sum(n for unit, n in by_group.get(group, ())
                   if unit in tree and any(tree.is_within(unit, s) for s in scope_set))

    resolved = []
    for cell in plan.cells:
        if not cell.census:
            resolved.append(cell)
            continue
        rule = rules[cell.rule]
        if cell.source_unit is not None:
            scopes: tuple[str, ...] = (cell.source_unit,)
        elif rule.rate is RateMode.OWN:
            scopes = (cell.rated_unit,)
        else:
            scopes = tuple(u.code for u in rule_units(rule, tree))
        resolved.append(replace(cell, target=members(cell.group, scopes)))
    return replace(plan, cells=tuple(resolved))
