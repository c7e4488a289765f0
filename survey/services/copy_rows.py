"""Read many fixed-width rows from PostgreSQL with binary ``COPY``, straight into numpy.

The scores and the microdata read every valid response of a campaign: a million rows of a
few integers and a short byte string (the packed item codes). Through the driver each row
becomes a Python tuple of Python objects. Even a ``COPY`` costs the client about two
microseconds a row: PostgreSQL sends each row as its own message, and psycopg hands each
message over through a Python generator. So the server packs the rows itself: the query's
rows are grouped in batches of :data:`BATCH_ROWS` consecutive keys (the first column, the
response id), and each batch comes as one ``COPY`` row of two fields, its row count and one
``bytea`` with its rows laid end to end (``string_agg`` of each row's fields in PostgreSQL's
binary send format: ``int4send``, ``int2send``, days since 2000-01-01 for a date, and a byte
string after its 32-bit length). A million responses arrive as about 120 messages; the rows
of all batches make one numpy structured array.

Every check the per-row stream had is kept: a batch's bytes must be its count times the row
size, and each byte string's length must be its field's width (a NULL column would drop its
row from ``string_agg``: the count catches it). A stream that does not match is refused,
never misread. Rows within a batch come in no particular order: callers sort by the key.

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


#: rows per batch: consecutive keys (``key // BATCH_ROWS``) packed into one ``COPY`` row
BATCH_ROWS = 8192


def _sent(f: Field, column: str) -> str:
    """SQL for one field of a row in the packed layout (see the module docstring)."""
    if f.kind == "int4":
        return f"int4send({column})"
    if f.kind == "int2":
        return f"int2send({column})"
    if f.kind == "date":
        return f"int4send({column} - DATE '2000-01-01')"
    return f"int4send(octet_length({column})) || {column}"


def read(s: Session, query: Any, fields: Sequence[Field]) -> dict[str, NDArray[Any]]:
    """Run ``query`` (a SQLAlchemy select whose columns are ``fields``, in order, none NULL;
    the first an ``int4`` key such as the response id) as a binary COPY of packed batches in
    ``s``'s transaction; each field's values as a numpy array, rows in no particular order.

    ``int4``/``int2`` come back as int64, ``date`` as ``datetime64[D]``, ``bytes`` as a
    ``(rows, width)`` uint8 matrix. Raises :class:`CopyMismatch` when a batch's size or a
    field's length is not the expected one.
    """
    if not fields or fields[0].kind != "int4":
        raise ValueError("the first field must be the int4 key that batches the rows")
    sql = str(query.compile(dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True}))
    names = [f"c{k}" for k in range(len(fields))]
    row = " || ".join(_sent(f, name) for f, name in zip(fields, names, strict=True))
    packed = (f"SELECT count(*)::int4, string_agg({row}, ''::bytea) FROM ({sql}) AS q({', '.join(names)}) "
              f"GROUP BY q.c0 / {BATCH_ROWS}")
    raw: Any = s.connection().connection.driver_connection  # psycopg.Connection (see available)
    with raw.cursor() as cur:
        # one pass over the rows: compiling it to machine code (JIT) costs more than it saves
        cur.execute("SET LOCAL jit = off")
        with cur.copy(f"COPY ({packed}) TO STDOUT WITH (FORMAT binary)") as copy:
            data = b"".join(copy)  # the blocks as psycopg gives them, copied once
    return parse(data, fields)


def _row_dtype(fields: Sequence[Field]) -> Any:
    layout: list[tuple[str, Any]] = []
    for f in fields:
        if f.kind == "bytes":
            layout.append((f"_len_{f.name}", ">i4"))
        layout.append((f.name, f.dtype()))
    return np.dtype(layout)


def parse(data: bytes, fields: Sequence[Field]) -> dict[str, NDArray[Any]]:
    """The fields of a binary COPY stream of packed batches (see :func:`read`)."""
    if data[: len(_SIGNATURE)] != _SIGNATURE:
        raise CopyMismatch("not a PostgreSQL binary COPY stream")
    if data[-2:] != b"\xff\xff":
        raise CopyMismatch("binary COPY stream without its trailer")
    dtype = _row_dtype(fields)
    view = memoryview(data)
    at = _HEADER + int.from_bytes(data[len(_SIGNATURE) + 4:_HEADER], "big")
    end = len(data) - 2
    batches: list[memoryview] = []
    while at < end:  # per batch: int16 2, int32 4, int32 count, int32 length, the rows
        head = data[at:at + 14]
        if len(head) < 14 or head[:6] != b"\x00\x02\x00\x00\x00\x04":
            raise CopyMismatch("a batch without its row count and rows")
        count = int.from_bytes(head[6:10], "big", signed=True)
        size = int.from_bytes(head[10:14], "big", signed=True)
        if size != count * dtype.itemsize or at + 14 + size > end:
            raise CopyMismatch(f"a batch of {count} rows is {size} bytes, not {count} x {dtype.itemsize}")
        batches.append(view[at + 14:at + 14 + size])
        at += 14 + size
    rows = np.frombuffer(b"".join(batches), dtype=dtype)
    out: dict[str, NDArray[Any]] = {}
    for f in fields:
        column = rows[f.name]
        if f.kind == "bytes":
            if rows.size and (rows[f"_len_{f.name}"] != f.width).any():
                raise CopyMismatch(f"column {f.name}: values not {f.width} bytes long")
            out[f.name] = np.ascontiguousarray(column, dtype=np.uint8).reshape(rows.size, f.width)
        elif f.kind == "date":
            out[f.name] = (column.astype(np.int64) + _PG_EPOCH_DAYS).astype("datetime64[D]")
        else:
            out[f.name] = column.astype(np.int64)
    return out
