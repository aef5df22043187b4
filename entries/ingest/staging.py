"""Staging tables and the set-based merge of an ES-003 load into the shared entries (SQL; issue #21 item 4).

``Stage`` owns a load's temporary tables on the current connection, fills them through the bulk interface
(``refundready.bulk``: COPY on PostgreSQL, multi-row INSERTs on SQLite) and merges them into
``entries_entry`` and ``entries_tariffline`` in the caller's transaction. What a report may change in a stored
entry or line is the two named tables below, not a decision inside the SQL.

PostgreSQL writes the lines of entries not yet stored straight into ``entries_tariffline`` under ids the
parser reserved (``load_lines_direct``, ``load_fast``); everything else goes through the staging tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from accounts.models import Organization
from accounts.selectors import importers_for
from entries.ingest.parser import STAGE_ENTRY_COLUMNS, STAGE_LINE_COLUMNS, TARIFFLINE_COLUMNS
from entries.models import Entry, TariffLine, Upload
from entries.recovery import merge_lock_key
from refundready import bulk
from refundready.jobs import ProgressChannel, ProgressTicker, SideConnection

logger = logging.getLogger(__name__)

STAGE_CHUNK_ROWS = 50_000  # lines per staging COPY/INSERT batch between two progress writes
CHANGES_LISTED = 500  # entries or lines listed by name in an upload's "what changed" summary

# ----------------------------------------------------------------------------- what a report updates
# A stored entry takes these columns from every report that carries it ...
ENTRY_COLUMNS_ALWAYS_UPDATED = ("importer_id", "entry_type", "filer_code")
# ... and these only from a report that has the column (report field -> entry columns): ES-003 reports differ
# in their columns (the liquidation and protest columns must be added to the report in ACE by hand), and a
# column the file lacks must not blank what an earlier report set.
ENTRY_COLUMNS_UPDATED_WHEN_PRESENT: dict[str, tuple[str, ...]] = {
    "entry_date": ("entry_date",),
    "entry_summary_date": ("entry_summary_date",),
    "port_code": ("port_code",),
    "filer_name": ("filer_name",),
    "liquidation_date": ("liquidation_date",),
    "recon_flag": ("recon_flag",),
    "psc_flag": ("psc_flag",),
    "protest_number": ("protest_number", "protest_status"),  # a number without a status column: status follows it
    "importation_date": ("importation_date",),
    "liquidation_reason_code": ("liquidation_reason_code",),
    "liquidation_status": ("liquidation_status", "liquidation_status_raw"),
    "protest_status": ("protest_status",),
}
# Columns a person may set on the entry page; once set (entries_entry.protest_set_by_user), a report no longer
# changes them (ruleset 2026.12, rules.md "Inputs").
ENTRY_COLUMNS_KEPT_WHEN_SET_BY_USER = frozenset({"protest_status", "protest_number"})
# A stored tariff line (entry, line, ordinal) takes these from every report ...
LINE_COLUMNS_ALWAYS_UPDATED = ("hts", "duty", "is_ieepa")
# ... and these only from a report that has the column.
LINE_COLUMNS_UPDATED_WHEN_PRESENT = ("goods_value", "country_of_origin", "country_of_export", "spi_code",
                                     "manufacturer_id", "quantity", "uom")


def entry_update_columns(present: set[str], *, has_liquidation_columns: bool) -> list[str]:
    """The entry columns a report with the fields ``present`` updates in a stored entry (tables above)."""
    columns = list(ENTRY_COLUMNS_ALWAYS_UPDATED)
    for fld, cols in ENTRY_COLUMNS_UPDATED_WHEN_PRESENT.items():
        if fld in present:
            columns += [c for c in cols if c not in columns]
    if has_liquidation_columns:
        columns.append("has_liquidation_columns")
    return columns


def line_update_columns(present: set[str]) -> list[str]:
    """The tariff line columns a report with the fields ``present`` updates in a stored line (tables above)."""
    return [*LINE_COLUMNS_ALWAYS_UPDATED, *(c for c in LINE_COLUMNS_UPDATED_WHEN_PRESENT if c in present)]


_LINE_TYPES = (pa.int64(), pa.int64(), pa.string(), pa.string(), pa.string(), pa.string(), pa.bool_(), pa.string(),
               pa.string(), pa.string(), pa.string(), pa.string())  # STAGE_LINE_COLUMNS[1:]


def _lines_table(lines: list[tuple[Any, ...]], key: str) -> pa.Table | None:
    """Line tuples from Es003Parser.feed as an Arrow table (key: "entry_id" or "entry_number")."""
    if not lines:
        return None
    columns = list(zip(*lines, strict=True))
    key_type = pa.int64() if key == "entry_id" else pa.string()
    return pa.table({key: pa.array(columns[0], key_type),
                     **{c: pa.array(v, t) for c, v, t in zip(STAGE_LINE_COLUMNS[1:], columns[1:], _LINE_TYPES, strict=True)}})


ID_BLOCK = 10_000  # entry ids reserved at a time


class LoadConnection(SideConnection):
    """PostgreSQL: the upload's progress channel (refundready.jobs), a second connection for what must not
    wait for the load's transaction to commit: progress (so the upload page can poll it) and entry ids
    (sequences are not transactional anyway; ids reserved by a load that then fails are simply never used)."""

    def __init__(self) -> None:
        super().__init__()
        self._ids: list[int] = []
        self._sequence = ""

    def _cursor(self) -> Any:
        return self.cursor()

    def next_id(self) -> int:
        if not self._ids:
            with self._cursor() as cur:
                if not self._sequence:
                    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Entry._meta.db_table])
                    self._sequence = cur.fetchone()[0]
                cur.execute("SELECT nextval(%s) FROM generate_series(1, %s) ORDER BY 1 DESC", [self._sequence, ID_BLOCK])
                self._ids = [r[0] for r in cur.fetchall()]  # pop() hands them out in ascending order
        return self._ids.pop()

    def progress(self, upload_id: int, rows_read: int) -> None:
        ProgressChannel(Upload._meta.db_table, upload_id, separate="always", side=self).write(rows_read=rows_read)


class EntryIds:
    """PostgreSQL: the key each line is written under while the file is read. A line of an entry already stored
    for one of the importers the organisation loads is keyed by its entry number (staged, then merged); a line of
    a new entry by the row id reserved for that entry on the load's second connection, so that it is COPYed
    straight into entries_tariffline. An entry number stored for another importer counts as new here and is
    refused by the merge (Stage._refuse_other_importers)."""

    def __init__(self, side: LoadConnection, organization: Organization) -> None:
        self.side = side
        self.existing: set[str] = set(
            Entry.objects.filter(importer__in=importers_for(organization)).values_list("entry_number", flat=True))
        self.reserved: dict[str, int] = {}  # entry number -> row id reserved for an entry not yet stored

    def key(self, number: str) -> int | str:
        if number in self.existing:
            return number
        entry_id = self.reserved.get(number)
        if entry_id is None:
            entry_id = self.reserved[number] = self.side.next_id()
        return entry_id


class Stage:
    """Temporary staging tables on the current connection, and the set-based merge out of them.

    Tables: ``se`` (one row per good entry, with the duty sums of its staged lines), ``sl`` (lines),
    ``ids`` (entry number → id for every good entry after the merge, and whether this upload created
    it; except entries stored under their reserved ids, which ``se.entry_id`` lists), ``touched``
    (existing entries whose row or lines this upload changed).
    """

    def __init__(self, token: str) -> None:
        self.pg = connection.vendor == "postgresql"
        self.se = f"es003_se_{token}"
        self.sl = f"es003_sl_{token}"
        self.ids = f"es003_ids_{token}"
        self.touched = f"es003_touched_{token}"
        self.gone = f"es003_gone_{token}"

    def create(self) -> None:
        date_t, bool_t, money_t, qty_t = ("date", "boolean", "numeric(16,2)", "numeric(18,4)") if self.pg else ("text", "integer", "text", "text")
        with connection.cursor() as cur:
            self.drop(cur)
            cur.execute(
                f"CREATE TEMPORARY TABLE {self.se} (entry_number varchar(11) PRIMARY KEY, importer_ir varchar(16), "
                f"importer_name text, entry_type varchar(2), entry_date {date_t}, entry_summary_date {date_t}, "
                f"port_code varchar(8), filer_code varchar(3), filer_name varchar(200), liquidation_status varchar(16), "
                f"liquidation_status_raw varchar(60), liquidation_date {date_t}, recon_flag {bool_t}, psc_flag {bool_t}, "
                f"protest_number varchar(40), protest_status varchar(16), importation_date {date_t}, "
                f"liquidation_reason_code integer, ieepa_duty {money_t}, "
                f"total_duty {money_t}, entry_id bigint)"  # the row id reserved for an entry not yet stored (PostgreSQL)
            )
            # No index, no constraint: COPY appends as fast as the server can take it.
            cur.execute(
                f"CREATE TEMPORARY TABLE {self.sl} (entry_number varchar(11), line_number integer, ordinal integer, "
                f"hts varchar(10), goods_value {money_t}, duty {money_t}, country_of_origin varchar(2), is_ieepa {bool_t}, "
                f"country_of_export varchar(2), spi_code varchar(3), manufacturer_id varchar(15), quantity {qty_t}, uom varchar(4))"
            )
            cur.execute(f"CREATE TEMPORARY TABLE {self.ids} (entry_number varchar(11) PRIMARY KEY, entry_id bigint, "
                        f"inserted {bool_t}, written {bool_t})")
            cur.execute(f"CREATE TEMPORARY TABLE {self.touched} (entry_id bigint PRIMARY KEY)")

    def drop(self, cur: Any = None) -> None:
        def _do(c: Any) -> None:
            for t in (self.se, self.sl, self.ids, self.touched, self.gone):
                c.execute(f"DROP TABLE IF EXISTS {t}")

        if cur is not None:
            _do(cur)
        else:
            with connection.cursor() as c:
                _do(c)

    # -- loading
    def load_lines(self, lines: Iterator[tuple[Any, ...]], *, on_chunk: Callable[[], None], chunk: int = STAGE_CHUNK_ROWS) -> None:
        """Stream line tuples into the staging table, calling on_chunk() between chunks (progress).

        The line iterator runs while COPY holds the connection: it must not query the database."""
        exhausted = False
        while not exhausted:
            exhausted = True
            with connection.cursor() as cur, bulk.copier(cur, self.sl, STAGE_LINE_COLUMNS) as write:
                n = 0
                for line in lines:
                    write(line)
                    n += 1
                    if n >= chunk:
                        exhausted = False
                        break
            on_chunk()

    def load_lines_direct(self, lines: Iterator[tuple[Any, ...]], *, on_chunk: Callable[[], None],
                          chunk: int = STAGE_CHUNK_ROWS) -> int:
        """PostgreSQL, inside the merge transaction: lines keyed by a reserved entry id (an int) go
        straight into entries_tariffline; lines keyed by an entry number (entries already stored) are
        staged for the upsert, a chunk at a time. Returns the number of lines written directly."""
        table = TariffLine._meta.db_table
        written = 0
        exhausted = False
        while not exhausted:
            exhausted = True
            existing: list[tuple[Any, ...]] = []
            keep = existing.append
            with connection.cursor() as cur:
                with bulk.copier(cur, table, TARIFFLINE_COLUMNS) as write:
                    n = 0
                    for line in lines:
                        if type(line[0]) is int:
                            write(line)
                        else:
                            keep(line)
                        n += 1
                        if n >= chunk:
                            exhausted = False
                            break
                written += n - len(existing)
                bulk.copy_rows(cur, self.sl, STAGE_LINE_COLUMNS, existing)
            on_chunk()
        return written

    def load_fast(self, batches: Iterator[Any], *, ticker: ProgressTicker, rows_read: Callable[[], int],
                  progress: Callable[[int | None], None]) -> int:
        """Lines from the fast path (entries.ingest.fast), each batch's in bulk, and the row path's among them.

        PostgreSQL: ONE CSV COPY into entries_tariffline for the whole file (lines keyed by a reserved row id,
        as load_lines_direct writes them), sent by psycopg's writer thread so that the server takes in one
        batch while the next is being read; lines of entries already stored are kept and staged after it.
        Progress as the row path writes it (``ticker``), counted in lines written, a piece of
        ``ticker.every_rows`` lines at a time. Returns the number of lines written directly into
        entries_tariffline."""
        table = TariffLine._meta.db_table
        piece = max(1, ticker.every_rows)
        written = 0
        staged: list[pa.Table] = []
        with connection.cursor() as cur:
            if self.pg:
                with bulk.copier(cur, table, TARIFFLINE_COLUMNS, fmt="csv", writer=QueuedLibpqWriter(cur.cursor)) as write:
                    for batch in batches:
                        direct = [line for line in batch.row_lines if type(line[0]) is int]
                        rest = [line for line in batch.row_lines if type(line[0]) is not int]
                        for tbl in (batch.new_lines, _lines_table(direct, "entry_id")):
                            if tbl is not None:
                                bulk.write_arrow_csv(write, tbl.select(list(TARIFFLINE_COLUMNS)), on_piece=ticker.add, piece=piece)
                                written += tbl.num_rows
                        staged += [t for t in (batch.staged_lines, _lines_table(rest, "entry_number")) if t is not None]
                        ticker.at(rows_read())
                if staged:
                    with bulk.copier(cur, self.sl, STAGE_LINE_COLUMNS, fmt="csv") as write:
                        for tbl in staged:
                            bulk.write_arrow_csv(write, tbl.select(list(STAGE_LINE_COLUMNS)))
            else:
                for batch in batches:
                    if batch.staged_lines is not None:
                        bulk.copy_arrow(cur, self.sl, batch.staged_lines, columns=STAGE_LINE_COLUMNS, on_piece=ticker.add,
                                        piece=piece)
                    bulk.copy_rows(cur, self.sl, STAGE_LINE_COLUMNS, batch.row_lines)
                    ticker.at(rows_read())
        progress(None)
        return written

    def discard_lines(self, entry_ids: list[int]) -> int:
        """Delete the directly written lines of entries held back after some of their lines were written."""
        if not entry_ids:
            return 0
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {TariffLine._meta.db_table} WHERE entry_id = ANY(%s)", [entry_ids])
            return cur.rowcount

    def load_entries(self, entries: Iterable[tuple[Any, ...]], *, analyze: bool = True, tables: Iterable[Any] = ()) -> None:
        """Staged entries: tuples from ParseResult.entry_rows, and Arrow tables from the fast path (same columns)."""
        cols = (*STAGE_ENTRY_COLUMNS, "ieepa_duty", "total_duty", "entry_id")
        tables = list(tables)
        with connection.cursor() as cur:
            if self.pg:
                for tbl in tables:
                    bulk.copy_arrow(cur, self.se, tbl, piece=STAGE_CHUNK_ROWS)
                bulk.copy_rows(cur, self.se, cols, entries)
                if analyze:
                    # Planner statistics for the merge's joins with stored entries (not needed when the
                    # organisation had none: every entry is then inserted with its reserved id).
                    cur.execute(f"ANALYZE {self.se}")
            else:  # SQLite's staging columns are text and integers: dates as ISO text, flags as 0 and 1
                fast_rows = (row for tbl in tables for row in zip(*(c.to_pylist() for c in tbl.columns), strict=True))
                bulk.copy_rows(cur, self.se, cols, (
                    tuple(v.isoformat() if hasattr(v, "isoformat") else int(v) if isinstance(v, bool) else v for v in row)
                    for row in (*fast_rows, *entries)))

    # -- merging (inside the caller's transaction)
    def _distinct(self, table: str, cols: list[str]) -> str:
        op = "IS DISTINCT FROM" if self.pg else "IS NOT"
        return " OR ".join(f"{table}.{c} {op} excluded.{c}" for c in cols)

    def merge(self, *, organization: Organization, upload: Upload, present: set[str], has_liq: bool,
              direct: bool = False, direct_lines: int = 0) -> dict[str, Any]:
        now = timezone.now()
        true, false = ("true", "false") if self.pg else ("1", "0")
        out: dict[str, Any] = {}
        with connection.cursor() as cur:
            if self.pg:
                # The staged file is kept, so a crash in the last instants loses nothing that cannot be
                # re-run; not waiting for the WAL flush of a million-line merge saves most of a second.
                cur.execute("SET LOCAL synchronous_commit TO OFF")
                # One merge at a time, until this transaction ends: an entry is one row whoever loads it, so two
                # uploads of overlapping files (one organisation's or a broker's and its client's) never race
                # for the same entry or line, and _insert_reserved may insert plainly.
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", merge_lock_key())
            join_existing = "JOIN entries_entry e ON e.entry_number = s.entry_number"
            refused, direct_refused = self._refuse_other_importers(cur, organization=organization, direct=self.pg and direct)
            out["entries_refused"] = refused
            direct_lines -= direct_refused
            kept, direct_gone = self._keep_entries_set_by_newer(cur, upload=upload, direct=self.pg and direct)
            out["entries_set_by_newer_report"] = kept
            direct_lines -= direct_gone
            # What changed since the previous report (before anything is written).
            new_entries, new_count, status_changes = self._changes_since_previous_report(cur, has_liq=has_liq)
            liquidated = {"liquidated", "final"}
            newly_liquidated = [c["entry_number"] for c in status_changes if c["to"] in liquidated and c["from"] not in liquidated]

            # Entries: insert new ones complete (duty sums included); update the columns the file has (named above).
            update_cols = entry_update_columns(present, has_liquidation_columns=has_liq)
            sets = ", ".join(
                f"{c} = CASE WHEN entries_entry.protest_set_by_user THEN entries_entry.{c} ELSE excluded.{c} END"
                if c in ENTRY_COLUMNS_KEPT_WHEN_SET_BY_USER else f"{c} = excluded.{c}"
                for c in [*update_cols, "last_upload_id", "updated_at"])

            def insert_entries(*, reserved: bool) -> str:
                """INSERT … SELECT from the staged entries: with their reserved ids (entries new when the
                parser met them, whose clashes _insert_reserved has taken out first), or by upsert."""
                return (
                    f"INSERT INTO entries_entry ({'id, ' if reserved else ''}importer_id, entry_number, "
                    "entry_type, entry_date, entry_summary_date, port_code, filer_code, filer_name, liquidation_status, "
                    "liquidation_status_raw, liquidation_date, recon_flag, psc_flag, protest_number, protest_status, "
                    "importation_date, liquidation_reason_code, type09_filed, drawback, ieepa_duty, total_duty, has_liquidation_columns, last_upload_id, "
                    f"created_at, updated_at) SELECT {'s.entry_id, ' if reserved else ''}i.id, s.entry_number, s.entry_type, s.entry_date, "
                    "s.entry_summary_date, COALESCE(s.port_code, ''), s.filer_code, COALESCE(s.filer_name, ''), "
                    "s.liquidation_status, COALESCE(s.liquidation_status_raw, ''), s.liquidation_date, s.recon_flag, s.psc_flag, "
                    f"COALESCE(s.protest_number, ''), s.protest_status, s.importation_date, s.liquidation_reason_code, {false}, {false}, s.ieepa_duty, s.total_duty, %s, %s, %s, %s "
                    f"FROM {self.se} s JOIN accounts_importer i ON i.ir_number = s.importer_ir "
                    + ("WHERE s.entry_id IS NOT NULL " if reserved else
                       f"WHERE s.entry_id IS NULL ON CONFLICT (entry_number) DO UPDATE SET {sets} "
                       f"WHERE {self._distinct('entries_entry', update_cols)} ")
                )

            params: list[Any] = [has_liq, upload.pk, now, now]
            reserved_created = 0  # entries stored under their reserved ids (not listed in the ids table)
            if self.pg and direct:
                # Entries whose lines were written straight into entries_tariffline under a reserved id, stored
                # by a plain INSERT, much cheaper than INSERT ... ON CONFLICT ... RETURNING into the ids table
                # (README, Benchmarks: "Where the time goes"). What makes it safe: every merge of the
                # organisation takes its lock (above), so no entry number can be stored between the check for
                # clashes and the insert; should one be stored all the same (a writer that does not take the
                # lock), the unique constraint refuses it, and the check runs again.
                reserved_created, direct_lines = self._insert_reserved(cur, insert_entries(reserved=True), params,
                                                                       direct_lines)
            # Before the upsert below sets last_upload: lines that a stored entry has and this report does not.
            cur.execute(f"SELECT count(*) FROM {self.se}")
            stored_in_file = cur.fetchone()[0] - new_count  # entries of this file already stored, before this merge
            removed, removed_count = (self._remove_missing_lines(cur, upload=upload) if stored_in_file
                                      else ([], 0))
            insert_sql = insert_entries(reserved=False)
            if self.pg:
                cur.execute(f"WITH up AS ({insert_sql} RETURNING id, entry_number, (xmax = 0) AS inserted) "
                            f"INSERT INTO {self.ids} (entry_number, entry_id, inserted, written) "
                            "SELECT entry_number, id, inserted, true FROM up", params)
            else:
                cur.execute(insert_sql + "RETURNING id, entry_number", params)
                new = set(new_entries)
                written = [(n, i, int(n in new), 1) for i, n in cur.fetchall()]
                cur.executemany(f"INSERT INTO {self.ids} (entry_number, entry_id, inserted, written) VALUES (%s, %s, %s, %s)", written)
            # Entries in the file that were already stored and did not change.
            cur.execute(f"INSERT INTO {self.ids} (entry_number, entry_id, inserted, written) "
                        f"SELECT s.entry_number, e.id, {false}, {false} FROM {self.se} s {join_existing} "
                        f"WHERE e.last_upload_id IS NULL OR e.last_upload_id <> %s ON CONFLICT (entry_number) DO NOTHING",
                        [upload.pk])
            cur.execute(f"INSERT INTO {self.touched} (entry_id) SELECT entry_id FROM {self.ids} WHERE written = {true} "
                        f"AND inserted = {false} AND entry_id NOT IN (SELECT entry_id FROM {self.touched})")

            lines_new, lines_added, lines_changed = self._merge_lines(cur, present=present)
            out["lines_created"] = direct_lines + lines_new + lines_added
            out["lines_updated"] = lines_changed
            out["lines_removed"] = removed_count

            cur.execute(f"SELECT count(*) FROM {self.touched}")
            out["entries_updated"] = cur.fetchone()[0]
            if out["entries_updated"]:
                # Existing entries this upload changed: duty sums over all their lines (old and new), last_upload
                # (the classifier's input). Skipped when there are none: the unanalysed temporary table can
                # lead the planner to read every stored line for nothing.
                cur.execute(
                    f"UPDATE entries_entry SET last_upload_id = %s, updated_at = %s, ieepa_duty = a.ieepa, total_duty = a.total "
                    f"FROM (SELECT t.entry_id, COALESCE(SUM(CASE WHEN t.is_ieepa THEN t.duty ELSE 0 END), 0) AS ieepa, "
                    f"COALESCE(SUM(t.duty), 0) AS total FROM entries_tariffline t "
                    f"WHERE t.entry_id IN (SELECT entry_id FROM {self.touched}) GROUP BY t.entry_id) a "
                    f"WHERE entries_entry.id = a.entry_id",
                    [upload.pk, now],
                )
            cur.execute(f"SELECT count(*), COALESCE(SUM(CASE WHEN inserted = {true} THEN 1 ELSE 0 END), 0) FROM {self.ids}")
            in_ids, created = cur.fetchone()
            out["entries_in_file"] = in_ids + reserved_created + out["entries_set_by_newer_report"]
            out["entries_created"] = created + reserved_created
            out["entries_unchanged"] = out["entries_in_file"] - out["entries_created"] - out["entries_updated"]
            cur.execute(f"SELECT count(*) FROM {self.sl} l JOIN {self.ids} k ON k.entry_number = l.entry_number")
            out["lines"] = cur.fetchone()[0] + direct_lines
        out["changes"] = {
            "new_entries": new_entries[:CHANGES_LISTED],
            "new_entries_count": new_count,
            "newly_liquidated": newly_liquidated[:CHANGES_LISTED],
            "newly_liquidated_count": len(newly_liquidated),
            "status_changes": status_changes[:CHANGES_LISTED],
            "status_changes_count": len(status_changes),
            "removed_lines": removed,
            "removed_lines_count": removed_count,
        }
        return out

    def _changes_since_previous_report(self, cur: Any, *, has_liq: bool) -> tuple[list[str], int, list[dict[str, str]]]:
        """Before anything is written: the file's new entry numbers (PostgreSQL: the first CHANGES_LISTED; SQLite:
        every one, by which its merge tells inserted rows), how many, and the liquidation status changes."""
        new_sql = (f"FROM {self.se} s WHERE NOT EXISTS (SELECT 1 FROM entries_entry e "
                   f"WHERE e.entry_number = s.entry_number)")
        if self.pg:  # the count and the first CHANGES_LISTED, not every new entry number through Python
            cur.execute(f"SELECT count(*) {new_sql}")
            new_count = cur.fetchone()[0]
            cur.execute(f"SELECT s.entry_number {new_sql} ORDER BY s.entry_number LIMIT {CHANGES_LISTED}")
            new_entries = [r[0] for r in cur.fetchall()]
        else:
            cur.execute(f"SELECT s.entry_number {new_sql} ORDER BY s.entry_number")
            new_entries = [r[0] for r in cur.fetchall()]
            new_count = len(new_entries)
        status_changes: list[dict[str, str]] = []
        if has_liq:
            cur.execute(f"SELECT s.entry_number, e.liquidation_status, s.liquidation_status FROM {self.se} s "
                        "JOIN entries_entry e ON e.entry_number = s.entry_number "
                        f"WHERE e.liquidation_status <> s.liquidation_status ORDER BY s.entry_number")
            status_changes = [{"entry_number": n, "from": a, "to": b} for n, a, b in cur.fetchall()]
        return new_entries, new_count, status_changes

    def _merge_lines(self, cur: Any, *, present: set[str]) -> tuple[int, int, int]:
        """The staged lines into entries_tariffline, once the ids table names every entry's row: (lines of new
        entries, lines added to stored entries, lines of stored entries changed). Stored entries whose lines
        changed are added to the touched table."""
        true, false = ("true", "false") if self.pg else ("1", "0")
        # Lines of new entries cannot conflict (the parser keeps one row per entry, line, ordinal).
        line_cols_all = ", ".join(TARIFFLINE_COLUMNS)
        select_lines = (f"SELECT k.entry_id, {', '.join('l.' + c for c in TARIFFLINE_COLUMNS[1:])} "
                        f"FROM {self.sl} l JOIN {self.ids} k ON k.entry_number = l.entry_number ")
        cur.execute(f"INSERT INTO entries_tariffline ({line_cols_all}) {select_lines} WHERE k.inserted = {true}")
        lines_new = cur.rowcount
        # Lines of existing entries: one per (entry, line, ordinal); the same values again change nothing.
        line_cols = line_update_columns(present)
        upsert = (
            f"INSERT INTO entries_tariffline ({line_cols_all}) {select_lines} WHERE k.inserted = {false} "
            f"ON CONFLICT (entry_id, line_number, ordinal) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in line_cols)} "
            f"WHERE {self._distinct('entries_tariffline', line_cols)} "
        )
        if self.pg:
            cur.execute(
                f"WITH up AS ({upsert} RETURNING entry_id, (xmax = 0) AS inserted), "
                f"t AS (INSERT INTO {self.touched} (entry_id) SELECT DISTINCT entry_id FROM up ON CONFLICT DO NOTHING) "
                "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"
            )
            lines_added, lines_changed = cur.fetchone()
        else:
            cur.execute(f"SELECT count(*) FROM {self.sl} l JOIN {self.ids} k ON k.entry_number = l.entry_number "
                        f"JOIN entries_tariffline t ON t.entry_id = k.entry_id AND t.line_number = l.line_number "
                        f"AND t.ordinal = l.ordinal WHERE k.inserted = {false}")
            existing = cur.fetchone()[0]
            cur.execute(f"SELECT count(*) FROM {self.sl} l JOIN {self.ids} k ON k.entry_number = l.entry_number WHERE k.inserted = {false}")
            candidates = cur.fetchone()[0]
            cur.execute(upsert + "RETURNING entry_id")
            returned = [r[0] for r in cur.fetchall()]
            cur.executemany(f"INSERT OR IGNORE INTO {self.touched} (entry_id) VALUES (%s)", [(i,) for i in set(returned)])
            lines_added = candidates - existing
            lines_changed = len(returned) - lines_added
        return lines_new, lines_added, lines_changed

    def _refuse_other_importers(self, cur: Any, *, organization: Organization, direct: bool) -> tuple[list[str], int]:
        """Drop from the merge the staged entries whose number is stored for an importer of record this
        organisation does not load (accounts.selectors.importers_for): an entry summary exists once, for one
        importer, and only those who serve that importer may change it. Returns (their entry numbers, sorted;
        direct lines dropped). The file's other entries load as usual; the upload lists these as refused."""
        visible_sql, visible_params = importers_for(organization).values("pk").query.sql_with_params()
        foreign = (f"FROM {self.se} s JOIN entries_entry e ON e.entry_number = s.entry_number "
                   f"WHERE e.importer_id NOT IN ({visible_sql})")
        cur.execute(f"SELECT s.entry_number {foreign} ORDER BY s.entry_number", list(visible_params))
        numbers = [r[0] for r in cur.fetchall()]
        if not numbers:
            return [], 0
        direct_gone = 0
        if direct:
            cur.execute(f"DELETE FROM entries_tariffline WHERE entry_id IN (SELECT s.entry_id {foreign} "
                        "AND s.entry_id IS NOT NULL)", list(visible_params))
            direct_gone = max(cur.rowcount, 0)
        for table in (self.sl, self.se):
            cur.execute(f"DELETE FROM {table} WHERE entry_number IN (SELECT s.entry_number {foreign})", list(visible_params))
        return numbers, direct_gone

    def _keep_entries_set_by_newer(self, cur: Any, *, upload: Upload, direct: bool) -> tuple[int, int]:
        """Leave whole, as the newer report set them, the stored entries that a report uploaded after this one
        has already set (this upload was made earlier and is merged later: two workers, a retry). One report
        gives an entry its row and all its lines, never a mix of two: the staged entry and its staged lines are
        dropped before the merge, so nothing of it is written, diffed or removed. That includes an entry this
        upload took for new (a reserved id) that the newer upload stored meanwhile: on PostgreSQL its lines
        were written straight under the reserved id, and go too. Returns (entries kept, direct lines dropped)."""
        newer = (f"FROM {self.se} s "
                 "JOIN entries_entry e ON e.entry_number = s.entry_number "
                 "JOIN entries_upload u ON u.id = e.last_upload_id "
                 "WHERE (u.created_at > %s OR (u.created_at = %s AND u.id > %s))")
        params = [upload.created_at, upload.created_at, upload.pk]
        direct_gone = 0
        if direct:
            cur.execute(f"DELETE FROM entries_tariffline WHERE entry_id IN (SELECT s.entry_id {newer} "
                        "AND s.entry_id IS NOT NULL)", params)
            direct_gone = max(cur.rowcount, 0)
        cur.execute(f"DELETE FROM {self.sl} WHERE entry_number IN (SELECT s.entry_number {newer})", params)
        cur.execute(f"DELETE FROM {self.se} WHERE entry_number IN (SELECT s.entry_number {newer})", params)
        return max(cur.rowcount, 0), direct_gone

    def _remove_missing_lines(self, cur: Any, *, upload: Upload) -> tuple[list[dict[str, Any]], int]:
        """Delete the lines of stored entries that this report carries but whose (line, ordinal) it no longer
        lists, and mark those entries touched; returns (the first CHANGES_LISTED removed lines, their count).

        An ES-003 lists every tariff line of each entry summary it carries (one row per tariff ordinal), so the
        lines a newer report gives an entry are all its lines: a line it dropped (a post-summary correction
        that removed it) must not keep its duty. A report older than the one that last set the entry (an
        upload made earlier and processed later) removes nothing. Entries this upload stores under reserved
        ids are new, so they are left out (their lines are not staged). Runs before the entry upsert, which
        moves last_upload on."""
        cur.execute(
            f"CREATE TEMPORARY TABLE {self.gone} AS SELECT t.id, t.entry_id, s.entry_number, t.line_number, t.ordinal, "
            f"t.hts, t.duty, t.is_ieepa FROM {self.se} s "
            "JOIN entries_entry e ON e.entry_number = s.entry_number "
            "JOIN entries_tariffline t ON t.entry_id = e.id "
            "LEFT JOIN entries_upload u ON u.id = e.last_upload_id "
            "WHERE s.entry_id IS NULL AND (u.id IS NULL OR u.created_at < %s OR (u.created_at = %s AND u.id <= %s)) "
            f"AND NOT EXISTS (SELECT 1 FROM {self.sl} l WHERE l.entry_number = s.entry_number "
            "AND l.line_number = t.line_number AND l.ordinal = t.ordinal)",
            [upload.created_at, upload.created_at, upload.pk],
        )
        cur.execute(f"SELECT count(*) FROM {self.gone}")
        count = cur.fetchone()[0]
        if not count:
            return [], 0
        cur.execute(f"SELECT entry_number, line_number, ordinal, hts, duty, is_ieepa FROM {self.gone} "
                    f"ORDER BY entry_number, line_number, ordinal LIMIT {CHANGES_LISTED}")
        listed = [{"entry_number": n, "line_number": line, "ordinal": o, "hts": hts,
                   "duty": str(Decimal(str(duty)).quantize(Decimal("0.01"))), "ieepa": bool(ieepa)}
                  for n, line, o, hts, duty, ieepa in cur.fetchall()]
        cur.execute(f"INSERT INTO {self.touched} (entry_id) SELECT DISTINCT entry_id FROM {self.gone}")
        cur.execute(f"DELETE FROM entries_tariffline WHERE id IN (SELECT id FROM {self.gone})")
        return listed, count

    def _insert_reserved(self, cur: Any, insert_sql: str, params: list[Any], direct_lines: int) -> tuple[int, int]:
        """Store the staged entries that have a reserved id; returns (entries stored, lines still written directly).

        An entry stored since this upload started (by another upload), or whose importer is missing, is not
        stored here: its lines move to the staging table and its row takes the path of an existing entry."""
        for attempt in range(3):
            try:
                with transaction.atomic():  # a savepoint: a refused insert undoes this attempt's moves too
                    cur.execute(f"SELECT s.entry_id FROM {self.se} s WHERE s.entry_id IS NOT NULL AND (EXISTS "
                                f"(SELECT 1 FROM entries_entry e WHERE e.entry_number = s.entry_number) "
                                f"OR NOT EXISTS (SELECT 1 FROM accounts_importer i WHERE i.ir_number = s.importer_ir))")
                    moved = [r[0] for r in cur.fetchall()]
                    moved_lines = 0
                    if moved:
                        cur.execute(f"INSERT INTO {self.sl} ({', '.join(STAGE_LINE_COLUMNS)}) SELECT s.entry_number, "
                                    f"{', '.join('t.' + c for c in TARIFFLINE_COLUMNS[1:])} FROM entries_tariffline t "
                                    f"JOIN {self.se} s ON s.entry_id = t.entry_id WHERE s.entry_id = ANY(%s)", [moved])
                        cur.execute("DELETE FROM entries_tariffline WHERE entry_id = ANY(%s)", [moved])
                        moved_lines = cur.rowcount
                        cur.execute(f"UPDATE {self.se} SET entry_id = NULL WHERE entry_id = ANY(%s)", [moved])
                    cur.execute(insert_sql, params)
                    return cur.rowcount, direct_lines - moved_lines
            except IntegrityError:
                if attempt == 2:
                    raise
                logger.warning("ES-003 merge: an entry was stored meanwhile without the merge lock; checking again")
        raise AssertionError("unreachable")  # pragma: no cover

    def entry_ids(self) -> list[int]:
        with connection.cursor() as cur:
            # Entries stored under a reserved id are not in the ids table (see _insert_reserved).
            cur.execute(f"SELECT entry_id FROM {self.ids} UNION ALL SELECT entry_id FROM {self.se} "
                        "WHERE entry_id IS NOT NULL ORDER BY 1")
            return [r[0] for r in cur.fetchall()]


