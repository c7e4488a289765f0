"""The hierarchy of administrative units that are rated and that respondents belong to.

Levels are data: a campaign declares its levels (province, department, district,
commune, ...) and which level sits under which.  After the 2025 two-tier reform a
campaign simply declares no district level and puts communes under the province.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Level:
    """A level of the unit hierarchy.

    Attributes
    ----------
    code : str
        E.g. ``department``.
    name_vi, name_en : str
        Display names.
    parent : str or None
        Code of the level this one sits under; ``None`` for the top level.
    """

    code: str
    name_vi: str
    name_en: str
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Unit:
    """An administrative unit (a department, district, commune, ...).

    Attributes
    ----------
    code : str
        Campaign-wide unique code.
    name_vi, name_en : str
        Display names.
    level : str
        Code of its :class:`Level`.
    parent : str or None
        Code of the unit it belongs to; ``None`` only at a top level.
    """

    code: str
    name_vi: str
    name_en: str
    level: str
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class UnitProblem:
    """A structural problem found by :func:`check_units`.

    Attributes
    ----------
    index : int
        Position of the offending unit (or level, for level problems) in the input.
    code : str
        Error code from :data:`sampling.errors.ERROR_CODES`.
    field : str
        The field at fault: ``code``, ``level`` or ``parent``.
    params : Mapping
        Template parameters for the error message.
    """

    index: int
    code: str
    field: str
    params: Mapping[str, object]


def check_levels(levels: Sequence[Level]) -> list[UnitProblem]:
    """Find duplicate levels, unknown parent levels and cycles among levels."""
    problems: list[UnitProblem] = []
    seen: set[str] = set()
    for i, level in enumerate(levels):
        if level.code in seen:
            problems.append(UnitProblem(i, "CFG-LEVEL-DUPLICATE", "code", {"value": level.code}))
        seen.add(level.code)
    allowed = ", ".join(lv.code for lv in levels)
    parent_of = {lv.code: lv.parent for lv in levels}
    for i, level in enumerate(levels):
        if level.parent is not None and level.parent not in parent_of:
            problems.append(
                UnitProblem(i, "CFG-LEVEL-UNKNOWN", "parent",
                            {"value": level.parent, "allowed": allowed})
            )
    reported: set[str] = set()
    for i, level in enumerate(levels):
        chain = [level.code]
        current = level.parent
        while current is not None and current in parent_of:
            if current in chain:
                cycle = chain[chain.index(current):] + [current]
                if not reported.intersection(cycle):
                    problems.append(UnitProblem(i, "CFG-LEVEL-CYCLE", "parent",
                                                {"cycle": " → ".join(cycle)}))
                reported.update(cycle)
                break
            chain.append(current)
            current = parent_of[current]
    return problems


def check_units(levels: Sequence[Level], units: Sequence[Unit]) -> list[UnitProblem]:
    """Find duplicate codes, unknown levels or parents, and parents at the wrong level.

    Assumes ``levels`` passed :func:`check_levels`.
    """
    problems: list[UnitProblem] = []
    level_by_code = {lv.code: lv for lv in levels}
    allowed_levels = ", ".join(level_by_code)
    first_index: dict[str, int] = {}
    for i, unit in enumerate(units):
        if unit.code in first_index:
            problems.append(UnitProblem(i, "CFG-UNIT-DUPLICATE", "code",
                                        {"value": unit.code, "first_index": first_index[unit.code]}))
        else:
            first_index[unit.code] = i
    by_code = {u.code: u for u in units}
    for i, unit in enumerate(units):
        level = level_by_code.get(unit.level)
        if level is None:
            problems.append(UnitProblem(i, "CFG-LEVEL-UNKNOWN", "level",
                                        {"value": unit.level, "allowed": allowed_levels}))
            continue
        if unit.parent is None:
            if level.parent is not None:
                problems.append(UnitProblem(i, "CFG-UNIT-PARENT-MISSING", "parent",
                                            {"value": unit.code, "level": unit.level,
                                             "parent_level": level.parent}))
            continue
        parent = by_code.get(unit.parent)
        if parent is None:
            problems.append(UnitProblem(i, "CFG-UNIT-UNKNOWN", "parent", {"value": unit.parent}))
        elif parent.level != level.parent:
            problems.append(UnitProblem(
                i, "CFG-UNIT-PARENT-LEVEL", "parent",
                {"value": unit.code, "parent": parent.code, "actual": parent.level,
                 "level": unit.level, "expected": level.parent or "-"}))
    return problems


class UnitTree:
    """An immutable, validated unit hierarchy with parent/children/level lookups.

    Parameters
    ----------
    levels : sequence of Level
        In display order (usually top-down).
    units : iterable of Unit
        In display order; order is kept by every lookup.

    Raises
    ------
    ValueError
        If the levels or units are inconsistent (see :func:`check_units`).
    """

    __slots__ = ("_levels", "_level_by_code", "_units", "_by_code", "_children", "_by_level")

    def __init__(self, levels: Sequence[Level], units: Iterable[Unit]) -> None:
        levels = tuple(levels)
        units_t = tuple(units)
        problems = check_levels(levels) or check_units(levels, units_t)
        if problems:
            raise ValueError(f"inconsistent unit tree: {problems[:5]}")
        self._levels = levels
        self._level_by_code = MappingProxyType({lv.code: lv for lv in levels})
        self._units = units_t
        self._by_code = MappingProxyType({u.code: u for u in units_t})
        children: dict[str, list[Unit]] = {}
        by_level: dict[str, list[Unit]] = {lv.code: [] for lv in levels}
        for u in units_t:
            by_level[u.level].append(u)
            if u.parent is not None:
                children.setdefault(u.parent, []).append(u)
        self._children = MappingProxyType({k: tuple(v) for k, v in children.items()})
        self._by_level = MappingProxyType({k: tuple(v) for k, v in by_level.items()})

    @property
    def levels(self) -> tuple[Level, ...]:
        """All declared levels, in declared order."""
        return self._levels

    def level(self, code: str) -> Level:
        """The level with this code (``KeyError`` if undeclared)."""
        return self._level_by_code[code]

    def has_level(self, code: str) -> bool:
        """Whether a level with this code is declared."""
        return code in self._level_by_code

    def __len__(self) -> int:
        return len(self._units)

    def __iter__(self) -> Iterator[Unit]:
        return iter(self._units)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Unit:
        """The unit with this code (``KeyError`` if unknown)."""
        return self._by_code[code]

    def parent(self, code: str) -> Unit | None:
        """The unit's parent, or ``None`` at the top."""
        parent = self._by_code[code].parent
        return None if parent is None else self._by_code[parent]

    def children(self, code: str, level: str | None = None) -> tuple[Unit, ...]:
        """Direct children of a unit, optionally only those at ``level``."""
        kids = self._children.get(code, ())
        return kids if level is None else tuple(k for k in kids if k.level == level)

    def ancestors(self, code: str) -> tuple[Unit, ...]:
        """Parent, grandparent, ... up to the top."""
        out: list[Unit] = []
        current = self.parent(code)
        while current is not None:
            out.append(current)
            current = self.parent(current.code)
        return tuple(out)

    def descendants(self, code: str, level: str | None = None) -> tuple[Unit, ...]:
        """All units below this one (depth first), optionally only at ``level``."""
        out: list[Unit] = []
        stack = list(reversed(self._children.get(code, ())))
        while stack:
            unit = stack.pop()
            if level is None or unit.level == level:
                out.append(unit)
            stack.extend(reversed(self._children.get(unit.code, ())))
        return tuple(out)

    def at_level(self, level: str) -> tuple[Unit, ...]:
        """All units at a level, in declared order (empty for an unknown level)."""
        return self._by_level.get(level, ())

    def is_within(self, code: str, ancestor: str) -> bool:
        """Whether ``code`` is ``ancestor`` itself or lies below it."""
        current: str | None = code
        while current is not None:
            if current == ancestor:
                return True
            current = self._by_code[current].parent
        return False

    def __repr__(self) -> str:
        counts = ", ".join(f"{lv.code}={len(self._by_level[lv.code])}" for lv in self._levels)
        return f"UnitTree({counts})"


UNITS_COLUMNS: tuple[str, ...] = ("code", "name_vi", "name_en", "level", "parent_code")
"""Header of a units CSV/XLSX file."""
