"""Campaign configuration: a YAML format, its loader and located validation errors.

A campaign file names the campaign, its dates, the unit hierarchy (inline or a CSV/XLSX
units file next to it), the respondent groups and the forms they fill, the quota rules
and the priority used when one person is listed in two groups.  See
``examples/campaigns/`` for complete files; the shape is::

    version: 1
    code: TVH-2023
    name: {vi: "Khảo sát CCHC tỉnh Trà Vinh 2023", en: "Trà Vinh PAR survey 2023"}
    province: "84"
    year: 2023
    opens_at: 2023-10-01          # local time in `timezone`
    closes_at: 2023-12-31         # a bare date means the end of that day
    timezone: Asia/Ho_Chi_Minh    # the default
    levels:
      - {code: province, name: {vi: Tỉnh, en: Province}}
      - {code: department, name: {vi: Sở, ban, ngành, en: Department}, parent: province}
    units: travinh-2023-units.csv # or an inline list of {code, name, level, parent}
    groups:
      - code: dept_division_leader
        name: {vi: Lãnh đạo phòng thuộc sở, en: Department division leaders}
        kind: department_division_leader
        unit_level: department
        questionnaires: [dept-division-rates-own-department]
    quotas:
      - {group: dept_division_leader, questionnaire: dept-division-rates-own-department,
         count: 3, per: department, rate: own}
    duplicate_priority: [...]     # optional; default: council delegates first
    scoring: {...}                # optional: checked by the scoring validator (analysis.scoring_config)
    design: {...}                 # optional: strata, population, lonely PSU, weighting (sampling.design)
    integrity: {...}              # optional: checks and thresholds (analysis.IntegrityConfig)

:func:`load_campaign` either returns a :class:`Campaign` or raises
:class:`~sampling.errors.CampaignInvalid` carrying every problem found, each with a code,
file, path (``quotas[2].rate``), line and a bilingual message and fix.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from sampling.design import DesignSpec, parse_design
from questionnaires.safe_yaml import MAX_YAML_BYTES, YamlRefused, compose_yaml, construct_yaml
from questionnaires.problems import N_, Location, Problem, Text
from sampling.errors import CampaignInvalid, config_problem
from sampling.quotas import (
    CellMode,
    ChildSpec,
    QuotaPlan,
    QuotaRule,
    RateMode,
    expand_quotas,
    expand_rules,
)
from sampling.tabular import TableLimits, TableReadError, read_error_text, read_table
from sampling.units import UNITS_COLUMNS, Level, Unit, UnitTree, check_levels, check_units

FORMAT_VERSION: Final = 1
DEFAULT_TIMEZONE: Final = "Asia/Ho_Chi_Minh"
MAX_CONFIG_BYTES: Final = MAX_YAML_BYTES
YEAR_RANGE: Final = (2000, 2100)

_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_PROVINCE_RE = re.compile(r"\d{2}\Z")


class GroupKind(enum.StrEnum):
    """What a respondent group is, so that defaults (such as priority) can follow the rules."""

    COUNCIL_DELEGATE = "council_delegate"
    PROVINCIAL_LEADER = "provincial_leader"
    DEPARTMENT_LEADER = "department_leader"
    DEPARTMENT_DIVISION_LEADER = "department_division_leader"
    DISTRICT_LEADER = "district_leader"
    DISTRICT_DIVISION_LEADER = "district_division_leader"
    COMMUNE_LEADER = "commune_leader"
    COMMUNE_DIVISION_LEADER = "commune_division_leader"
    CIVIL_SERVANT = "civil_servant"
    CITIZEN = "citizen"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class RespondentGroup:
    """A respondent group (đối tượng điều tra).

    Attributes
    ----------
    code : str
        Campaign-wide code, used in lists and quota rules.
    name_vi, name_en : str
        Display names.
    questionnaires : tuple of str
        Questionnaire ids the group fills; some groups fill two forms.
    kind : GroupKind
        The group's role.
    unit_levels : tuple of str
        Levels a member's own unit may be at; empty means any.
    """

    code: str
    name_vi: str
    name_en: str
    questionnaires: tuple[str, ...]
    kind: GroupKind = GroupKind.OTHER
    unit_levels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Campaign:
    """A validated survey campaign.

    Responses are accepted while ``opens_at <= t < closes_at``; both are aware
    datetimes in :attr:`timezone`.
    """

    file: str
    code: str
    name_vi: str
    name_en: str
    province: str
    year: int
    opens_at: dt.datetime
    closes_at: dt.datetime
    timezone: str
    units: UnitTree = field(repr=False)
    groups: tuple[RespondentGroup, ...]
    quota_rules: tuple[QuotaRule, ...]
    duplicate_priority: tuple[str, ...]
    scoring: Mapping[str, Any] | None = field(default=None, repr=False)
    integrity: Mapping[str, Any] | None = field(default=None, repr=False)
    # Campaigns this one continues across the 2025 merger, and the units crosswalk file
    # (resolved path) that maps their units to this campaign's (sampling.crosswalk).
    predecessors: tuple[str, ...] = ()
    crosswalk: str | None = None
    design: DesignSpec = field(default_factory=DesignSpec, repr=False)
    design_raw: Mapping[str, Any] | None = field(default=None, repr=False)
    #: The same person twice in one group: "refuse" the list (naming both rows) or "merge"
    #: the rows into the first one.
    duplicates_in_group: str = "refuse"

    def group(self, code: str) -> RespondentGroup:
        """The group with this code (``KeyError`` if unknown)."""
        for g in self.groups:
            if g.code == code:
                return g
        raise KeyError(code)

    def quota_plan(self) -> QuotaPlan:
        """Expand the quota rules over the unit tree."""
        return expand_quotas(self.quota_rules, self.units)

    def is_open(self, at: dt.datetime) -> bool:
        """Whether responses are accepted at the aware instant ``at``."""
        return self.opens_at <= at < self.closes_at


# -- YAML with line numbers ------------------------------------------------------------


def _index_lines(node: yaml.Node, path: str, lines: dict[str, int],
                 duplicates: list[tuple[str, str, int, int]]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                duplicates.append((path, key, seen[key], line))
            seen.setdefault(key, line)
            child = f"{path}.{key}" if path else key
            lines[child] = line
            _index_lines(value_node, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, f"{path}[{i}]", lines, duplicates)


class _Ctx:
    """Collects errors for one file, locating each by path and line."""

    def __init__(self, file: str, lines: Mapping[str, int] | None = None) -> None:
        self.file = file
        self.lines = lines or {}
        self.errors: list[Problem] = []

    def line(self, path: str) -> int | None:
        # A missing key has no line of its own: point at the nearest enclosing section.
        probe = path
        while probe not in self.lines and probe:
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return self.lines.get(probe)

    def err(self, code: str, path: str, **params: Any) -> None:
        self.errors.append(config_problem(code, self.file, path, line=self.line(path),
                                          **params))


_TYPE_NAMES: Final = {
    "mapping": Text(N_("a mapping of 'key: value'")),
    "list": Text(N_("a list (lines starting with '- ')")),
    "string": Text(N_("a text string")),
    "integer": Text(N_("a whole number")),
    "boolean": Text(N_("true or false")),
    "code": Text(N_("a code (text)")),
    "string or list": Text(N_("a string or a list")),
}


def _describe(value: Any) -> str:
    kind = {dict: "mapping", list: "list", str: "text", bool: "boolean", int: "number",
            float: "number", type(None): "nothing"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} {text[:40] + '…' if len(text) > 40 else text}"


def _type_error(ctx: _Ctx, path: str, expected: str, value: Any) -> None:
    ctx.err("CFG-TYPE", path, expected=_TYPE_NAMES[expected], actual=_describe(value))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _mapping(ctx: _Ctx, value: Any, path: str, required: Collection[str],
             optional: Collection[str]) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        _type_error(ctx, path, "mapping", value)
        return None
    allowed = [*required, *optional]
    data = {str(k): v for k, v in value.items()}
    for key in data:
        if key not in allowed:
            ctx.err("CFG-KEY-UNKNOWN", _join(path, key), key=key, allowed=", ".join(allowed))
    for key in required:
        if key not in data:
            ctx.err("CFG-KEY-MISSING", path, key=key)
    return data


def _string(ctx: _Ctx, value: Any, path: str) -> str | None:
    if not isinstance(value, str):
        _type_error(ctx, path, "string", value)
        return None
    text = " ".join(value.split())
    if not text:
        ctx.err("CFG-TEXT-EMPTY", path)
        return None
    return text


def _code(ctx: _Ctx, value: Any, path: str) -> str | None:
    # YAML reads unquoted numeric codes (84, 001) as numbers; a code is text either way.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        _type_error(ctx, path, "code", value)
        return None
    code = value.strip()
    if not _CODE_RE.match(code):
        ctx.err("CFG-CODE-FORMAT", path, value=code)
        return None
    return code


def _names(ctx: _Ctx, value: Any, path: str) -> tuple[str, str] | None:
    data = _mapping(ctx, value, path, ("vi", "en"), ())
    if data is None or "vi" not in data or "en" not in data:
        return None
    vi = _string(ctx, data["vi"], _join(path, "vi"))
    en = _string(ctx, data["en"], _join(path, "en"))
    return None if vi is None or en is None else (_nfc(vi), _nfc(en))


def _nfc(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFC", text)


def _list(ctx: _Ctx, value: Any, path: str) -> list[Any] | None:
    if not isinstance(value, list):
        _type_error(ctx, path, "list", value)
        return None
    return value


def _codes(ctx: _Ctx, value: Any, path: str, *, single_ok: bool) -> list[tuple[str, str]]:
    """A list of codes (or one code when ``single_ok``) as (path, code) pairs."""
    if single_ok and not isinstance(value, list):
        code = _code(ctx, value, path)
        return [] if code is None else [(path, code)]
    items = _list(ctx, value, path)
    if items is None:
        return []
    if not items:
        ctx.err("CFG-TEXT-EMPTY", path)
    out = []
    for i, item in enumerate(items):
        code = _code(ctx, item, f"{path}[{i}]")
        if code is not None:
            out.append((f"{path}[{i}]", code))
    return out


def _enum(ctx: _Ctx, value: Any, path: str, enum_type: type[enum.StrEnum]) -> Any:
    allowed = [m.value for m in enum_type]
    if not isinstance(value, str) or value not in allowed:
        ctx.err("CFG-ENUM-VALUE", path, value=value, allowed=", ".join(allowed))
        return None
    return enum_type(value)


def _bool(ctx: _Ctx, value: Any, path: str) -> bool | None:
    if not isinstance(value, bool):
        _type_error(ctx, path, "boolean", value)
        return None
    return value


def _moment(ctx: _Ctx, value: Any, path: str, tz: dt.tzinfo, *, end_of_day: bool
            ) -> dt.datetime | None:
    # YAML already turns unquoted 2023-10-01 / 2023-10-01T08:00:00 into date/datetime.
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.date.fromisoformat(text) if len(text) == 10 \
                else dt.datetime.fromisoformat(text)
        except ValueError:
            ctx.err("CFG-DATE-FORMAT", path, value=value)
            return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
    if isinstance(value, dt.date):
        # A plan's deadline "ngày 20/02" means answers are accepted through that day.
        day = value + dt.timedelta(days=1) if end_of_day else value
        return dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    ctx.err("CFG-DATE-FORMAT", path, value=value)
    return None


# -- units -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _UnitSource:
    """Where each unit came from, to locate unit problems."""

    file: str
    locate: Callable[[int, str], str]
    lines: Mapping[str, int]


def _inline_units(ctx: _Ctx, items: list[Any]) -> tuple[list[Unit], _UnitSource]:
    units: list[Unit] = []
    positions: list[int] = []
    for i, item in enumerate(items):
        path = f"units[{i}]"
        data = _mapping(ctx, item, path, ("code", "name", "level"), ("parent",))
        if data is None:
            continue
        code = _code(ctx, data.get("code"), f"{path}.code") if "code" in data else None
        names = _names(ctx, data.get("name"), f"{path}.name") if "name" in data else None
        level = _code(ctx, data.get("level"), f"{path}.level") if "level" in data else None
        parent = data.get("parent")
        parent_code = None if parent is None else _code(ctx, parent, f"{path}.parent")
        if code and names and level and (parent is None or parent_code):
            units.append(Unit(code, names[0], names[1], level, parent_code))
            positions.append(i)
    field_key = {"code": "code", "level": "level", "parent": "parent"}
    return units, _UnitSource(ctx.file, lambda idx, f: f"units[{positions[idx]}].{field_key[f]}",
                              ctx.lines)


def _file_units(ctx: _Ctx, ref: str, base_dir: Path | None
                ) -> tuple[list[Unit], _UnitSource] | None:
    if base_dir is None:
        ctx.err("CFG-UNITS-FILE-PATH", "units", value=ref,
                detail=Text(N_("the configuration was given as text, so no folder is known; "
                               "list the units inline")))
        return None
    rel = Path(ref)
    target = (base_dir / rel).resolve()
    if rel.is_absolute() or not target.is_relative_to(base_dir.resolve()):
        ctx.err("CFG-UNITS-FILE-PATH", "units", value=ref,
                detail=Text(N_("the path must stay inside the configuration's folder")))
        return None
    shown = str(base_dir / rel)
    try:
        table = read_table(target, limits=TableLimits(max_rows=50_000))
    except TableReadError as exc:
        ctx.err("CFG-UNITS-FILE-READ", "units", value=ref, detail=read_error_text(exc))
        return None
    fctx = _Ctx(shown)
    header = [h.strip().lower() for h in table.header]
    missing = [c for c in UNITS_COLUMNS if c not in header]
    for column in missing:
        fctx.err("CFG-UNITS-FILE-HEADER", "row 1", column=column)
    if missing:
        ctx.errors.extend(fctx.errors)
        return None
    col = {name: header.index(name) for name in UNITS_COLUMNS}
    units: list[Unit] = []
    rows: list[int] = []
    for number, cells in table.rows:
        def cell(name: str, cells: Sequence[str] = cells) -> str:
            i = col[name]
            return cells[i].strip() if i < len(cells) else ""
        values = {name: cell(name) for name in UNITS_COLUMNS}
        ok = True
        for name in UNITS_COLUMNS[:4]:
            if not values[name]:
                fctx.err("CFG-TEXT-EMPTY", f"row {number}, {name}")
                ok = False
        for name in ("code", "level", "parent_code"):
            if values[name] and not _CODE_RE.match(values[name]):
                fctx.err("CFG-CODE-FORMAT", f"row {number}, {name}", value=values[name])
                ok = False
        if ok:
            units.append(Unit(values["code"], _nfc(" ".join(values["name_vi"].split())),
                              _nfc(" ".join(values["name_en"].split())), values["level"],
                              values["parent_code"] or None))
            rows.append(number)
    ctx.errors.extend(fctx.errors)
    column_of = {"code": "code", "level": "level", "parent": "parent_code"}
    return units, _UnitSource(shown, lambda idx, f: f"row {rows[idx]}, {column_of[f]}", {})


# -- quota rules ---------------------------------------------------------------------------


_RULE_KEYS_REQUIRED = ("group", "questionnaire", "count", "per")
_RULE_KEYS_OPTIONAL = ("id", "rate", "children", "cells", "close_when_full", "only", "exclude",
                       "label")


def _parse_rule(ctx: _Ctx, item: Any, i: int, groups: Mapping[str, RespondentGroup] | None,
                level_codes: Sequence[str]) -> QuotaRule | None:
    """Parse one rule; ``groups`` is None when the groups section itself is broken."""
    path = f"quotas[{i}]"
    data = _mapping(ctx, item, path, _RULE_KEYS_REQUIRED, _RULE_KEYS_OPTIONAL)
    if data is None:
        return None
    before = len(ctx.errors)
    allowed_levels = ", ".join(level_codes)

    group_code = _code(ctx, data["group"], f"{path}.group") if "group" in data else None
    group = (groups or {}).get(group_code or "")
    if group_code is not None and group is None and groups is not None:
        ctx.err("CFG-GROUP-UNKNOWN", f"{path}.group", value=group_code,
                allowed=", ".join(groups))
    questionnaires = [q for _, q in _codes(ctx, data.get("questionnaire"),
                                           f"{path}.questionnaire", single_ok=True)] \
        if "questionnaire" in data else []
    if group is not None:
        for j, q in enumerate(questionnaires):
            if q not in group.questionnaires:
                qpath = f"{path}.questionnaire" + (
                    f"[{j}]" if isinstance(data["questionnaire"], list) else "")
                ctx.err("CFG-QUOTA-QUESTIONNAIRE", qpath, value=q, group=group.code,
                        allowed=", ".join(group.questionnaires))

    count: int | None = None
    raw_count = data.get("count")
    if raw_count == "all":
        count = None
    elif isinstance(raw_count, int) and not isinstance(raw_count, bool) and raw_count > 0:
        count = raw_count
    elif "count" in data:
        ctx.err("CFG-QUOTA-COUNT", f"{path}.count", value=raw_count)

    per = _code(ctx, data["per"], f"{path}.per") if "per" in data else None
    if per is not None and per not in level_codes:
        ctx.err("CFG-LEVEL-UNKNOWN", f"{path}.per", value=per, allowed=allowed_levels)

    rate, rate_level = RateMode.OWN, None
    if "rate" in data:
        raw = data["rate"]
        words = raw.split() if isinstance(raw, str) else []
        if words == ["own"]:
            rate = RateMode.OWN
        elif len(words) == 2 and words[0] == "each":
            rate, rate_level = RateMode.EACH, words[1]
            if rate_level not in level_codes:
                ctx.err("CFG-LEVEL-UNKNOWN", f"{path}.rate", value=rate_level,
                        allowed=allowed_levels)
        else:
            ctx.err("CFG-QUOTA-RATE", f"{path}.rate", value=raw)

    children = None
    if "children" in data:
        cpath = f"{path}.children"
        cdata = _mapping(ctx, data["children"], cpath, ("count",), ("level", "name"))
        if cdata is not None:
            if raw_count == "all":
                ctx.err("CFG-QUOTA-CHILDREN", cpath,
                        detail=Text(N_("a census rule ('count: all') is not multiplied by children")))
            ccount_raw = cdata.get("count")
            ccount: int | None = None
            if isinstance(ccount_raw, int) and not isinstance(ccount_raw, bool) \
                    and ccount_raw > 0:
                ccount = ccount_raw
            elif ccount_raw != "all" and "count" in cdata:
                ctx.err("CFG-QUOTA-COUNT", f"{cpath}.count", value=ccount_raw)
            clevel = _code(ctx, cdata["level"], f"{cpath}.level") if "level" in cdata else None
            if clevel is not None and clevel not in level_codes:
                ctx.err("CFG-LEVEL-UNKNOWN", f"{cpath}.level", value=clevel,
                        allowed=allowed_levels)
            cnames = _names(ctx, cdata["name"], f"{cpath}.name") if "name" in cdata else None
            if ccount_raw == "all" and "level" not in cdata:
                ctx.err("CFG-QUOTA-CHILDREN", cpath,
                        detail=Text(N_("'count: all' needs 'level' to find the children in the "
                                       "unit list")))
            elif "level" not in cdata and "name" not in cdata:
                ctx.err("CFG-QUOTA-CHILDREN", cpath,
                        detail=Text(N_("give 'level' or 'name' to say what the children are")))
            children = ChildSpec(ccount, clevel, *(cnames or ("", "")))

    cells = CellMode.PER_SOURCE
    if "cells" in data:
        cells = _enum(ctx, data["cells"], f"{path}.cells", CellMode) or cells
    close = False
    if "close_when_full" in data:
        close = bool(_bool(ctx, data["close_when_full"], f"{path}.close_when_full"))
    only = [c for _, c in _codes(ctx, data["only"], f"{path}.only", single_ok=False)] \
        if "only" in data else []
    exclude = [c for _, c in _codes(ctx, data["exclude"], f"{path}.exclude", single_ok=False)] \
        if "exclude" in data else []
    label = _names(ctx, data["label"], f"{path}.label") if "label" in data else None
    rule_id = _code(ctx, data["id"], f"{path}.id") if "id" in data else None

    if len(ctx.errors) > before or group is None or group_code is None or per is None or not questionnaires:
        return None
    return QuotaRule(
        id=rule_id or f"{group_code}/{questionnaires[0]}/{per}",
        group=group_code, questionnaires=tuple(questionnaires), count=count, per=per,
        rate=rate, rate_level=rate_level, children=children, cells=cells,
        close_when_full=close, only=tuple(only), exclude=tuple(exclude),
        label_vi=label[0] if label else "", label_en=label[1] if label else "",
    )


def _check_rules_against_tree(ctx: _Ctx, rules: Sequence[tuple[int, QuotaRule]],
                              tree: UnitTree) -> None:
    seen_ids: dict[str, int] = {}
    for i, rule in rules:
        if rule.id in seen_ids:
            ctx.err("CFG-QUOTA-ID-DUPLICATE", f"quotas[{i}].id", value=rule.id,
                    first=f"quotas[{seen_ids[rule.id]}]")
        seen_ids.setdefault(rule.id, i)
        for key in ("only", "exclude"):
            for j, code in enumerate(getattr(rule, key)):
                if code not in tree:
                    ctx.err("CFG-UNIT-UNKNOWN", f"quotas[{i}].{key}[{j}]", value=code)
                elif tree.get(code).level != rule.per:
                    ctx.err("CFG-QUOTA-SCOPE", f"quotas[{i}].{key}[{j}]", value=code, key=key,
                            level=rule.per)
    if any(e.path.startswith("quotas") for e in ctx.errors):
        return
    _cells, problems = expand_rules([r for _, r in rules], tree)
    suffix = {"CFG-QUOTA-NO-UNITS": ".per", "CFG-QUOTA-CHILDREN-SHORT": ".children",
              "CFG-QUOTA-DUPLICATE-CELL": ""}
    for p in problems:
        index = rules[p.rule_index][0]
        params = dict(p.params)
        if "first_index" in params:
            # expand_rules numbers only the valid rules; report the position in the YAML.
            params["first"] = f"quotas[{rules[int(str(params.pop('first_index')))][0]}]"
        ctx.err(p.code, f"quotas[{index}]{suffix[p.code]}", **params)


# -- the campaign ------------------------------------------------------------------------------


_TOP_REQUIRED = ("version", "code", "name", "province", "year", "opens_at", "closes_at",
                 "levels", "units", "groups", "quotas")
_TOP_OPTIONAL = ("timezone", "duplicate_priority", "scoring", "integrity", "predecessors",
                 "crosswalk", "design", "duplicates_in_group")
DUPLICATES_IN_GROUP: Final = ("refuse", "merge")

#: Checks a section the sampling package keeps raw (its schema belongs to another package) and
#: returns its problems as (path inside the section, the rule broken: a catalog message).
SectionValidator = Callable[[Any], Sequence[tuple[str, Text]]]


#: Checks the ``scoring`` section given the campaign's groups' questionnaire ids.
ScoringValidator = Callable[[Any, Mapping[str, Sequence[str]]], Sequence[tuple[str, Text]]]


def load_campaign(path: str | Path, *, known_questionnaires: Collection[str] | None = None,
                  integrity_validator: SectionValidator | None = None,
                  scoring_validator: ScoringValidator | None = None) -> Campaign:
    """Load and validate a campaign YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file; a units file it names is read relative to its folder.
    known_questionnaires : collection of str, optional
        Questionnaire ids that exist; when given, every id the campaign names must be one.
    integrity_validator : callable, optional
        Checks the ``integrity`` section (the web layer passes the analysis package's rules);
        each ``(key, rule)`` it returns is reported as ``CFG-INTEGRITY`` at its key and line.
    scoring_validator : callable, optional
        Checks the ``scoring`` section against the questionnaires of the campaign's groups
        (group code -> questionnaire ids); each ``(path, rule)`` it returns is reported as
        ``CFG-SCORING``.

    Raises
    ------
    CampaignInvalid
        With every problem found, each a :class:`~questionnaires.problems.Problem`.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise CampaignInvalid((config_problem(
                "CFG-YAML-TOO-LARGE", str(path), "", limit=MAX_CONFIG_BYTES,
                detail=f"{size} B"),))
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignInvalid((config_problem("CFG-FILE-READ", str(path), "",
                                                detail=str(exc)),)) from exc
    return parse_campaign(text, file=str(path), base_dir=path.parent,
                          known_questionnaires=known_questionnaires,
                          integrity_validator=integrity_validator,
                          scoring_validator=scoring_validator)


def parse_campaign(text: str, *, file: str = "<campaign>", base_dir: Path | None = None,
                   known_questionnaires: Collection[str] | None = None,
                   integrity_validator: SectionValidator | None = None,
                   scoring_validator: ScoringValidator | None = None) -> Campaign:
    """Validate campaign YAML given as text (see :func:`load_campaign`).

    A units file can only be referenced when ``base_dir`` is given.
    """
    try:
        node = compose_yaml(text)
    except YamlRefused as exc:
        raise CampaignInvalid((config_problem(
            f"CFG-{exc.code}", file, "", line=exc.line, limit=exc.limit,
            detail=exc.detail),)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        detail = str(getattr(exc, "problem", None) or exc)
        raise CampaignInvalid((config_problem(
            "CFG-YAML-SYNTAX", file, "", line=None if mark is None else mark.line + 1,
            detail=detail),)) from exc
    lines: dict[str, int] = {}
    duplicates: list[tuple[str, str, int, int]] = []
    if node is not None:
        _index_lines(node, "", lines, duplicates)
    ctx = _Ctx(file, lines)
    for parent, key, first_line, line in duplicates:
        ctx.errors.append(config_problem("CFG-KEY-DUPLICATE", file, _join(parent, key),
                                           line=line, key=key, first_line=first_line))
    if node is None:
        raw: Any = None
    else:
        try:
            raw = construct_yaml(node)
        except yaml.YAMLError as exc:
            raise CampaignInvalid((config_problem(
                "CFG-YAML-SYNTAX", file, "", detail=str(exc)),)) from exc

    campaign = _build(ctx, raw, base_dir, known_questionnaires, integrity_validator,
                      scoring_validator)
    if ctx.errors or campaign is None:
        raise CampaignInvalid(tuple(ctx.errors))
    return campaign


def _build(ctx: _Ctx, raw: Any, base_dir: Path | None,
           known_questionnaires: Collection[str] | None,
           integrity_validator: SectionValidator | None = None,
           scoring_validator: ScoringValidator | None = None) -> Campaign | None:
    top = _mapping(ctx, raw, "", _TOP_REQUIRED, _TOP_OPTIONAL)
    if top is None:
        return None
    get: Callable[[str], Any] = top.get

    if "version" in top and get("version") != FORMAT_VERSION:
        ctx.err("CFG-VERSION", "version", value=get("version"), expected=FORMAT_VERSION)
    code = _code(ctx, get("code"), "code") if "code" in top else None
    names = _names(ctx, get("name"), "name") if "name" in top else None

    province: str | None = None
    if "province" in top:
        raw_p = get("province")
        text_p = f"{raw_p:02d}" if isinstance(raw_p, int) and not isinstance(raw_p, bool) \
            else raw_p
        if isinstance(text_p, str) and _PROVINCE_RE.match(text_p.strip()):
            province = text_p.strip()
        else:
            ctx.err("CFG-PROVINCE-CODE", "province", value=raw_p)

    year: int | None = None
    if "year" in top:
        raw_y = get("year")
        if not isinstance(raw_y, int) or isinstance(raw_y, bool):
            _type_error(ctx, "year", "integer", raw_y)
        elif not YEAR_RANGE[0] <= raw_y <= YEAR_RANGE[1]:
            ctx.err("CFG-YEAR-RANGE", "year", value=raw_y, low=YEAR_RANGE[0], high=YEAR_RANGE[1])
        else:
            year = raw_y

    tz_name = DEFAULT_TIMEZONE
    tz: dt.tzinfo | None = None
    if "timezone" in top:
        tz_name = _string(ctx, get("timezone"), "timezone") or DEFAULT_TIMEZONE
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        ctx.err("CFG-TIMEZONE-UNKNOWN", "timezone", value=tz_name)
    opens = closes = None
    if tz is not None:
        if "opens_at" in top:
            opens = _moment(ctx, get("opens_at"), "opens_at", tz, end_of_day=False)
        if "closes_at" in top:
            closes = _moment(ctx, get("closes_at"), "closes_at", tz, end_of_day=True)
        if opens is not None and closes is not None and closes <= opens:
            ctx.err("CFG-DATE-ORDER", "closes_at", opens=opens.isoformat(),
                    closes=closes.isoformat())

    # levels
    levels: list[Level] = []
    level_paths: list[str] = []
    level_items = _list(ctx, get("levels"), "levels") if "levels" in top else None
    for i, item in enumerate(level_items or []):
        lpath = f"levels[{i}]"
        data = _mapping(ctx, item, lpath, ("code", "name"), ("parent",))
        if data is None:
            continue
        lcode = _code(ctx, data.get("code"), f"{lpath}.code") if "code" in data else None
        lnames = _names(ctx, data.get("name"), f"{lpath}.name") if "name" in data else None
        lparent = _code(ctx, data["parent"], f"{lpath}.parent") \
            if data.get("parent") is not None else None
        if lcode and lnames:
            levels.append(Level(lcode, lnames[0], lnames[1], lparent))
            level_paths.append(lpath)
    level_problems = check_levels(levels)
    for p in level_problems:
        ctx.err(p.code, f"{level_paths[p.index]}.{p.field}", **p.params)
    level_codes = [lv.code for lv in levels]

    # units
    tree: UnitTree | None = None
    if "units" in top:
        raw_units = get("units")
        loaded: tuple[list[Unit], _UnitSource] | None = None
        if isinstance(raw_units, str):
            loaded = _file_units(ctx, raw_units.strip(), base_dir)
        elif isinstance(raw_units, list):
            loaded = _inline_units(ctx, raw_units)
        else:
            _type_error(ctx, "units", "string or list", raw_units)
        if loaded is not None and not level_problems:
            units, source = loaded
            problems = check_units(levels, units)
            for p in problems:
                params = dict(p.params)
                if "first_index" in params:
                    params["first"] = source.locate(int(str(params.pop("first_index"))), "code")
                where = source.locate(p.index, p.field)
                ctx.errors.append(config_problem(
                    p.code, source.file, where,
                    line=ctx.line(where) if source.file == ctx.file else None, **params))
            if not problems and not ctx.errors:
                tree = UnitTree(levels, units)

    # groups
    groups: dict[str, RespondentGroup] = {}
    group_items = _list(ctx, get("groups"), "groups") if "groups" in top else None
    for i, item in enumerate(group_items or []):
        gpath = f"groups[{i}]"
        data = _mapping(ctx, item, gpath, ("code", "name", "questionnaires"),
                        ("kind", "unit_level"))
        if data is None:
            continue
        gcode = _code(ctx, data.get("code"), f"{gpath}.code") if "code" in data else None
        gnames = _names(ctx, data.get("name"), f"{gpath}.name") if "name" in data else None
        qs = _codes(ctx, data["questionnaires"], f"{gpath}.questionnaires", single_ok=True) \
            if "questionnaires" in data else []
        if known_questionnaires is not None:
            for qpath, q in qs:
                if q not in known_questionnaires:
                    ctx.err("CFG-QUESTIONNAIRE-UNKNOWN", qpath, value=q,
                            allowed=", ".join(sorted(known_questionnaires)))
        kind = GroupKind.OTHER
        if "kind" in data:
            kind = _enum(ctx, data["kind"], f"{gpath}.kind", GroupKind) or GroupKind.OTHER
        unit_levels = _codes(ctx, data["unit_level"], f"{gpath}.unit_level", single_ok=True) \
            if "unit_level" in data else []
        for upath, ul in unit_levels:
            if ul not in level_codes:
                ctx.err("CFG-LEVEL-UNKNOWN", upath, value=ul, allowed=", ".join(level_codes))
        if gcode is None or gnames is None:
            continue
        if gcode in groups:
            ctx.err("CFG-GROUP-DUPLICATE", f"{gpath}.code", value=gcode)
            continue
        groups[gcode] = RespondentGroup(gcode, gnames[0], gnames[1], tuple(q for _, q in qs),
                                        kind, tuple(u for _, u in unit_levels))

    # priority for cross-group duplicates
    if "duplicate_priority" in top:
        listed = _codes(ctx, get("duplicate_priority"), "duplicate_priority", single_ok=False)
        seen: set[str] = set()
        for ppath, g in listed:
            if g not in groups:
                ctx.err("CFG-GROUP-UNKNOWN", ppath, value=g, allowed=", ".join(groups))
            elif g in seen:
                ctx.err("CFG-PRIORITY-DUPLICATE", ppath, value=g)
            seen.add(g)
        missing = [g for g in groups if g not in seen]
        if missing and listed:
            ctx.err("CFG-PRIORITY-INCOMPLETE", "duplicate_priority", missing=", ".join(missing))
        priority = tuple(dict.fromkeys(g for _, g in listed))
    else:
        # The Ministry's rule (letter 23/BNV-CCHC, 2022): a delegate who is also in another
        # group answers as a delegate.
        priority = tuple(sorted(groups, key=lambda g: groups[g].kind
                                is not GroupKind.COUNCIL_DELEGATE))

    # quota rules
    rules: list[tuple[int, QuotaRule]] = []
    quota_items = _list(ctx, get("quotas"), "quotas") if "quotas" in top else None
    for i, item in enumerate(quota_items or []):
        rule = _parse_rule(ctx, item, i, groups if group_items is not None else None,
                           level_codes)
        if rule is not None:
            rules.append((i, rule))
    if tree is not None:
        _check_rules_against_tree(ctx, rules, tree)

    scoring = None
    if "scoring" in top and get("scoring") is not None:
        if not isinstance(get("scoring"), dict):
            _type_error(ctx, "scoring", "mapping", get("scoring"))
        else:
            scoring = MappingProxyType(dict(get("scoring")))
            if scoring_validator is not None and not ctx.errors:
                by_group = {g.code: g.questionnaires for g in groups.values()}
                for sub, broken in scoring_validator(get("scoring"), by_group):
                    ctx.err("CFG-SCORING", _join("scoring", sub) if sub else "scoring", rule=broken)

    design = DesignSpec()
    design_raw = None
    if "design" in top and get("design") is not None:
        design_raw = get("design")
        unit_codes = [u.code for u in tree] if tree is not None else []
        design, design_problems = parse_design(design_raw, base_dir=base_dir, groups=list(groups),
                                               units=unit_codes)
        for problem in design_problems:
            if problem.file:  # a row of the population or margins table
                ctx.errors.append(Problem("CFG-DESIGN", Location(
                    file=problem.file, path=problem.path, row=problem.row, column=problem.column),
                    {"rule": problem.rule}))
            else:
                ctx.err("CFG-DESIGN", problem.path, rule=problem.rule)

    integrity = None
    if "integrity" in top and get("integrity") is not None:
        if not isinstance(get("integrity"), dict):
            _type_error(ctx, "integrity", "mapping", get("integrity"))
        else:
            integrity = MappingProxyType(dict(get("integrity")))
            for sub, broken in (integrity_validator or (lambda _raw: ()))(get("integrity")):
                ctx.err("CFG-INTEGRITY", _join("integrity", sub) if sub else "integrity", rule=broken)

    predecessors, crosswalk = _predecessors(ctx, top, base_dir)
    in_group = top.get("duplicates_in_group", "refuse")
    if in_group not in DUPLICATES_IN_GROUP:
        ctx.err("CFG-DUPLICATES-IN-GROUP", "duplicates_in_group", value=in_group,
                allowed=", ".join(DUPLICATES_IN_GROUP))

    if ctx.errors or tree is None or None in (code, names, province, year, opens, closes):
        return None
    assert code and names and province and year and opens and closes  # for the type checker
    return Campaign(
        file=ctx.file, code=code, name_vi=names[0], name_en=names[1], province=province,
        year=year, opens_at=opens, closes_at=closes, timezone=tz_name, units=tree,
        groups=tuple(groups.values()), quota_rules=tuple(r for _, r in rules),
        duplicate_priority=priority, scoring=scoring, integrity=integrity,
        predecessors=predecessors, crosswalk=crosswalk,
        design=design, design_raw=MappingProxyType(dict(design_raw)) if isinstance(design_raw, dict) else None,
        duplicates_in_group=str(in_group),
    )


def _predecessors(ctx: _Ctx, top: Mapping[str, Any], base_dir: Path | None
                  ) -> tuple[tuple[str, ...], str | None]:
    """``predecessors: [codes]`` and ``crosswalk: file`` (a path inside the config's folder).

    The crosswalk's content is checked against the predecessors' units where they are known
    (``par-survey units crosswalk-check``, and when scores are compared year on year).
    """
    codes: list[str] = []
    if "predecessors" in top:
        seen: set[str] = set()
        for path, code in _codes(ctx, top["predecessors"], "predecessors", single_ok=True):
            if code in seen:
                ctx.err("CFG-PREDECESSOR-DUPLICATE", path, value=code)
            seen.add(code)
            codes.append(code)
    crosswalk: str | None = None
    if "crosswalk" in top:
        ref = _string(ctx, top["crosswalk"], "crosswalk")
        if ref is not None:
            detail = None
            if base_dir is None:
                detail = Text(N_("the configuration was given as text, so no folder is known"))
            else:
                rel = Path(ref.strip())
                target = (base_dir / rel).resolve()
                if rel.is_absolute() or not target.is_relative_to(base_dir.resolve()):
                    detail = Text(N_("the path must stay inside the configuration's folder"))
                elif not target.is_file():
                    detail = Text(N_("the file does not exist"))
                else:
                    crosswalk = str(target)
            if detail is not None:
                ctx.err("CFG-CROSSWALK-PATH", "crosswalk", value=ref, detail=detail)
    return tuple(codes), crosswalk
