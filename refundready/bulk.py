"""Bulk writes, one interface over both databases (issue #21 item 4): ``copy_rows`` appends rows to a table,
``upsert`` inserts rows or updates the ones whose key is already there.

PostgreSQL takes rows by COPY (tens of times faster than INSERTs); SQLite by multi-row INSERTs, in batches
under its bound-variable limit. The callers (ES-003 ingestion's staging, classification's writers) say what
they write, never how each database takes it.

Rows come in one of three shapes:

* tuples of Python values (``rows``): both databases;
* lines already rendered in COPY's text format (``text``): PostgreSQL only, for writers that render faster
  than psycopg would (cape.classify renders a million classifications);
* an Arrow table (``copy_arrow``): PostgreSQL as COPY CSV; SQLite row by row from its columns.

psycopg raises its own errors from a COPY on the raw cursor: every COPY here runs inside Django's error
wrapping, so a cut connection is the OperationalError a job retries (tests/reliability/test_database_faults.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
from django.db import connection

SQLITE_MAX_VARIABLES = 30_000  # under SQLite's bound-variable limit (32,766 since 3.32)
SQLITE_ROWS_PER_INSERT = 500
COPY_CSV_PIECE = 5_000  # rows of an Arrow table rendered to CSV at a time


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _columns(columns: Sequence[str]) -> str:
    return ", ".join(columns)


@contextlib.contextmanager
def copier(cursor: Any, table: str, columns: Sequence[str], *, fmt: str = "rows", writer: Any = None
           ) -> Iterator[Callable[[Any], None]]:
    """A function that appends one row to ``table`` (``fmt="rows"``: a tuple), or a block of COPY text or CSV
    (``fmt="text"`` or ``"csv"``, PostgreSQL only), for as long as the context is open.

    PostgreSQL: one COPY for the whole context (``writer``: psycopg's, e.g. a QueuedLibpqWriter that sends
    while the caller reads on). SQLite: rows gathered and inserted a batch at a time; the last at the end.
    The function must not be called with the database busy elsewhere on this connection (a COPY holds it)."""
    if is_postgresql():
        option = " (FORMAT csv)" if fmt == "csv" else ""
        with connection.wrap_database_errors, cursor.cursor.copy(
            f"COPY {table} ({_columns(columns)}) FROM STDIN{option}", **({"writer": writer} if writer else {})
        ) as copy:
            yield copy.write_row if fmt == "rows" else copy.write
        return
    if fmt != "rows":
        raise ValueError(f"SQLite takes rows as tuples, not {fmt!r}")
    batch: list[tuple[Any, ...]] = []
    per = max(1, min(SQLITE_ROWS_PER_INSERT, SQLITE_MAX_VARIABLES // len(columns)))

    def write(row: Any) -> None:
        batch.append(row)
        if len(batch) >= per:
            _sqlite_insert(cursor, table, columns, batch)
            batch.clear()

    yield write
    _sqlite_insert(cursor, table, columns, batch)


def copy_rows(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Any], *, text: bool = False) -> int:
    """Append ``rows`` (tuples; or, with ``text``, lines in COPY's text format, PostgreSQL only) to ``table``.
    Returns the number of rows."""
    if text:
        lines = list(rows)
        if lines:
            with copier(cursor, table, columns, fmt="text") as write:
                write("\n".join(lines) + "\n")
        return len(lines)
    n = 0
    with copier(cursor, table, columns) as write:
        for row in rows:
            write(row)
            n += 1
    return n


def copy_arrow(cursor: Any, table: str, tbl: Any, *, columns: Sequence[str] | None = None, writer: Any = None,
               on_piece: Callable[[int], None] | None = None, piece: int = COPY_CSV_PIECE) -> int:
    """Append the rows of an Arrow table (its ``columns``, in that order; all of them by default) to ``table``,
    ``piece`` rows at a time, calling ``on_piece(rows)`` after each piece. Returns the number of rows."""
    cols = list(columns or tbl.column_names)
    tbl = tbl.select(cols)
    if is_postgresql():
        with copier(cursor, table, cols, fmt="csv", writer=writer) as write:
            write_arrow_csv(write, tbl, on_piece=on_piece, piece=piece)
        return int(tbl.num_rows)
    with copier(cursor, table, cols) as write:
        for start in range(0, tbl.num_rows, piece):
            part = tbl.slice(start, piece)
            for row in zip(*(c.to_pylist() for c in part.columns), strict=True):
                write(row)
            if on_piece is not None:
                on_piece(part.num_rows)
    return int(tbl.num_rows)


_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="needed")  # strings quoted, NULL as an empty field


def write_arrow_csv(write: Callable[[bytes], None], tbl: Any, *, on_piece: Callable[[int], None] | None = None,
                    piece: int = COPY_CSV_PIECE) -> None:
    """Render an Arrow table as CSV into an open COPY (``copier(..., fmt="csv")``), a piece at a time, calling
    ``on_piece(rows)`` after each."""
    for start in range(0, tbl.num_rows, piece):
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(tbl.slice(start, piece), sink, write_options=_CSV_OPTIONS)
        write(sink.getvalue().to_pybytes())
        if on_piece is not None:
            on_piece(min(piece, tbl.num_rows - start))


def upsert(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Any], *, key: str, text: bool = False) -> int:
    """Insert ``rows`` into ``table``, or update every other column of the row whose ``key`` is already there.

    PostgreSQL: COPY into a session-local staging table shaped like ``table`` (no constraints, no indexes),
    then one set-based INSERT … SELECT … ON CONFLICT DO UPDATE (row-by-row upserts ran at ~2,000 rows/s; this
    is bounded by COPY). SQLite: multi-row INSERT … ON CONFLICT DO UPDATE (SQLite ≥ 3.24)."""
    rows = list(rows)
    if not rows:
        return 0
    qn = connection.ops.quote_name
    cols = _columns([qn(c) for c in columns])
    sets = ", ".join(f"{qn(c)} = EXCLUDED.{qn(c)}" for c in columns if c != key)
    conflict = f"ON CONFLICT ({qn(key)}) DO UPDATE SET {sets}"
    if is_postgresql():
        stage = f"_stage_{table}"
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {cols} FROM {qn(table)} WITH NO DATA")
        cursor.execute(f"TRUNCATE {stage}")
        copy_rows(cursor, stage, [qn(c) for c in columns], rows, text=text)
        cursor.execute(f"INSERT INTO {qn(table)} ({cols}) SELECT {cols} FROM {stage} {conflict}")
        cursor.execute(f"TRUNCATE {stage}")
        return len(rows)
    if text:
        raise ValueError("SQLite takes rows as tuples, not COPY text")
    _sqlite_insert(cursor, qn(table), [qn(c) for c in columns], rows, conflict=conflict)
    return len(rows)


def _sqlite_insert(cursor: Any, table: str, columns: Sequence[str], rows: Sequence[Any], *, conflict: str = "") -> None:
    if not rows:
        return
    cols = _columns(columns)
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per = max(1, min(SQLITE_ROWS_PER_INSERT, SQLITE_MAX_VARIABLES // len(columns)))
    for i in range(0, len(rows), per):
        batch = rows[i : i + per]
        cursor.execute(f"INSERT INTO {table} ({cols}) VALUES {', '.join([row_sql] * len(batch))} {conflict}",
                       [v for row in batch for v in row])
