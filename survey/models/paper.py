"""Paper data entry: the answers one clerk keyed from one paper form (identity side).

With double entry a form gets two entries by two different clerks, keyed blind; the form is
submitted (through the normal submit path) once both agree. Entries are deleted when the
form is submitted, like drafts, so no submitted answer stays beside a form id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, SmallInteger, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from survey.db import Base
from survey.models.types import UTCDateTime, utcnow


class PaperEntry(Base):
    __tablename__ = "paper_entries"
    __table_args__ = (UniqueConstraint("form_id", "entry_no"),
                      UniqueConstraint("form_id", "clerk_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    entry_no: Mapped[int] = mapped_column(SmallInteger)  # 1 or 2
    clerk_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    double: Mapped[bool] = mapped_column(Boolean, default=True)
    # assignment id (as text) -> question id -> value, as keyed (hidden answers dropped)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
