"""Publishing questionnaire versions and reading them back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, literal, select, tuple_

from questionnaires import Questionnaire, build_questionnaire, load_builtin
from questionnaires.xlsform import Sheet, XLSFormInvalid, questionnaire_from_sheets, sheet_problem
from sampling.tabular import TableLimits, TableReadError, read_workbook
from questionnaires.problems import ProblemError
from survey import db
from survey.models import QuestionnaireVersion, Response
from survey.services.audit import record_audit


class VersionConflict(ProblemError, ValueError):
    """A published (id, version) was given with different content."""


def publish_questionnaire(q: Questionnaire) -> QuestionnaireVersion:
    """Store ``q`` as published, or return the stored row if identical.

    Published versions are immutable: the same id and version with another content hash is
    refused; the author must publish a new version.
    """
    s = db.session()
    row = s.scalar(select(QuestionnaireVersion).filter_by(qid=q.id, version=q.version))
    if row is not None:
        if row.content_hash != q.content_hash:
            raise VersionConflict("PUBLISH-CONFLICT", key=q.key, stored=row.content_hash[:12],
                                  hash=q.content_hash[:12], next=q.version + 1)
        return row
    with db.write_transaction() as s:
        row = QuestionnaireVersion(qid=q.id, version=q.version, group_code=q.group,
                                   content_hash=q.content_hash, document=dict(q.document))
        s.add(row)
    return row


def publish_builtin_questionnaires() -> dict[str, QuestionnaireVersion]:
    """Publish every built-in definition; return the rows by questionnaire id (latest version)."""
    rows: dict[str, QuestionnaireVersion] = {}
    for q in sorted(load_builtin(), key=lambda q: (q.id, q.version)):
        rows[q.id] = publish_questionnaire(q)
    return rows


_CACHE: dict[tuple[int, str], Questionnaire] = {}


def questionnaire_for(row: QuestionnaireVersion) -> Questionnaire:
    """The questionnaire of a published row, parsed once per process (rows never change)."""
    key = (row.id, row.content_hash)
    if key not in _CACHE:
        _CACHE[key] = build_questionnaire(row.document, f"db:{row.qid}@v{row.version}")
    return _CACHE[key]


def questionnaire_by_version(version_id: int, content_hash: str) -> Questionnaire:
    """The questionnaire of a published version by id and hash; its stored document is read
    only the first time in a process (the pages' hot path never loads it again)."""
    cached = _CACHE.get((version_id, content_hash))
    if cached is not None:
        return cached
    row = db.session().get(QuestionnaireVersion, version_id)
    if row is None:
        raise LookupError(f"questionnaire version {version_id} does not exist")
    return questionnaire_for(row)


#: An XLSForm is a few hundred rows; these limits refuse anything far larger before parsing.
XLSFORM_LIMITS = TableLimits(max_bytes=5 * 1024 * 1024, max_rows=5_000)


def read_xlsform(source: Path | bytes, filename: str = "") -> Questionnaire:
    """The questionnaire of an XLSForm workbook, read with the list uploads' guards (size,
    zip and XML bombs, row count); raise :class:`XLSFormInvalid` with located problems."""
    name = filename or (str(source) if isinstance(source, Path) else "<workbook>")
    try:
        tables = read_workbook(source, limits=XLSFORM_LIMITS)
    except TableReadError as exc:
        raise XLSFormInvalid([sheet_problem("XLS-FILE", name, f"{exc.problem.value}: "
                                            f"{exc.detail}"[:300])]) from None
    sheets = {title: Sheet(title, t.header, t.rows, t.header_row) for title, t in tables.items()}
    return questionnaire_from_sheets(sheets, name)


def publish_uploaded_questionnaire(q: Questionnaire, filename: str) -> QuestionnaireVersion:
    """Publish an uploaded (previewed) questionnaire as a new version, audited in the same
    transaction.

    A version already published is never replaced: the same content is refused as already
    published, other content as a conflict naming the next free version number
    (:class:`VersionConflict` in both cases).
    """
    with db.write_transaction() as s:
        row = s.scalar(select(QuestionnaireVersion).filter_by(qid=q.id, version=q.version))
        if row is not None:
            if row.content_hash == q.content_hash:
                raise VersionConflict("PUBLISH-SAME", key=q.key)
            latest = s.scalar(select(func.max(QuestionnaireVersion.version)).filter_by(qid=q.id))
            raise VersionConflict("PUBLISH-CHANGED", key=q.key, next=(latest or 0) + 1)
        row = QuestionnaireVersion(qid=q.id, version=q.version, group_code=q.group,
                                   content_hash=q.content_hash, document=dict(q.document))
        s.add(row)
        record_audit("questionnaire.publish", object_type="questionnaire", object_id=q.key,
                     detail={"content_hash": q.content_hash, "file": Path(filename).name,
                             "source": "xlsform"})
    return row


def response_versions(campaign_id: int) -> list[int]:
    """The questionnaire versions the campaign's responses use, by a loose index scan of
    ``ix_responses_quota`` (campaign, group, version, ...): one short query per distinct
    (group, version), each the next pair after the last, instead of reading every response
    (a million responses took seconds; a handful of pairs take milliseconds)."""
    s = db.session()
    pair = tuple_(Response.group_id, Response.questionnaire_version_id)
    found: list[int] = []
    after: tuple[int, int] | None = None
    while True:
        q = select(Response.group_id, Response.questionnaire_version_id).where(Response.campaign_id == campaign_id)
        if after is not None:
            q = q.where(pair > tuple_(literal(after[0]), literal(after[1])))
        row = s.execute(q.order_by(Response.group_id, Response.questionnaire_version_id).limit(1)).first()
        if row is None:
            return sorted(set(found))
        after = (int(row[0]), int(row[1]))
        found.append(after[1])
