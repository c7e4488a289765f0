"""The one YAML loader for every file a person hands us: questionnaires, campaign files, uploads.

PyYAML's safe loader refuses tags that run code but not input built to exhaust the machine:

- an alias bomb (a few anchors each listing the previous one nine times) is 1.8 KB on disk and
  billions of nodes once its aliases are followed, by the constructor or by any pass that walks
  the composed tree;
- deep nesting makes the pure-Python composer raise ``RecursionError`` and libyaml's
  constructor overflow the C stack (a segfault at about 30,000 levels).

So before anything is composed, :func:`check_yaml` reads the event stream (the parsers keep
their own stack there, they do not recurse) and refuses with a located and coded problem:
text over :data:`MAX_YAML_BYTES`, nesting deeper than :data:`MAX_YAML_DEPTH`, and aliases
whose expansion would add more than :data:`MAX_ALIAS_NODES` nodes (an alias costs the size of
what it names, counted with the aliases inside that). Only then is the text composed or loaded, by the safe loaders.
Limits follow the OWASP advice for XML/YAML entity expansion: bound size, depth and expansion.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

import yaml

from questionnaires.problems import N_, Location, ProblemError, register

#: A campaign file of 34 provinces' units is about 300 KB; questionnaires are far smaller.
MAX_YAML_BYTES: Final = 2 * 1024 * 1024
#: The deepest built-in file nests 9 levels; conditions (all/any) add a few.
MAX_YAML_DEPTH: Final = 64
#: Nodes that aliases may add in all; a legitimate file repeats a block a few times at most.
MAX_ALIAS_NODES: Final = 10_000

_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

register([
    ("YAML-TOO-LARGE",
     N_("The YAML file is too large (at most {limit} bytes).")),
    ("YAML-TOO-DEEP",
     N_("The YAML file nests too deeply (more than {limit} levels).")),
    ("YAML-ALIASES",
     N_("The YAML aliases (*alias) expand to more than {limit} nodes; write the content out "
        "instead.")),
])
#: the codes of the YAML limits
YAML_CODES: Final = frozenset(("YAML-TOO-LARGE", "YAML-TOO-DEEP", "YAML-ALIASES"))


class YamlRefused(ProblemError, ValueError):
    """Input refused by a limit: a problem with one of :data:`YAML_CODES`, located by
    line/column, with the ``limit`` and a language-neutral ``detail`` (e.g. the file's size)."""

    def __init__(self, code: str, line: int | None, column: int | None, limit: int,
                 detail: str = "") -> None:
        self.line, self.column, self.limit, self.detail = line, column, limit, detail
        super().__init__(code, Location(line=line, column=None if column is None else str(column)),
                         limit=limit)
        self.problem = replace(self.problem, detail=detail)


def _refuse(code: str, mark: Any, limit: int, detail: str = "") -> YamlRefused:
    line = None if mark is None else int(mark.line) + 1
    column = None if mark is None else int(mark.column) + 1
    return YamlRefused(code, line, column, limit, detail)


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
