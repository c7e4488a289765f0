"""Read many fixed-width rows from PostgreSQL with binary ``COPY``, straight into numpy.

The scores and the microdata read every valid response of a campaign: a million rows of a
few integers and a short byte string (the packed item codes). Through the driver each row
becomes a Python tuple of Python objects; with ``COPY ... TO STDOUT (FORMAT binary)`` of
columns that all have a fixed width and no NULL, every row has the same number of bytes, so
the whole stream is one numpy structured array (PostgreSQL's binary format: a 19-byte
header, per row a 16-bit field count then each field's 32-bit length and its bytes, a 16-bit
-1 at the end). The lengths are checked against the expected widths: a stream that does not
match is refused, never misread.

Used only where the session's driver is psycopg on PostgreSQL (:func:`available`); other
databases read through the driver as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = len(_SIGNATURE) + 8  # signature, flags (int32), header extension length (int32, 0)
#: days from 1970-01-01 to PostgreSQL's date epoch, 2000-01-01
_PG_EPOCH_DAYS = 10957


@dataclass(frozen=True)
class Field:
    """One selected column: ``kind`` is ``int4``, ``int2``, ``date`` or ``bytes`` (``width`` bytes)."""

    name: str
    kind: str
    width: int = 0

    @property
    def size(self) -> int:
        return {"int4": 4, "int2": 2, "date": 4}.get(self.kind, self.width)

    def dtype(self) -> Any:
        if self.kind == "bytes":
            return (np.uint8, (self.width,)) if self.width else (np.uint8, (0,))
        return {"int4": ">i4", "int2": ">i2", "date": ">i4"}[self.kind]


class CopyMismatch(ValueError):
    """The COPY stream does not have the fixed row layout it was read with."""


def available(s: Session) -> bool:
    """True when ``s`` talks to PostgreSQL through psycopg (3), which can ``COPY``."""
    bind = s.get_bind()
    return bind.dialect.name == "postgresql" and bind.dialect.driver == "psycopg"


def read(s: Session, query: Any, fields: Sequence[Field]) -> dict[str, NDArray[Any]]:
    """Run ``query`` (a SQLAlchemy select whose columns are ``fields``, in order, none NULL)
    as a binary COPY in ``s``'s transaction; each field's values as a numpy array.

    ``int4``/``int2`` come back as int64, ``date`` as ``datetime64[D]``, ``bytes`` as a
    ``(rows, width)`` uint8 matrix. Raises :class:`CopyMismatch` when a row's field count or
    a field's length is not the expected one.
    """
    sql = str(query.compile(dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True}))
    raw: Any = s.connection().connection.driver_connection  # psycopg.Connection (see available)
    with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT binary)") as copy:
        data = b"".join(copy)  # the blocks as psycopg gives them, copied once
    return parse(data, fields)


def parse(data: bytes, fields: Sequence[Field]) -> dict[str, NDArray[Any]]:
    """The fields of a binary COPY stream of fixed-width rows (see :func:`read`)."""
    if data[: len(_SIGNATURE)] != _SIGNATURE:
        raise CopyMismatch("not a PostgreSQL binary COPY stream")
    extension = int.from_bytes(data[len(_SIGNATURE) + 4:_HEADER], "big")
    start = _HEADER + extension
    body = memoryview(data)[start:len(data) - 2]  # the trailer: int16 -1
    if data[-2:] != b"\xff\xff":
        raise CopyMismatch("binary COPY stream without its trailer")
    layout: list[tuple[str, Any]] = [("_count", ">i2")]
    for f in fields:
        layout += [(f"_len_{f.name}", ">i4"), (f.name, f.dtype())]
    dtype = np.dtype(layout)
    if len(body) % dtype.itemsize:
        raise CopyMismatch(f"{len(body)} bytes of rows are not a whole number of {dtype.itemsize}-byte rows")
    rows = np.frombuffer(body, dtype=dtype)
    if rows.size and (rows["_count"] != len(fields)).any():
        raise CopyMismatch(f"rows without {len(fields)} fields")
    out: dict[str, NDArray[Any]] = {}
    for f in fields:
        if rows.size and (rows[f"_len_{f.name}"] != f.size).any():
            raise CopyMismatch(f"column {f.name}: values not {f.size} bytes long (or NULL)")
        column = rows[f.name]
        if f.kind == "bytes":
            out[f.name] = np.ascontiguousarray(column, dtype=np.uint8).reshape(rows.size, f.width)
        elif f.kind == "date":
            out[f.name] = (column.astype(np.int64) + _PG_EPOCH_DAYS).astype("datetime64[D]")
        else:
            out[f.name] = column.astype(np.int64)
    return out
