"""Small-cell suppression that cannot be undone from the other published numbers.

Primary suppression hides every estimate from fewer than ``k`` respondents. Published
tables also carry exact linear relations between their cells (a unit's survey points are
the sum of its sub-criteria's points; a SIPAS element is the mean of its items; a
sub-criterion fed by one item equals that item). A hidden cell that appears in such a
relation with every other term published would be given back by subtraction, so
complementary (secondary) suppression hides more cells until no hidden cell is
determined by the relations: for every hidden cell ``j`` the null space of the relations
restricted to the hidden cells has a non-zero ``j`` component (the hidden values can move
without changing anything published). The complement chosen is the published cell with
the fewest respondents in a relation that pins a hidden cell (ties: the key order).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import null_space

__all__ = ["Cell", "determined", "suppress"]

_TOL = 1e-9


@dataclass(frozen=True)
class Cell:
    """A published estimate: its value and the respondents behind it (0 = no data, not a cell)."""

    value: float
    n: int


Relation = Mapping[Hashable, float]  # sum of coef * value == 0 over the keys


def determined(hidden: Sequence[Hashable], relations: Sequence[Relation]) -> list[Hashable]:
    """Hidden cells whose value the relations fix given every other cell (linear algebra)."""
    if not hidden:
        return []
    index = {key: i for i, key in enumerate(hidden)}
    rows = [[0.0] * len(hidden) for _ in relations]
    for r, relation in enumerate(relations):
        for key, coef in relation.items():
            if key in index:
                rows[r][index[key]] += coef
    matrix = np.array([row for row in rows if any(abs(c) > _TOL for c in row)], dtype=np.float64)
    if matrix.size == 0:
        return []
    free = null_space(matrix)
    if free.size == 0:
        return list(hidden)
    movable = np.abs(free).max(axis=1) > 1e-7
    return [key for key, ok in zip(hidden, movable.tolist(), strict=True) if not ok]


def suppress(cells: Mapping[Hashable, Cell], relations: Sequence[Relation], k: int) -> set[Hashable]:
    """Primary (``n < k``) plus complementary suppression; returns the keys to hide.

    ``relations`` must only name keys of ``cells`` with data (``n > 0``); each is an exact
    linear relation ``sum coef * value == 0`` that holds among the published values.
    Relations are solved per connected block of cells, so a campaign's thousands of
    units cost thousands of small problems, not one large one.
    """
    hidden = {key for key, cell in cells.items() if 0 < cell.n < k}
    if not hidden:
        return hidden
    # Blocks of cells linked by relations (union-find).
    parent: dict[Hashable, Hashable] = {}

    def find(x: Hashable) -> Hashable:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for relation in relations:
        keys = list(relation)
        for other in keys[1:]:
            parent[find(other)] = find(keys[0])
    blocks: dict[Hashable, list[Relation]] = {}
    for relation in relations:
        blocks.setdefault(find(next(iter(relation))), []).append(relation)
    order = {key: i for i, key in enumerate(cells)}
    for block in blocks.values():
        members = {key for relation in block for key in relation}
        while True:
            block_hidden = sorted((key for key in members if key in hidden), key=order.__getitem__)
            pinned = determined(block_hidden, block)
            if not pinned:
                break
            target = pinned[0]
            candidates = {key for relation in block if target in relation for key in relation
                          if key not in hidden and abs(relation[key]) > _TOL}
            if not candidates:  # every term already hidden yet pinned: hide the rest of the block
                candidates = {key for key in members if key not in hidden}
                if not candidates:
                    break
            hidden.add(min(candidates, key=lambda key: (cells[key].n, order[key])))
    return hidden
