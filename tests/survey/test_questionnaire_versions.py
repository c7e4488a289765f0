"""Published questionnaire versions are immutable; responses record version and hash."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from questionnaires import build_questionnaire, load_builtin, load_builtin_by_id
from survey import db
from survey.models import QuestionnaireVersion
from survey.services.questionnaires import (
    VersionConflict,
    publish_builtin_questionnaires,
    publish_questionnaire,
)


def test_republishing_identical_content_is_a_no_op(app):
    with app.app_context():
        first = publish_builtin_questionnaires()
        second = publish_builtin_questionnaires()
        assert {k: v.id for k, v in first.items()} == {k: v.id for k, v in second.items()}
        count = db.session().scalar(select(func.count()).select_from(QuestionnaireVersion))
        # every built-in version is published; ``first`` has the latest of each id
        assert count == len(load_builtin())


def test_changed_content_under_a_published_version_is_refused(app):
    original = load_builtin_by_id("citizen-sipas")
    doc = dict(original.document)
    doc["title"] = {"vi": "Tiêu đề đã bị sửa", "en": "A changed title"}
    changed = build_questionnaire(doc)
    assert changed.key == original.key and changed.content_hash != original.content_hash
    with app.app_context():
        publish_questionnaire(original)
        with pytest.raises(VersionConflict, match="version 2"):
            publish_questionnaire(changed)
        bumped = build_questionnaire({**doc, "version": 2})
        row = publish_questionnaire(dataclasses.replace(bumped))
        assert (row.qid, row.version) == ("citizen-sipas", 2)
