"""Load and validate questionnaire definitions (YAML).

Every problem is a :class:`questionnaires.problems.Problem` with a stable code (registered here,
listed in :data:`ERROR_CODES`), the file and the path inside the document
(``sections[1].questions[0].options[2].score``); its message is in the Babel catalogs.
Loading collects all problems of a file before failing, so an author fixes a definition in
one pass.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import yaml

from questionnaires.problems import CODES, N_, Location, Problem, register
from questionnaires.qtypes import QuestionType
from questionnaires.safe_yaml import MAX_YAML_BYTES, YAML_CODES, YamlRefused, load_yaml
from questionnaires.schema import (
    SUPPORTED_LANGUAGES,
    AllOf,
    AnyOf,
    Condition,
    ConditionLike,
    Label,
    Operator,
    Option,
    Question,
    Questionnaire,
    Rating,
    RatingLayout,
    Section,
    SectionLayout,
)

DEFINITIONS_DIR = Path(__file__).parent / "definitions"

register([
    ("QN-YAML",
     N_("The file is not valid YAML; fix the syntax at the line shown.")),
    ("QN-TYPE",
     N_("Wrong kind of value for this field.")),
    ("QN-REQUIRED",
     N_("A required field is missing.")),
    ("QN-UNKNOWN-KEY",
     N_("Unsupported field (perhaps a misspelt name).")),
    ("QN-ID",
     N_("Ids use lower-case letters, digits, '-' or '_' and start with a letter.")),
    ("QN-VERSION",
     N_("The version must be a positive integer.")),
    ("QN-LANG",
     N_("Unsupported language, or Vietnamese ('vi') is not listed.")),
    ("QN-TEXT-MISSING",
     N_("Text is missing for a declared language.")),
    ("QN-DUPLICATE-ID",
     N_("Duplicate id; every section and question needs its own id.")),
    ("QN-QUESTION-TYPE",
     N_("Unknown question type.")),
    ("QN-OPTIONS",
     N_("Choice questions need at least two options; other types take none.")),
    ("QN-OPTION-DUPLICATE",
     N_("Duplicate option code within a question.")),
    ("QN-OPTION-SET",
     N_("The referenced option set does not exist.")),
    ("QN-SCORE",
     N_("Option scores lie in 0..1; a 'don't know' option has no score.")),
    ("QN-SUBCRITERION",
     N_("A scored question must name its sub-criterion, and only scored ones may.")),
    ("QN-RANGE",
     N_("Invalid range (min must be <= max).")),
    ("QN-SHOW-IF",
     N_("Invalid show-if condition (operator, value or referenced question).")),
    ("QN-SHOW-IF-ORDER",
     N_("A show-if condition may only refer to questions on earlier pages.")),
    ("QN-GRID",
     N_("A grid section holds only Likert questions sharing one option scale.")),
    ("QN-RATING",
     N_("Invalid 'rates' block (rated unit level and layout).")),
    ("QN-EMPTY",
     N_("A questionnaire needs a section, and every section needs a question.")),
    ("QN-FILENAME",
     N_("The file must be named <group>/<id>.v<version>.yaml, matching its content.")),
])
#: the codes of questionnaire definitions (with the YAML limits of the one YAML loader)
ERROR_CODES: Final = frozenset(code for code in CODES if code.startswith("QN-")) | YAML_CODES

ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def _problem(code: str, file: str, path: str = "", detail: str = "", *,
             line: int | None = None, column: str | None = None, **params: Any) -> Problem:
    return Problem(code, Location(file=file, path=path, line=line, column=column), params, detail)


class QuestionnaireInvalid(ValueError):
    """Raised with every problem found in one or more definitions."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def content_hash(document: Any) -> str:
    """SHA-256 of the canonical JSON of the parsed document (layout and comments do not count)."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _Builder:
    """One pass over a parsed document, collecting problems as it builds the dataclasses."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.languages: tuple[str, ...] = ("vi",)

    def problem(self, code: str, path: str, detail: str = "") -> None:
        self.problems.append(_problem(code, self.file, path, detail))

    # --- primitives -------------------------------------------------------------------
    def mapping(self, value: Any, path: str, allowed: Iterable[str], required: Iterable[str]
                ) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.problem("QN-TYPE", path, f"expected a mapping, got {type(value).__name__}")
            return None
        allowed = set(allowed)
        for key in value:
            if key not in allowed:
                self.problem("QN-UNKNOWN-KEY", _join(path, str(key)),
                             f"allowed: {', '.join(sorted(allowed))}")
        for key in required:
            if key not in value:
                self.problem("QN-REQUIRED", _join(path, key))
        return dict(value)

    def ident(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not ID_RE.match(value):
            self.problem("QN-ID", path, f"got {value!r}")
            return str(value)
        return value

    def label(self, value: Any, path: str) -> Label:
        if isinstance(value, str):
            value = {"vi": value}
        if not isinstance(value, Mapping):
            self.problem("QN-TYPE", path, "expected text or a mapping {vi: ..., en: ...}")
            return Label(vi="")
        for lang in value:
            if lang not in SUPPORTED_LANGUAGES:
                self.problem("QN-LANG", _join(path, str(lang)))
        for lang in self.languages:
            text = value.get(lang)
            if not isinstance(text, str) or not text.strip():
                self.problem("QN-TEXT-MISSING", _join(path, lang))
        vi, en = value.get("vi"), value.get("en")
        return Label(vi=str(vi or "").strip(), en=str(en).strip() if en else None)

    def optional_label(self, value: Any, path: str) -> Label | None:
        return None if value is None else self.label(value, path)

    def integer(self, value: Any, path: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem("QN-TYPE", path, f"expected a whole number, got {value!r}")
            return None
        return value

    # --- structure --------------------------------------------------------------------
    def questionnaire(self, doc: Any, source: str) -> Questionnaire | None:
        top = self.mapping(
            doc, "",
            allowed=("id", "version", "group", "title", "description", "languages",
                     "illustrative", "rates", "option_sets", "sections"),
            required=("id", "version", "group", "title", "languages", "rates", "sections"),
        )
        if top is None:
            return None
        langs = top.get("languages")
        if not isinstance(langs, list) or "vi" not in langs or any(
                lang not in SUPPORTED_LANGUAGES for lang in langs):
            self.problem("QN-LANG", "languages", f"got {langs!r}; use [vi] or [vi, en]")
        else:
            self.languages = tuple(langs)
        qid = self.ident(top.get("id"), "id")
        version = top.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            self.problem("QN-VERSION", "version", f"got {version!r}")
            version = 0
        group = self.ident(top.get("group"), "group")
        title = self.label(top.get("title"), "title")
        description = self.optional_label(top.get("description"), "description")
        illustrative = top.get("illustrative", False)
        if not isinstance(illustrative, bool):
            self.problem("QN-TYPE", "illustrative", "expected true or false")
            illustrative = False
        rating = self.rating(top.get("rates"), "rates")
        option_sets = self.option_sets(top.get("option_sets", {}), "option_sets")
        sections = self.sections(top.get("sections"), "sections", option_sets)
        return Questionnaire(
            id=qid, version=version, group=group, title=title, languages=self.languages,
            rating=rating, sections=sections, description=description,
            illustrative=illustrative, source=source, content_hash=content_hash(doc),
            document=doc,
        )

    def rating(self, value: Any, path: str) -> Rating:
        block = self.mapping(value, path, allowed=("unit_level", "layout"), required=("unit_level",))
        if block is None:
            return Rating(unit_levels=())
        raw_levels = block.get("unit_level")
        if isinstance(raw_levels, str):
            raw_levels = [raw_levels]
        if not isinstance(raw_levels, list) or not raw_levels:
            self.problem("QN-RATING", _join(path, "unit_level"),
                         "name a unit level such as department, or a list of levels")
            raw_levels = []
        levels = tuple(self.ident(v, f"{path}.unit_level[{i}]") for i, v in enumerate(raw_levels))
        layout_raw = block.get("layout", "per_unit")
        try:
            layout = RatingLayout(layout_raw)
        except ValueError:
            self.problem("QN-RATING", _join(path, "layout"),
                         f"got {layout_raw!r}; use per_unit or matrix")
            layout = RatingLayout.PER_UNIT
        return Rating(unit_levels=levels, layout=layout)

    def option_sets(self, value: Any, path: str) -> dict[str, tuple[Option, ...]]:
        if not isinstance(value, Mapping):
            self.problem("QN-TYPE", path, "expected a mapping of name -> list of options")
            return {}
        return {str(name): self.options(opts, _join(path, str(name)))
                for name, opts in value.items()}

    def options(self, value: Any, path: str) -> tuple[Option, ...]:
        if not isinstance(value, list):
            self.problem("QN-TYPE", path, "expected a list of options")
            return ()
        options: list[Option] = []
        seen: set[str] = set()
        for i, raw in enumerate(value):
            p = f"{path}[{i}]"
            block = self.mapping(raw, p, allowed=("code", "label", "score", "dont_know"),
                                 required=("code", "label"))
            if block is None:
                continue
            code = str(block.get("code", ""))
            if not CODE_RE.match(code):
                self.problem("QN-ID", _join(p, "code"), f"got {code!r}")
            if code in seen:
                self.problem("QN-OPTION-DUPLICATE", _join(p, "code"), f"code {code!r}")
            seen.add(code)
            dont_know = block.get("dont_know", False)
            if not isinstance(dont_know, bool):
                self.problem("QN-TYPE", _join(p, "dont_know"), "expected true or false")
                dont_know = False
            score = block.get("score")
            if score is not None:
                if isinstance(score, bool) or not isinstance(score, (int, float)) or not (
                        0.0 <= float(score) <= 1.0):
                    self.problem("QN-SCORE", _join(p, "score"), f"got {score!r}")
                    score = None
                elif dont_know:
                    self.problem("QN-SCORE", _join(p, "score"), "a don't-know option has no score")
                    score = None
                else:
                    score = float(score)
            options.append(Option(code=code, label=self.label(block.get("label"), _join(p, "label")),
                                  score=score, dont_know=dont_know))
        return tuple(options)

    def sections(self, value: Any, path: str, option_sets: dict[str, tuple[Option, ...]]
                 ) -> tuple[Section, ...]:
        if not isinstance(value, list) or not value:
            self.problem("QN-EMPTY", path)
            return ()
        sections: list[Section] = []
        seen: set[str] = set()
        earlier_pages: set[str] = set()
        for i, raw in enumerate(value):
            p = f"{path}[{i}]"
            block = self.mapping(raw, p, allowed=("id", "title", "intro", "layout", "questions"),
                                 required=("id", "title", "questions"))
            if block is None:
                continue
            sid = self.ident(block.get("id"), _join(p, "id"))
            if sid in seen:
                self.problem("QN-DUPLICATE-ID", _join(p, "id"), f"id {sid!r}")
            seen.add(sid)
            try:
                layout = SectionLayout(block.get("layout", "list"))
            except ValueError:
                self.problem("QN-GRID", _join(p, "layout"), "use list or grid")
                layout = SectionLayout.LIST
            raw_questions = block.get("questions")
            if not isinstance(raw_questions, list) or not raw_questions:
                self.problem("QN-EMPTY", _join(p, "questions"))
                raw_questions = []
            questions = tuple(
                q for j, rq in enumerate(raw_questions)
                if (q := self.question(rq, f"{p}.questions[{j}]", option_sets, seen,
                                       earlier_pages)) is not None
            )
            if layout is SectionLayout.GRID and questions:
                scale = [o.code for o in questions[0].options]
                for j, q in enumerate(questions):
                    if not q.type.kind.grid_row or [o.code for o in q.options] != scale:
                        self.problem("QN-GRID", f"{p}.questions[{j}]",
                                     "every row must be a likert question with the same options")
            earlier_pages.update(q.id for q in questions)
            sections.append(Section(
                id=sid, title=self.label(block.get("title"), _join(p, "title")),
                intro=self.optional_label(block.get("intro"), _join(p, "intro")),
                layout=layout, questions=questions,
            ))
        return tuple(sections)

    def question(self, raw: Any, path: str, option_sets: dict[str, tuple[Option, ...]],
                 seen: set[str], earlier_pages: set[str]) -> Question | None:
        block = self.mapping(
            raw, path,
            allowed=("id", "type", "text", "help", "required", "options", "show_if",
                     "subcriterion", "min", "max", "max_length", "constraint_message"),
            required=("id", "type", "text"),
        )
        if block is None:
            return None
        qid = self.ident(block.get("id"), _join(path, "id"))
        if qid in seen:
            self.problem("QN-DUPLICATE-ID", _join(path, "id"), f"id {qid!r}")
        seen.add(qid)
        try:
            qtype = QuestionType(block.get("type"))
        except ValueError:
            self.problem("QN-QUESTION-TYPE", _join(path, "type"),
                         f"got {block.get('type')!r}; use one of "
                         + ", ".join(t.value for t in QuestionType))
            return None
        options: tuple[Option, ...] = ()
        raw_options = block.get("options")
        kind = qtype.kind
        if kind.has_options:
            if isinstance(raw_options, str):
                if raw_options not in option_sets:
                    self.problem("QN-OPTION-SET", _join(path, "options"), f"no set {raw_options!r}")
                options = option_sets.get(raw_options, ())
            elif raw_options is not None:
                options = self.options(raw_options, _join(path, "options"))
            if len(options) < 2:
                self.problem("QN-OPTIONS", _join(path, "options"))
        elif raw_options is not None:
            self.problem("QN-OPTIONS", _join(path, "options"), f"type {qtype.value} takes none")
        required = block.get("required", False)
        if not isinstance(required, bool):
            self.problem("QN-TYPE", _join(path, "required"), "expected true or false")
            required = False
        minimum = self.integer(block.get("min"), _join(path, "min"))
        maximum = self.integer(block.get("max"), _join(path, "max"))
        max_length = self.integer(block.get("max_length"), _join(path, "max_length"))
        if not kind.takes_range and (minimum is not None or maximum is not None):
            self.problem("QN-RANGE", path, "min/max apply to integer questions only")
        if minimum is not None and maximum is not None and minimum > maximum:
            self.problem("QN-RANGE", path, f"min {minimum} > max {maximum}")
        constraint_message = self.optional_label(block.get("constraint_message"),
                                                 _join(path, "constraint_message"))
        if constraint_message is not None and not kind.takes_constraint_message:
            self.problem("QN-RANGE", _join(path, "constraint_message"),
                         "a constraint message applies to integer and text questions only")
        question = Question(
            id=qid, type=qtype, text=self.label(block.get("text"), _join(path, "text")),
            required=required, help=self.optional_label(block.get("help"), _join(path, "help")),
            options=options,
            show_if=self.condition(block.get("show_if"), _join(path, "show_if"), earlier_pages),
            subcriterion=None, minimum=minimum, maximum=maximum, max_length=max_length,
            constraint_message=constraint_message,
        )
        sub = block.get("subcriterion")
        if sub is not None and not isinstance(sub, str):
            self.problem("QN-TYPE", _join(path, "subcriterion"), "expected text such as '2.3'")
            sub = None
        if question.scored and not sub:
            self.problem("QN-SUBCRITERION", _join(path, "subcriterion"), "scored question")
        if sub and not question.scored:
            self.problem("QN-SUBCRITERION", _join(path, "subcriterion"), "question has no scores")
        return replace(question, subcriterion=sub)

    def condition(self, value: Any, path: str, earlier: set[str]) -> ConditionLike | None:
        if value is None:
            return None
        if isinstance(value, Mapping) and set(value) in ({"all"}, {"any"}):
            key = "all" if "all" in value else "any"
            items = value[key]
            if not isinstance(items, list) or not items:
                self.problem("QN-SHOW-IF", _join(path, key), "expected a non-empty list")
                return None
            parts = tuple(c for i, v in enumerate(items)
                          if (c := self.condition(v, f"{path}.{key}[{i}]", earlier)) is not None)
            return AllOf(parts) if key == "all" else AnyOf(parts)
        block = self.mapping(value, path, allowed=("question", "op", "value"),
                             required=("question", "op"))
        if block is None:
            return None
        try:
            op = Operator(block.get("op"))
        except ValueError:
            self.problem("QN-SHOW-IF", _join(path, "op"),
                         "use one of " + ", ".join(o.value for o in Operator))
            return None
        ref = str(block.get("question"))
        if ref not in earlier:
            self.problem("QN-SHOW-IF-ORDER", _join(path, "question"), f"refers to {ref!r}")
        cvalue = block.get("value")
        if op in (Operator.IN, Operator.NOT_IN) and not isinstance(cvalue, list):
            self.problem("QN-SHOW-IF", _join(path, "value"), "in/not_in take a list")
        elif op in (Operator.GT, Operator.GTE, Operator.LT, Operator.LTE) and (
                isinstance(cvalue, bool) or not isinstance(cvalue, (int, float))):
            self.problem("QN-SHOW-IF", _join(path, "value"), "comparisons take a number")
        elif op in (Operator.EQUALS, Operator.NOT_EQUALS) and cvalue is None:
            self.problem("QN-SHOW-IF", _join(path, "value"), "equals takes a value")
        if isinstance(cvalue, list):
            cvalue = tuple(cvalue)
        return Condition(question=ref, op=op, value=cvalue)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


FILENAME_RE = re.compile(r"^(?P<id>[a-z][a-z0-9_-]*)\.v(?P<version>[0-9]+)\.ya?ml$")


def parse_questionnaire(text: str, file: str = "<string>") -> Questionnaire:
    """Parse and validate one definition from YAML text; raise :class:`QuestionnaireInvalid`."""
    try:
        doc = load_yaml(text)
    except YamlRefused as exc:
        located = replace(exc.problem, location=replace(exc.problem.location, file=file))
        raise QuestionnaireInvalid([located]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise QuestionnaireInvalid([_problem(
            "QN-YAML", file, "", str(exc).splitlines()[0], line=mark.line + 1 if mark else None,
            column=str(mark.column + 1) if mark else None)]) from exc
    return build_questionnaire(doc, file)


def build_questionnaire(doc: Any, file: str = "<document>") -> Questionnaire:
    """Validate an already parsed document (e.g. one stored in the database) and build it."""
    builder = _Builder(file)
    questionnaire = builder.questionnaire(doc, file)
    if builder.problems or questionnaire is None:
        raise QuestionnaireInvalid(builder.problems)
    return questionnaire


_FILE_CACHE: dict[tuple[str, int, int], Questionnaire] = {}


def load_questionnaire(path: str | Path) -> Questionnaire:
    """Load one definition file and check that its name matches ``<group>/<id>.v<N>.yaml``.

    Parsed files are cached by path, size and modification time (definitions are read often
    and change rarely).
    """
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _FILE_CACHE:
        _FILE_CACHE[key] = _load_questionnaire(path)
    return _FILE_CACHE[key]


def _load_questionnaire(path: Path) -> Questionnaire:
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:  # refused before it is read into memory
        raise QuestionnaireInvalid([_problem("YAML-TOO-LARGE", str(path), "", f"{size} B",
                                             limit=MAX_YAML_BYTES)])
    questionnaire = parse_questionnaire(path.read_text(encoding="utf-8"), str(path))
    match = FILENAME_RE.match(path.name)
    if (not match or match["id"] != questionnaire.id
            or int(match["version"]) != questionnaire.version
            or path.parent.name != questionnaire.group):
        raise QuestionnaireInvalid([_problem(
            "QN-FILENAME", str(path), "",
            f"expected {questionnaire.group}/{questionnaire.id}.v{questionnaire.version}.yaml")])
    return questionnaire


def definition_files(paths: Iterable[str | Path] = ()) -> list[Path]:
    """The YAML files under ``paths`` (files or folders); the built-in set when empty."""
    roots = [Path(p) for p in paths] or [DEFINITIONS_DIR]
    files: list[Path] = []
    for root in roots:
        if root.is_dir():
            files.extend(sorted(root.rglob("*.yaml")) + sorted(root.rglob("*.yml")))
        else:
            files.append(root)
    return files


def check_files(paths: Iterable[str | Path] = ()) -> tuple[list[Questionnaire], list[Problem]]:
    """Validate every file; return the good questionnaires and all problems found."""
    good: list[Questionnaire] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in definition_files(paths):
        try:
            q = load_questionnaire(path)
        except QuestionnaireInvalid as exc:
            problems.extend(exc.problems)
            continue
        except OSError as exc:
            problems.append(_problem("QN-YAML", str(path), "", exc.strerror or str(exc)))
            continue
        if q.key in seen:
            problems.append(_problem("QN-DUPLICATE-ID", str(path), "id",
                                     f"{q.key} is also defined in {seen[q.key]}"))
            continue
        seen[q.key] = str(path)
        good.append(q)
    return good, problems


def load_builtin() -> list[Questionnaire]:
    """Every built-in definition; raise if any is invalid (they are tested to load clean)."""
    good, problems = check_files()
    if problems:
        raise QuestionnaireInvalid(problems)
    return good


def load_builtin_by_id(qid: str) -> Questionnaire:
    """The latest built-in version of questionnaire ``qid``."""
    files = sorted(DEFINITIONS_DIR.glob(f"*/{qid}.v*.yaml"),
                   key=lambda p: int(FILENAME_RE.match(p.name)["version"]))  # type: ignore[index]
    if not files:
        raise KeyError(f"no built-in questionnaire {qid!r}")
    return load_questionnaire(files[-1])
