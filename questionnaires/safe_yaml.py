"""The one YAML loader for every file a person hands us: questionnaires, campaign files, uploads.

PyYAML's safe loader refuses tags that run code but not input built to exhaust the machine:

- an alias bomb (a few anchors each listing the previous one nine times) is 1.8 KB on disk and
  billions of nodes once its aliases are followed, by the constructor or by any pass that walks
  the composed tree;
- deep nesting makes the pure-Python composer raise ``RecursionError`` and libyaml's
  constructor overflow the C stack (a segfault at about 30,000 levels).

So before anything is composed, :func:`check_yaml` reads the event stream (the parsers keep
their own stack there, they do not recurse) and refuses, with a located and coded message in
Vietnamese and English: text over :data:`MAX_YAML_BYTES`, nesting deeper than
:data:`MAX_YAML_DEPTH`, and aliases whose expansion would add more than
:data:`MAX_ALIAS_NODES` nodes (an alias costs the size of what it names, counted with the
aliases inside that). Only then is the text composed or loaded, by the safe loaders.
Limits follow the OWASP advice for XML/YAML entity expansion: bound size, depth and expansion.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

#: A campaign file of 34 provinces' units is about 300 KB; questionnaires are far smaller.
MAX_YAML_BYTES: Final = 2 * 1024 * 1024
#: The deepest built-in file nests 9 levels; conditions (all/any) add a few.
MAX_YAML_DEPTH: Final = 64
#: Nodes that aliases may add in all; a legitimate file repeats a block a few times at most.
MAX_ALIAS_NODES: Final = 10_000

_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: code -> (Vietnamese, English) message templates, named placeholders
YAML_LIMITS: Final[dict[str, tuple[str, str]]] = {
    "YAML-TOO-LARGE": ("Tệp YAML quá lớn (tối đa {limit} byte).",
                       "The YAML file is too large (at most {limit} bytes)."),
    "YAML-TOO-DEEP": ("Tệp YAML lồng quá sâu (quá {limit} cấp).",
                      "The YAML file nests too deeply (more than {limit} levels)."),
    "YAML-ALIASES": ("Các bí danh (*alias) trong tệp YAML mở rộng quá {limit} nút; "
                     "hãy viết trực tiếp nội dung.",
                     "The YAML aliases (*alias) expand to more than {limit} nodes; "
                     "write the content out instead."),
}


class YamlRefused(ValueError):
    """Input refused by a limit: ``code`` from :data:`YAML_LIMITS`, located by line/column."""

    def __init__(self, code: str, line: int | None, column: int | None, limit: int,
                 detail: str = "") -> None:
        self.code, self.line, self.column, self.limit = code, line, column, limit
        self.detail = detail  # language-neutral (a number), e.g. the file's size
        super().__init__(str(self))

    @property
    def message_vi(self) -> str:
        return YAML_LIMITS[self.code][0].format(limit=self.limit)

    @property
    def message_en(self) -> str:
        return YAML_LIMITS[self.code][1].format(limit=self.limit)

    @property
    def where(self) -> str:
        return "" if self.line is None else f"line {self.line}, column {self.column}"

    def __str__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.code} {self.where}: {self.message_vi} / {self.message_en}{detail}"


def _refuse(code: str, mark: Any, limit: int, detail: str = "") -> YamlRefused:
    line = None if mark is None else int(mark.line) + 1
    column = None if mark is None else int(mark.column) + 1
    return YamlRefused(code, line, column, limit, detail)


def limit_messages() -> dict[str, tuple[str, str]]:
    """code -> (vi, en) with the default limits filled in, for the error catalogues."""
    limits = {"YAML-TOO-LARGE": MAX_YAML_BYTES, "YAML-TOO-DEEP": MAX_YAML_DEPTH,
              "YAML-ALIASES": MAX_ALIAS_NODES}
    return {code: (vi.format(limit=limits[code]), en.format(limit=limits[code]))
            for code, (vi, en) in YAML_LIMITS.items()}


def check_yaml(text: str, *, max_bytes: int = MAX_YAML_BYTES, max_depth: int = MAX_YAML_DEPTH,
               max_alias_nodes: int = MAX_ALIAS_NODES) -> None:
    """Refuse text over the size, depth or alias-expansion limits; raise :class:`YamlRefused`.

    Syntax errors pass through as :class:`yaml.YAMLError` for the caller to report as before.
    Time and memory are linear in the text: nothing is built but a few counters per anchor.
    """
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise _refuse("YAML-TOO-LARGE", None, max_bytes, f"{size} B")
    depth = 0
    nodes = 0  # nodes seen, aliases counted at their expanded size
    expanded = 0
    anchored: dict[str, int] = {}  # anchor -> expanded node count of what it names
    open_anchors: list[tuple[str | None, int]] = []  # per open collection: anchor, nodes before
    for event in yaml.parse(text, Loader=_PARSER):
        if isinstance(event, yaml.AliasEvent):
            cost = anchored.get(event.anchor or "", 1)
            expanded += cost
            nodes += cost
            if expanded > max_alias_nodes:
                raise _refuse("YAML-ALIASES", event.start_mark, max_alias_nodes)
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor:
                anchored[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise _refuse("YAML-TOO-DEEP", event.start_mark, max_depth)
            open_anchors.append((event.anchor, nodes))
            nodes += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, before = open_anchors.pop()
            if anchor:
                anchored[anchor] = nodes - before


def compose_yaml(text: str) -> yaml.Node | None:
    """The node tree of one document, after :func:`check_yaml` (nodes keep line numbers)."""
    check_yaml(text)
    node: yaml.Node | None = yaml.compose(text, Loader=_PARSER)
    return node


def construct_yaml(node: yaml.Node) -> Any:
    """Python values from a node tree :func:`compose_yaml` returned."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(text: str) -> Any:
    """Python values of one document, after :func:`check_yaml`."""
    check_yaml(text)
    return yaml.load(text, Loader=_PARSER)  # noqa: S506 - a safe loader
