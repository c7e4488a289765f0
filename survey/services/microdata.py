"""Response microdata for analysts: one row per valid response and rated unit, with its design.

Each row carries ``stratum``, ``psu``, ``weight`` and ``fpc`` (the stratum's N) of the design
the published scores use (:func:`survey.services.scores.build_design`), so that R
``svydesign(ids=~psu, strata=~stratum, weights=~weight, fpc=~fpc)`` and ``svyby(~item, ~unit,
svymean, na.rm=TRUE)`` on the file give the published item estimates and SEs. Nothing
identifies a respondent: no name, contact, list row, form or token, and no submission date
(it could be joined to the invitation log). Public-QR responses are not design rows and are
left out, as they are of the scores.

``--values codes`` writes each answer's code as printed on the paper form (A, B ... or 1..5,
9); SPSS gets them as they are, with value labels in Vietnamese and English and the
don't-know code declared user-missing; Stata cannot label or declare text codes, so a
questionnaire whose codes are letters is written there as the option's position (1 = A ...)
with the letter in the value label, and don't-know as the extended missing value ``.a``.
``--values scores`` writes each answer's option score (0..1), don't-know and no answer empty.

:func:`iter_microdata_rows` yields the rows as dicts; :func:`export_responses` writes csv,
xlsx, sav or dta. :func:`load_design` is the same design without the answers, which the API's
``/responses`` stream (:mod:`survey.services.response_rows`) joins to each row it streams.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from questionnaires import Questionnaire
from questionnaires.spreadsheet import safe_cell, safe_row
from sampling.design import DesignSpec
from survey import db
from survey.services.scores import (
    DesignInfo,
    ResponseFilter,
    ScoreInputs,
    build_design,
    design_spec_for,
    item_key,
    listed_sizes,
    load_score_inputs,
)

MICRODATA_FORMATS = ("csv", "xlsx", "sav", "dta")
VALUES = ("codes", "scores")
_NAME_BAD = re.compile(r"[^A-Za-z0-9_]")
DESIGN_COLUMNS = ("response", "stratum", "psu", "weight", "fpc", "group", "unit", "unit_level", "questionnaire")
_DESIGN_LABELS = {
    "response": "số thứ tự phiếu / response number",
    "stratum": "tầng (nhóm|đơn vị) / stratum (group|rated unit)",
    "psu": "đơn vị mẫu bậc 1 (mỗi phiếu) / primary sampling unit (each response)",
    "weight": "trọng số / analysis weight",
    "fpc": "quy mô tổng thể của tầng N / stratum population size N",
    "group": "đối tượng điều tra / respondent group",
    "unit": "đơn vị được đánh giá / rated unit",
    "unit_level": "cấp đơn vị / rated unit level",
    "questionnaire": "phiếu (mã@phiên bản) / questionnaire (id@version)",
}


@dataclass(frozen=True)
class ItemColumn:
    """One item column: the question of one questionnaire version."""

    name: str
    key: str  # id@vN/question
    label: str  # questionnaire key, question id and text (vi / en)
    codes: tuple[str, ...]  # option codes as printed, by option position
    labels: tuple[str, ...]  # "vi / en" per option
    scores: tuple[float | None, ...]
    dont_know: tuple[str, ...]  # codes that mean don't know

    @property
    def numeric_codes(self) -> bool:
        return all(c.lstrip("-").isdigit() for c in self.codes)


@dataclass(frozen=True)
class Microdata:
    """A campaign's design rows and item columns, ready to stream or write."""

    campaign_code: str
    inputs: ScoreInputs
    stratum: list[str]
    weight: np.ndarray[Any, Any]
    fpc: np.ndarray[Any, Any]
    items: tuple[ItemColumn, ...]
    design: DesignInfo | None
    keep: np.ndarray[Any, Any] = field(repr=False, default_factory=lambda: np.zeros(0, dtype=bool))


def _item_columns(versions: tuple[Questionnaire, ...]) -> tuple[ItemColumn, ...]:
    taken = set(DESIGN_COLUMNS)
    out: list[ItemColumn] = []
    for q in versions:
        for question in q.scored_questions:
            base = _NAME_BAD.sub("_", question.id)[:28] or "item"
            if not base[0].isalpha():
                base = "q" + base[:27]
            name, k = base, 2
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            taken.add(name)
            text = question.text.vi + (f" / {question.text.en}" if question.text.en else "")
            out.append(ItemColumn(
                name, item_key(q, question.id), f"{q.key} {question.id}: {text}",
                tuple(o.code for o in question.options),
                tuple(o.label.vi + (f" / {o.label.en}" if o.label.en else "") for o in question.options),
                tuple(None if o.dont_know else o.score for o in question.options),
                tuple(o.code for o in question.options if o.dont_know)))
    return tuple(out)


@dataclass(frozen=True)
class RowDesign:
    """The design of each design row (valid, non-public response), in response id order: the
    one source of ``stratum``, ``psu``, ``weight`` and ``fpc`` for the file export and the
    API's stream (:mod:`survey.services.response_rows`)."""

    response_id: np.ndarray[Any, Any]  # sorted ascending, as load_score_inputs reads them
    stratum: list[str]
    weight: np.ndarray[Any, Any]
    fpc: np.ndarray[Any, Any]
    info: DesignInfo | None


def _design_of(campaign_id: int, inputs: ScoreInputs, spec: DesignSpec) -> RowDesign:
    """:func:`build_design` over ``inputs`` (all the campaign's design rows: weights need
    every row), with the people listed as the strata's N where the design gives none."""
    if inputs.n_rows == 0:
        empty = np.zeros(0)
        return RowDesign(inputs.response_id, [], empty, empty, None)
    listed = listed_sizes(campaign_id)
    db.end_reads()
    design, info = build_design(inputs, spec, listed)
    names = {st.code: st.key for st in info.strata}
    stratum = [names[int(h)] for h in np.asarray(design.column("stratum")).tolist()]
    return RowDesign(inputs.response_id, stratum, np.asarray(design.weights),
                     np.asarray(design.column("fpc"), dtype=np.float64), info)


def _profile(spec: DesignSpec) -> list[str]:
    """The weighting variables the design reads from the answers."""
    return sorted({v for w in spec.weighting.values() for m in w.margins for v in m.variables})


def load_design(campaign_id: int) -> RowDesign:
    """The campaign's design rows without their answers (memory per response, not per
    answer): what the API's row stream joins to the rows it streams."""
    spec = design_spec_for(campaign_id)
    return _design_of(campaign_id, load_score_inputs(campaign_id, _profile(spec), with_answers=False), spec)


def load_microdata(campaign_id: int, filters: ResponseFilter | None = None) -> Microdata:
    """The design of all the campaign's valid responses (weights need every row), then the
    rows ``filters`` keeps."""
    spec = design_spec_for(campaign_id)
    inputs = load_score_inputs(campaign_id, _profile(spec), with_dates=filters is not None
                               and filters.submitted_since is not None)
    items = _item_columns(tuple(v.questionnaire for v in inputs.versions))
    if inputs.n_rows == 0:
        empty = np.zeros(0)
        return Microdata(inputs.campaign_code, inputs, [], empty, empty, items, None, np.zeros(0, dtype=bool))
    rows = _design_of(campaign_id, inputs, spec)
    keep = np.ones(inputs.n_rows, dtype=bool)
    if filters is not None:
        if filters.units:
            keep &= np.isin(inputs.unit.astype(str), list(filters.units))
        if filters.groups:
            keep &= np.isin(inputs.group.astype(str), list(filters.groups))
        if filters.submitted_since is not None and inputs.submitted_on is not None:
            keep &= np.array([d >= filters.submitted_since for d in inputs.submitted_on.tolist()], dtype=bool)
    return Microdata(inputs.campaign_code, inputs, rows.stratum, rows.weight, rows.fpc, items, rows.info, keep)


def iter_microdata_rows(campaign_id: int, filters: ResponseFilter | None = None,
                        values: str = "codes", micro: Microdata | None = None) -> Iterator[dict[str, Any]]:
    """One dict per valid (non-public) response: the design columns, then one value per item
    column (the code as printed, or the option score; None when not answered, and for
    don't-know under ``scores``). Filterable by rated unit, group and submitted-since."""
    if values not in VALUES:
        raise ValueError(f"values must be one of {', '.join(VALUES)}, not {values!r}")
    m = load_microdata(campaign_id, filters) if micro is None else micro
    inp = m.inputs
    key_of = {v.version_id: v.questionnaire.key for v in inp.versions}
    own = {v.version_id: {item_key(v.questionnaire, q.id) for q in v.questionnaire.scored_questions}
           for v in inp.versions}
    columns = [(c, inp.answers[c.key].tolist()) for c in m.items]
    ids, units, levels, groups = inp.response_id.tolist(), inp.unit.tolist(), inp.level.tolist(), inp.group.tolist()
    vids, weights, fpcs = inp.version_id.tolist(), m.weight.tolist(), m.fpc.tolist()
    for i in np.flatnonzero(m.keep).tolist():
        row: dict[str, Any] = {
            "response": ids[i], "stratum": m.stratum[i], "psu": ids[i], "weight": weights[i], "fpc": fpcs[i],
            "group": groups[i], "unit": units[i], "unit_level": levels[i], "questionnaire": key_of[vids[i]],
        }
        mine = own[vids[i]]
        for col, codes in columns:
            position = codes[i] if col.key in mine else 0
            if position == 0:
                row[col.name] = None
            elif values == "codes":
                row[col.name] = col.codes[position - 1]
            else:
                row[col.name] = col.scores[position - 1]
        yield row


def _value_for_file(col: ItemColumn, value: Any, fmt: str, values: str) -> Any:
    """A cell as the format stores it (see the module notes for Stata's letter codes)."""
    if value is None or values == "scores":
        return value
    if fmt == "dta":
        if value in col.dont_know:
            return "a"  # Stata extended missing .a
        return float(value) if col.numeric_codes else float(col.codes.index(value) + 1)
    if fmt == "sav" and col.numeric_codes:
        return float(value)
    return value


def export_responses(campaign_id: int, fmt: str, path: str | Path, values: str = "codes",
                     filters: ResponseFilter | None = None) -> Path:
    """Write the microdata as csv, xlsx, sav or dta (see the module notes); return the path."""
    if fmt not in MICRODATA_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(MICRODATA_FORMATS)}")
    path = Path(path)
    m = load_microdata(campaign_id, filters)
    rows = list(iter_microdata_rows(campaign_id, filters, values, m))
    names = [*DESIGN_COLUMNS, *(c.name for c in m.items)]
    labels = {**_DESIGN_LABELS, **{c.name: c.label for c in m.items}}
    if fmt == "csv":
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(safe_row(names))
        for r in rows:
            # numbers are formatted after escaping: safe_cell only touches text
            w.writerow(["" if v is None else f"{v:.15g}" if isinstance(v, float) else v
                        for v in safe_row(r[n] for n in names)])
        path.write_bytes(buf.getvalue().encode("utf-8-sig"))
        return path
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "responses"
        ws.append(safe_row(names))
        for r in rows:
            ws.append(safe_row(r[n] for n in names))
        book = wb.create_sheet("codebook")
        book.append(["variable", "label", "code", "value label", "missing"])
        for n in DESIGN_COLUMNS:
            book.append([n, labels[n], None, None, None])
        for c in m.items:
            for code, text in zip(c.codes, c.labels, strict=True):
                book.append(safe_row([c.name, c.label, code, text,
                                      "don't know" if code in c.dont_know else None]))
        wb.save(str(path))
        return path
    import pandas as pd
    import pyreadstat

    data: dict[str, list[Any]] = {n: [] for n in names}
    for r in rows:
        for n in DESIGN_COLUMNS:
            data[n].append(r[n])
        for c in m.items:
            data[c.name].append(_value_for_file(c, r[c.name], fmt, values))
    frame = pd.DataFrame(data, columns=names)
    for n in ("response", "psu", "weight", "fpc"):
        frame[n] = frame[n].astype(float)
    value_labels: dict[str, dict[Any, str]] = {}
    missing: dict[str, list[Any]] = {}
    if values == "codes":
        for c in m.items:
            if fmt == "sav":
                keys: list[Any] = [float(x) if c.numeric_codes else x for x in c.codes]
                value_labels[c.name] = {k: safe_cell(t)[:120] for k, t in zip(keys, c.labels, strict=True)}
                if c.dont_know:
                    missing[c.name] = [float(x) if c.numeric_codes else x for x in c.dont_know]
            else:
                value_labels[c.name] = {
                    (float(code) if c.numeric_codes else float(k + 1)):
                        safe_cell(f"{code}. {text}" if not c.numeric_codes else text)[:80]
                    for k, (code, text) in enumerate(zip(c.codes, c.labels, strict=True)) if code not in c.dont_know}
                if c.dont_know:
                    missing[c.name] = ["a"]
    else:
        for c in m.items:
            frame[c.name] = frame[c.name].astype(float)
    column_labels: list[str | None] = [safe_cell(labels[n]) for n in names]
    label = f"PAR survey {m.campaign_code} ({values})"
    if fmt == "sav":
        pyreadstat.write_sav(frame, str(path), file_label=label, column_labels=column_labels,
                             variable_value_labels=value_labels, missing_ranges=missing or None)
    else:
        for c in m.items:  # Stata: numbers, with .a in an object column where don't-know
            if values == "codes" and not c.dont_know:
                frame[c.name] = frame[c.name].astype(float)
        pyreadstat.write_dta(frame, str(path), file_label=label[:80],
                             column_labels=[(t or "")[:80] for t in column_labels],
                             variable_value_labels=value_labels, missing_user_values=missing or None)
    return path

