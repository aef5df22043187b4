"""ES-003 ingestion: uploads in, entries and tariff lines out (issue 3).

Flow: ``upload_create`` stores the file and enqueues ``entries.tasks.process_upload`` on commit; the
task calls ``upload_process``, which claims the row (conditional UPDATE pending→running) and ingests it:

* PostgreSQL: ONE transaction for the whole file. Every entry not yet stored gets its row id from the
  ``entries_entry`` id sequence as soon as the parser meets it, and its lines are COPYed straight into
  ``entries_tariffline`` (the one write of a new line; there is no FK constraint there, see the model);
  lines of entries already stored are COPYed into a staging table. Then the entries are staged and,
  under the organisation's merge lock (one merge per organisation at a time), new ones inserted with
  their reserved ids, the rest merged with INSERT … ON CONFLICT, lines of held-back
  entries deleted, cached duty sums recomputed. Progress (and id reservation, which is not
  transactional anyway) goes through a second connection, so the page can poll while the file loads.
* SQLite: the lines are staged with executemany in short transactions that record progress, then
  merged in one transaction with the same set-based SQL.

Either way an entry's row and all its lines become visible together, at commit, and an entry with any
bad row is never stored at all.

CSV files are read by the vectorised path (``entries.ingest.fast``, whole columns at a time) when they fit
it, and row by row (``Es003Parser.feed``) otherwise; a file found not to fit while it is read is rolled
back and read again row by row. Both give the same entries, lines, errors, warnings and summary.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
from django.conf import settings
from django.core.files.base import File
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from accounts.irnumber import mask_ir_number
from accounts.models import Importer, ImporterGrant, Organization
from accounts.selectors import importers_for
from accounts.services import MANAGED_ELSEWHERE, ServiceError, audit, importer_for_upload
from entries.ingest.fast import FastCsv, FastPathUnsuitable, OrderedImporterCheck, open_fast
from entries.ingest.parser import (
    STAGE_ENTRY_COLUMNS,
    STAGE_LINE_COLUMNS,
    TARIFFLINE_COLUMNS,
    Es003Parser,
    ParseResult,
)
from entries.ingest.source import Es003FileError, Es003Source, Limits
from entries.jobs import claim, fail
from entries.models import Entry, TariffLine, Upload
from entries.recovery import UPLOAD_JOB, forget_lock, merge_lock_key, upload_running_lock
from entries.signals import entries_loaded
from refundready.jobs import ProgressChannel, SideConnection
from refundready.memory import gc_paused
from refundready.pacing import Pacer

logger = logging.getLogger(__name__)

ALLOWED_SUFFIXES = {".csv", ".xlsx", ".txt"}
# Progress is written every PROGRESS_EVERY_ROWS rows or PROGRESS_EVERY_SECONDS, whichever comes first,
# so a weekly file of a few thousand rows moves the bar instead of jumping from 0 to done. The clock is
# read only every PROGRESS_CHECK_ROWS rows: the per-row cost is one integer comparison.
PROGRESS_EVERY_ROWS = 5_000
PROGRESS_EVERY_SECONDS = 0.5
# A big file writes every 1 % of its rows instead (a bar shows no finer step): a million-line CSV then
# writes about 100 times, not 200, each write a round trip while both cores are busy with the load.
PROGRESS_STEPS = 100
PROGRESS_CHECK_ROWS = 500
STAGE_CHUNK_ROWS = 50_000  # lines per staging COPY/executemany batch
ID_BLOCK = 10_000
CHANGES_LISTED = 500


def _progress_every(rows_total: int) -> int:
    return max(PROGRESS_EVERY_ROWS, rows_total // PROGRESS_STEPS)
# CSV files go through the vectorised path (entries.ingest.fast) when they fit it; the row path otherwise.
# Both give the same entries, lines, errors, warnings and summary (tests/entries/test_fast_path.py).
FAST_CSV = True
LIQUIDATION_COLUMNS_HELP = (
    "This report has no {missing} column, so entries cannot be classified for CAPE (the 80-day and 180-day "
    "clocks run from the liquidation date). ES-003 does not include these columns by default: in the ACE "
    "Portal open Reports, run ES-003 Entry Summary Line Tariff Details, switch the report to edit (design) "
    "mode, add the Liquidation Status and Liquidation Date objects to the table, run it again for the same "
    "dates and export it as CSV or XLSX. Then upload the new file here: it updates these entries in place."
)


def _limits() -> Limits:
    return Limits(
        max_rows=int(getattr(settings, "ES003_MAX_ROWS", 5_000_000)),
        max_uncompressed=int(getattr(settings, "ES003_MAX_XLSX_UNCOMPRESSED", 2 * 1024**3)),
        max_ratio=int(getattr(settings, "ES003_MAX_XLSX_RATIO", 100)),
    )


# ----------------------------------------------------------------------------- upload_create
def _validate_upload(name: str, size: int, head: bytes, *, check_size: bool = True) -> str:
    suffix = Path(name).suffix.lower()
    max_size = int(getattr(settings, "MAX_UPLOAD_SIZE", 200 * 1024 * 1024))
    if check_size and size > max_size:
        raise ServiceError(f"{name} is {size / 1024**2:,.1f} MB; the largest file accepted is {max_size / 1024**2:,.0f} MB. "
                           "Split the report by date range in ACE Reports.", field="file")
    if size == 0:
        raise ServiceError(f"{name} is empty.", field="file")
    if suffix == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ServiceError(f"{name} is an old binary Excel (.xls) workbook: save it as .xlsx or CSV and upload that.", field="file")
    if suffix not in ALLOWED_SUFFIXES:
        raise ServiceError(f"{name}: upload the ES-003 report as a .csv or .xlsx file.", field="file")
    is_zip = head.startswith(b"PK\x03\x04")
    if suffix == ".xlsx" and not is_zip:
        raise ServiceError(f"{name} is named .xlsx but is not an Excel workbook.", field="file")
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))  # Excel's "Unicode Text" CSV
    if suffix != ".xlsx" and (is_zip or (b"\x00" in head and not utf16)):
        raise ServiceError(f"{name} is named {suffix} but is not a text (CSV) file.", field="file")
    return suffix


@transaction.atomic
def upload_create(*, organization: Organization, user: Any, file: Any) -> Upload:
    """Validate size and type, store the file, enqueue processing once the row is committed."""
    name = Path(getattr(file, "name", "") or "upload.csv").name[:255]
    size = int(getattr(file, "size", 0) or 0)
    file.seek(0)
    head = file.read(8192)
    file.seek(0)
    suffix = _validate_upload(name, size, head)
    digest = hashlib.sha256()
    for chunk in file.chunks() if hasattr(file, "chunks") else iter(lambda: file.read(1 << 20), b""):
        digest.update(chunk)
    file.seek(0)
    upload = Upload(organization=organization, uploaded_by=user if getattr(user, "is_authenticated", False) else None,
                    original_name=name, size=size, sha256=digest.hexdigest())
    upload.file.save(f"{uuid.uuid4().hex}{suffix}", file if isinstance(file, File) else File(file), save=False)
    upload.save()
    audit(action="upload.create", user=user, organization=organization, obj=upload, name=name, size=size)
    from entries.tasks import process_upload

    pk = upload.pk
    transaction.on_commit(lambda: process_upload.delay(pk))
    return upload


# ----------------------------------------------------------------------------- importers
class _ImporterCheck:
    """Which importers' rows the organisation may load (accounts.services.importer_for_upload rules).

    Answers from sets read once before parsing: it runs while a COPY holds the connection, so it must
    never query. Pending importers for a broker's new clients are created in the merge transaction,
    so a file that fails creates nothing.
    """

    def __init__(self, organization: Organization) -> None:
        self.organization = organization
        self.to_create: dict[str, str] = {}
        self.visible = set(importers_for(organization).values_list("ir_number", flat=True))
        self.owned_elsewhere: set[str] = set()
        self.managed_elsewhere: set[str] = set()
        if organization.kind == Organization.Kind.BROKER:
            self.owned_elsewhere = set(
                Importer.objects.filter(owner__isnull=False).values_list("ir_number", flat=True)
            ) - self.visible
            # Unowned importers another organisation manages (accounts.services.managed_elsewhere).
            self.managed_elsewhere = set(
                ImporterGrant.objects.filter(importer__owner__isnull=True, revoked_at__isnull=True)
                .exclude(organization=organization)
                .values_list("importer__ir_number", flat=True)
            ) - self.visible

    def __call__(self, ir: str, name: str) -> str | None:
        if ir in self.visible:
            return None
        shown = mask_ir_number(ir)
        if self.organization.kind == Organization.Kind.IMPORTER:
            return (f"Importer {shown} is not one of this organisation's importers: an importer organisation may not "
                    "load another company's entries. Its rows were not loaded.")
        if ir in self.owned_elsewhere or ir in self.managed_elsewhere:  # one message: it must not tell which
            return f"Importer {shown}: {MANAGED_ELSEWHERE} Its rows were not loaded."
        self.to_create.setdefault(ir, name)
        return None


# ----------------------------------------------------------------------------- staging and merge
_CSV_OUT = pa_csv.WriteOptions(include_header=False, quoting_style="needed")  # strings quoted, NULL as an empty field
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


def _copy_csv(cur: Any, target: str, tbl: pa.Table) -> None:
    # The raw psycopg cursor bypasses Django's error wrapping: without it a connection cut mid-COPY raises
    # psycopg.errors.AdminShutdown, which upload_process does not know as transient (the upload failed
    # instead of being retried; tests/reliability/test_database_faults.py).
    with cur.db.wrap_database_errors, cur.cursor.copy(
        f"COPY {target} ({', '.join(tbl.column_names)}) FROM STDIN (FORMAT csv)"
    ) as copy:
        for start in range(0, tbl.num_rows, STAGE_CHUNK_ROWS):
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(tbl.slice(start, STAGE_CHUNK_ROWS), sink, write_options=_CSV_OUT)
            copy.write(sink.getvalue().to_pybytes())


class _Stage:
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

        The line iterator runs while COPY holds the connection: it must not query the database.
        """
        cols = ", ".join(STAGE_LINE_COLUMNS)
        exhausted = False
        while not exhausted:
            exhausted = True
            with connection.cursor() as cur:
                if self.pg:
                    with cur.cursor.copy(f"COPY {self.sl} ({cols}) FROM STDIN") as copy:
                        write = copy.write_row
                        n = 0
                        for line in lines:
                            write(line)
                            n += 1
                            if n >= chunk:
                                exhausted = False
                                break
                else:
                    batch = []
                    for line in lines:
                        batch.append(line)
                        if len(batch) >= chunk:
                            exhausted = False
                            break
                    if batch:
                        cur.executemany(f"INSERT INTO {self.sl} ({cols}) VALUES ({', '.join(['%s'] * len(STAGE_LINE_COLUMNS))})",
                                        [(*b[:7], int(b[7]), *b[8:]) for b in batch])
            on_chunk()

    def load_lines_direct(self, lines: Iterator[tuple[Any, ...]], *, on_chunk: Callable[[], None],
                          chunk: int = STAGE_CHUNK_ROWS) -> int:
        """PostgreSQL, inside the merge transaction: lines keyed by a reserved entry id (an int) go
        straight into entries_tariffline; lines keyed by an entry number (entries already stored) are
        staged for the upsert, a chunk at a time. Returns the number of lines written directly."""
        table = TariffLine._meta.db_table
        staged_cols = ", ".join(STAGE_LINE_COLUMNS)
        written = 0
        exhausted = False
        while not exhausted:
            exhausted = True
            existing: list[tuple[Any, ...]] = []
            keep = existing.append
            with connection.cursor() as cur:
                with cur.cursor.copy(f"COPY {table} ({', '.join(TARIFFLINE_COLUMNS)}) FROM STDIN") as copy:
                    write = copy.write_row
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
                if existing:
                    with cur.cursor.copy(f"COPY {self.sl} ({staged_cols}) FROM STDIN") as copy:
                        for line in existing:
                            copy.write_row(line)
            on_chunk()
        return written

    def load_fast(self, batches: Iterator[Any], *, progress: Callable[[int | None], None], rows_read: Callable[[], int],
                  every_rows: int = PROGRESS_EVERY_ROWS) -> int:
        """Lines from entries.ingest.fast, each batch's in bulk, and the row path's among them.

        PostgreSQL: ONE CSV COPY into entries_tariffline for the whole file (lines keyed by a reserved row id,
        as load_lines_direct writes them), sent by psycopg's writer thread so that the server takes in one
        batch while the next is being read; lines of entries already stored are kept and staged after it.
        Progress as the row path writes it: checked every PROGRESS_CHECK_ROWS lines written, recorded after
        `every_rows` of them or PROGRESS_EVERY_SECONDS, whichever first. Returns the number of lines
        written directly into entries_tariffline."""
        table = TariffLine._meta.db_table
        step = PROGRESS_CHECK_ROWS
        state: dict[str, Any] = {"done": 0, "check_at": step, "written_at": 0, "written_t": time.monotonic()}

        def advance(n: int) -> None:
            done = state["done"] = state["done"] + n
            if done >= state["check_at"]:
                state["check_at"] = done + step
                now = time.monotonic()
                if done - state["written_at"] >= every_rows or now - state["written_t"] >= PROGRESS_EVERY_SECONDS:
                    progress(done)
                    state["written_at"], state["written_t"] = done, now

        def send(copy: Any, tbl: pa.Table, cols: tuple[str, ...], *, count: bool) -> None:
            tbl = tbl.select(list(cols))
            piece = PROGRESS_EVERY_ROWS  # written a piece at a time, progress still checked every `step` lines
            for start in range(0, tbl.num_rows, piece):
                sink = pa.BufferOutputStream()
                pa_csv.write_csv(tbl.slice(start, piece), sink, write_options=_CSV_OUT)
                copy.write(sink.getvalue().to_pybytes())
                if count:
                    sent = min(piece, tbl.num_rows - start)
                    for k in range(0, sent, step):
                        advance(min(step, sent - k))

        written = 0
        staged: list[pa.Table] = []
        with connection.cursor() as cur:
            if self.pg:
                # Django's error wrapping around the raw COPY, as in _copy_csv: a connection cut mid-COPY is then
                # an OperationalError the upload retries.
                with cur.db.wrap_database_errors, cur.cursor.copy(
                    f"COPY {table} ({', '.join(TARIFFLINE_COLUMNS)}) FROM STDIN (FORMAT csv)", writer=QueuedLibpqWriter(cur.cursor)
                ) as copy:
                    for batch in batches:
                        direct = [line for line in batch.row_lines if type(line[0]) is int]
                        rest = [line for line in batch.row_lines if type(line[0]) is not int]
                        for tbl in (batch.new_lines, _lines_table(direct, "entry_id")):
                            if tbl is not None:
                                send(copy, tbl, TARIFFLINE_COLUMNS, count=True)
                                written += tbl.num_rows
                        staged += [t for t in (batch.staged_lines, _lines_table(rest, "entry_number")) if t is not None]
                        advance(rows_read() - state["done"])
                if staged:
                    with cur.db.wrap_database_errors, cur.cursor.copy(
                        f"COPY {self.sl} ({', '.join(STAGE_LINE_COLUMNS)}) FROM STDIN (FORMAT csv)"
                    ) as copy:
                        for tbl in staged:
                            send(copy, tbl, STAGE_LINE_COLUMNS, count=False)
            else:
                for batch in batches:
                    if batch.staged_lines is not None:
                        tbl = batch.staged_lines.select(list(STAGE_LINE_COLUMNS))
                        for start in range(0, tbl.num_rows, step):
                            part = tbl.slice(start, step)
                            rows = zip(*(c.to_pylist() for c in part.columns), strict=True)
                            self._insert_lines(cur, [(*b[:7], int(b[7]), *b[8:]) for b in rows])
                            advance(part.num_rows)
                    self._insert_lines(cur, [(*b[:7], int(b[7]), *b[8:]) for b in batch.row_lines])
                    advance(rows_read() - state["done"])
        progress(None)
        return written

    def _insert_lines(self, cur: Any, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            cur.executemany(f"INSERT INTO {self.sl} ({', '.join(STAGE_LINE_COLUMNS)}) "
                            f"VALUES ({', '.join(['%s'] * len(STAGE_LINE_COLUMNS))})", rows)

    def discard_lines(self, entry_ids: list[int]) -> int:
        """Delete the directly written lines of entries held back after some of their lines were written."""
        if not entry_ids:
            return 0
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {TariffLine._meta.db_table} WHERE entry_id = ANY(%s)", [entry_ids])
            return cur.rowcount

    def load_entries(self, entries: Iterable[tuple[Any, ...]], *, analyze: bool = True, tables: Iterable[Any] = ()) -> None:
        """Staged entries: tuples from ParseResult.entry_rows, and Arrow tables from entries.ingest.fast."""
        cols = ", ".join((*STAGE_ENTRY_COLUMNS, "ieepa_duty", "total_duty", "entry_id"))
        tables = list(tables)
        with connection.cursor() as cur:
            if self.pg:
                for tbl in tables:
                    _copy_csv(cur, self.se, tbl)
                with cur.cursor.copy(f"COPY {self.se} ({cols}) FROM STDIN") as copy:
                    for row in entries:
                        copy.write_row(row)
                if analyze:
                    # Planner statistics for the merge's joins with stored entries (not needed when the
                    # organisation had none: every entry is then inserted with its reserved id).
                    cur.execute(f"ANALYZE {self.se}")
            else:
                fast_rows = (row for tbl in tables for row in zip(*(c.to_pylist() for c in tbl.columns), strict=True))
                rows = [tuple(v.isoformat() if hasattr(v, "isoformat") else int(v) if isinstance(v, bool) else v for v in row)
                        for row in (*fast_rows, *entries)]
                cur.executemany(f"INSERT INTO {self.se} ({cols}) VALUES ({', '.join(['%s'] * (len(STAGE_ENTRY_COLUMNS) + 3))})", rows)

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
            new_sql = (f"FROM {self.se} s WHERE NOT EXISTS (SELECT 1 FROM entries_entry e "
                       f"WHERE e.entry_number = s.entry_number)")
            if self.pg:  # the count and the first CHANGES_LISTED, not every new entry number through Python
                cur.execute(f"SELECT count(*) {new_sql}")
                new_count = cur.fetchone()[0]
                cur.execute(f"SELECT s.entry_number {new_sql} ORDER BY s.entry_number LIMIT {CHANGES_LISTED}")
                new_entries = [r[0] for r in cur.fetchall()]
            else:  # every one: the SQLite merge below tells inserted rows by them
                cur.execute(f"SELECT s.entry_number {new_sql} ORDER BY s.entry_number")
                new_entries = [r[0] for r in cur.fetchall()]
                new_count = len(new_entries)
            status_changes: list[dict[str, str]] = []
            if has_liq:
                cur.execute(f"SELECT s.entry_number, e.liquidation_status, s.liquidation_status FROM {self.se} s {join_existing} "
                            f"WHERE e.liquidation_status <> s.liquidation_status ORDER BY s.entry_number")
                status_changes = [{"entry_number": n, "from": a, "to": b} for n, a, b in cur.fetchall()]
            liquidated = {"liquidated", "final"}
            newly_liquidated = [c["entry_number"] for c in status_changes if c["to"] in liquidated and c["from"] not in liquidated]

            # Entries: insert new ones complete (duty sums included); update changed columns the file has.
            update_cols = ["importer_id", "entry_type", "filer_code"]
            optional = {"entry_date": "entry_date", "entry_summary_date": "entry_summary_date", "port_code": "port_code",
                        "filer_name": "filer_name", "liquidation_date": "liquidation_date", "recon_flag": "recon_flag",
                        "psc_flag": "psc_flag", "protest_number": "protest_number", "importation_date": "importation_date",
                        "liquidation_reason_code": "liquidation_reason_code"}
            update_cols += [col for fld, col in optional.items() if fld in present]
            if "liquidation_status" in present:
                update_cols += ["liquidation_status", "liquidation_status_raw"]
            if "protest_status" in present or "protest_number" in present:
                update_cols += ["protest_status"]
            if has_liq:
                update_cols.append("has_liquidation_columns")
            # A protest status or number a person set wins over the report's (ruleset 2026.12, rules.md "Inputs").
            user_set = {"protest_status", "protest_number"}
            sets = ", ".join(
                f"{c} = CASE WHEN entries_entry.protest_set_by_user THEN entries_entry.{c} ELSE excluded.{c} END"
                if c in user_set else f"{c} = excluded.{c}" for c in [*update_cols, "last_upload_id", "updated_at"])
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
                # by a plain INSERT: 2.2 s for 160,000 entries where INSERT ... ON CONFLICT ... RETURNING into the
                # ids table took 3.9 s (bench/ingest.py's million lines). What makes it safe: every merge of the
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

            # Lines of new entries cannot conflict (the parser keeps one row per entry, line, ordinal).
            line_cols_all = ", ".join(TARIFFLINE_COLUMNS)
            select_lines = (f"SELECT k.entry_id, {', '.join('l.' + c for c in TARIFFLINE_COLUMNS[1:])} "
                            f"FROM {self.sl} l JOIN {self.ids} k ON k.entry_number = l.entry_number ")
            cur.execute(f"INSERT INTO entries_tariffline ({line_cols_all}) {select_lines} WHERE k.inserted = {true}")
            lines_new = cur.rowcount
            # Lines of existing entries: one per (entry, line, ordinal); the same values again change nothing.
            line_cols = ["hts", "duty", "is_ieepa"]
            if "goods_value" in present:
                line_cols.append("goods_value")
            line_cols += [c for c in ("country_of_origin", "country_of_export", "spi_code", "manufacturer_id", "quantity", "uom")
                          if c in present]
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


# ----------------------------------------------------------------------------- upload_process
class _SideConnection(SideConnection):
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


@dataclass
class _Outcome:
    upload: Upload
    entry_ids: list[int] = field(default_factory=list)
    parse: ParseResult | None = None
    fatal: str = ""


def _claim(upload_id: int) -> bool:
    return claim(UPLOAD_JOB, upload_id, rows_read=0)


def _fail(upload: Upload, message: str) -> None:
    fail(UPLOAD_JOB, upload, message)


def _open_source(upload: Upload, outcome: _Outcome) -> Es003Source | None:
    try:
        return Es003Source(upload.file.path, file_label=upload.original_name, limits=_limits())
    except Es003FileError as exc:
        _fail(upload, str(exc))
        outcome.fatal = str(exc)
    except OSError as exc:
        message = f"{upload.original_name} could not be read: {exc.strerror or exc}"
        _fail(upload, message)
        outcome.fatal = message
    return None


def _run(upload: Upload, *, want_entry_ids: bool = False) -> _Outcome:
    outcome = _Outcome(upload=upload)
    source = _open_source(upload, outcome)
    if source is None:
        return outcome
    upload.rows_total = source.rows_total
    Upload.objects.filter(pk=upload.pk).update(rows_total=source.rows_total)
    if FAST_CSV and source.kind == "csv":
        try:
            return _attempt(upload, outcome, source, want_entry_ids=want_entry_ids, fast=True)
        except FastPathUnsuitable as exc:
            # Found while reading (everything it wrote was rolled back or dropped with its staging tables):
            # read the whole file again, row by row.
            logger.info("ES-003 upload %s: row by row (%s)", upload.pk, exc)
            source = _open_source(upload, outcome)
            if source is None:
                return outcome
    return _attempt(upload, outcome, source, want_entry_ids=want_entry_ids, fast=False)


def _attempt(upload: Upload, outcome: _Outcome, source: Es003Source, *, want_entry_ids: bool, fast: bool) -> _Outcome:
    organization = upload.organization
    check = _ImporterCheck(organization)
    stage = _Stage(f"{upload.pk}_{uuid.uuid4().hex[:8]}")
    side = _SideConnection() if stage.pg else None
    reserved: dict[str, int] = {}  # entry number -> row id reserved for an entry not yet stored (PostgreSQL)
    line_key = None
    existing: set[str] = set()
    if side is not None:
        # The entries of the importers this organisation loads: an entry number stored for another importer is
        # taken for new here and refused by the merge (_Stage._refuse_other_importers).
        existing = set(Entry.objects.filter(importer__in=importers_for(organization)).values_list("entry_number", flat=True))

        def line_key(number: str) -> int | str:
            if number in existing:
                return number
            entry_id = reserved.get(number)
            if entry_id is None:
                entry_id = reserved[number] = side.next_id()
            return entry_id

    ordered = OrderedImporterCheck(check) if fast else None
    parser = Es003Parser(source.layout, file_label=upload.original_name, importer_check=ordered or check,
                         max_errors=int(getattr(settings, "ES003_MAX_ERRORS", 100_000)), line_key=line_key)
    feed = parser.feed
    fast_csv = open_fast(source, parser, ordered, line_key) if ordered is not None else None

    every_rows = _progress_every(upload.rows_total or 0)

    def lines() -> Iterator[tuple[Any, ...]]:
        check_at, written_at, written_t = PROGRESS_CHECK_ROWS, 0, time.monotonic()
        for row_no, row in source.rows():
            line = feed(row_no, row)
            if line is not None:
                yield line
            if row_no >= check_at:  # row_no is the file's row number: monotonic, no counter to keep
                check_at = row_no + PROGRESS_CHECK_ROWS
                now = time.monotonic()
                if row_no - written_at >= every_rows or now - written_t >= PROGRESS_EVERY_SECONDS:
                    progress()
                    written_at, written_t = row_no, now

    pacer = Pacer()

    def progress(rows_read: int | None = None) -> None:
        # Its own short transaction (autocommit) so the upload page can poll it: on SQLite between the
        # staging statements (the line iterator runs outside them), on PostgreSQL through the second
        # connection (the main one may be in the middle of a COPY).
        done = parser.result.rows_read if rows_read is None else rows_read
        if side is not None:
            side.progress(upload.pk, done)
        else:
            Upload.objects.filter(pk=upload.pk).update(rows_read=done)
        pacer.pace()  # a bulk job: pauses while pages are being served (refundready.pacing)

    stage.create()
    try:
        with gc_paused():
            return _load(upload=upload, outcome=outcome, source=source, parser=parser, stage=stage, check=check,
                         lines=lines(), progress=progress, reserved=reserved, existing=existing, side=side,
                         want_entry_ids=want_entry_ids, fast_csv=fast_csv, every_rows=every_rows)
    except Es003FileError as exc:  # found while streaming (a cell over the size limit): nothing was stored
        _fail(upload, str(exc))
        outcome.fatal = str(exc)
        return outcome
    finally:
        pacer.stop()
        if side is not None:
            side.close()
        try:
            stage.drop()
        except Exception:  # the connection may be unusable after an error; temp tables die with it
            logger.warning("could not drop ES-003 staging tables", exc_info=True)


def _load(*, upload: Upload, outcome: _Outcome, source: Es003Source, parser: Es003Parser, stage: _Stage,
          check: _ImporterCheck, lines: Iterator[tuple[Any, ...]], progress: Callable[..., None], reserved: dict[str, int],
          existing: set[str], side: _SideConnection | None, want_entry_ids: bool, fast_csv: FastCsv | None = None,
          every_rows: int = PROGRESS_EVERY_ROWS) -> _Outcome:
    # PostgreSQL: one transaction from the first line written to the summary (lines go straight into
    # entries_tariffline). SQLite: staging in short transactions, then one merge transaction.
    with transaction.atomic() if stage.pg else contextlib.nullcontext():
        direct_lines = 0
        if fast_csv is not None:
            direct_lines = stage.load_fast(fast_csv.batches(), progress=progress, rows_read=lambda: parser.result.rows_read,
                                           every_rows=every_rows)
            fast_csv.finish()
        elif stage.pg:
            direct_lines = stage.load_lines_direct(lines, on_chunk=progress)
        else:
            stage.load_lines(lines, on_chunk=progress)
        result = parser.finish()
        stage.load_entries(((*row, reserved.get(row[0])) for row in result.entry_rows()), analyze=bool(existing),
                           tables=result.fast_entries)
        # Lines written before a bad row of the same entry turned up.
        direct_lines -= stage.discard_lines([reserved[n] for n in result.bad_entries if n in reserved])
        if side is not None:
            side.close()
        layout = source.layout
        warnings: list[str] = []
        if not layout.has_liquidation_columns:
            warnings.append(LIQUIDATION_COLUMNS_HELP.format(missing=" and ".join(layout.missing_liquidation_columns)))
        warnings += result.warnings
        if result.bad_entries:
            warnings.append(f"{len(result.bad_entries)} entr{'y was' if len(result.bad_entries) == 1 else 'ies were'} held back "
                            "whole because at least one of their rows is bad; see the error report, correct the file and upload it again.")
        _merge_and_record(upload=upload, outcome=outcome, stage=stage, result=result, check=check, source=source,
                          warnings=warnings, direct=bool(reserved), direct_lines=direct_lines,
                          want_entry_ids=want_entry_ids)
    outcome.parse = result
    return outcome


def _merge_and_record(*, upload: Upload, outcome: _Outcome, stage: _Stage, result: ParseResult, check: _ImporterCheck,
                      source: Es003Source, warnings: list[str], direct: bool, direct_lines: int, want_entry_ids: bool) -> None:
    organization = upload.organization
    layout = source.layout
    present = set(layout.columns)
    with transaction.atomic():
        needed = result.importer_numbers()
        for ir, name in check.to_create.items():
            if ir in needed:
                importer_for_upload(organization=organization, ir_number=ir, name=name, user=upload.uploaded_by)
        merged = stage.merge(organization=organization, upload=upload, present=present,
                             has_liq=layout.has_liquidation_columns, direct=direct, direct_lines=direct_lines)
        if want_entry_ids:
            outcome.entry_ids = stage.entry_ids()
        refused = merged["entries_refused"]
        if refused:
            shown = ", ".join(f"{n[:3]}-{n[3:10]}-{n[10:]}" for n in refused[:20]) + (", …" if len(refused) > 20 else "")
            warnings.append(
                f"{len(refused)} entr{'y was' if len(refused) == 1 else 'ies were'} not loaded: "
                f"{'it is' if len(refused) == 1 else 'they are'} recorded for an importer of record this organisation "
                f"does not serve (an entry summary belongs to one importer of record): {shown}. If the report is "
                "right, ask the importer to give your organisation access."
            )
        upload.status = Upload.Status.DONE
        upload.rows_read = result.rows_read
        upload.rows_total = max(result.rows_read, 1) if result.rows_read else 0
        upload.errors = result.errors
        upload.warnings = warnings
        upload.finished_at = timezone.now()
        upload.summary = {
            "format": source.kind,
            "sheet": getattr(source, "sheet_name", ""),
            "header_row": layout.header_row,
            "rows_read": result.rows_read,
            "entries_in_file": merged["entries_in_file"],
            "entries_created": merged["entries_created"],
            "entries_updated": merged["entries_updated"],
            "entries_unchanged": merged["entries_unchanged"],
            "lines": merged["lines"],
            "lines_created": merged["lines_created"],
            "lines_updated": merged["lines_updated"],
            "rows_rejected": len(result.rejected_rows),
            "errors_total": result.errors_total,
            "errors_listed": len(result.errors),
            "entries_held_back": len(result.bad_entries),
            "duplicate_rows": result.duplicates,
            "warnings": len(warnings),
            "has_liquidation_columns": layout.has_liquidation_columns,
            "missing_liquidation_columns": layout.missing_liquidation_columns,
            "importers_created": sorted(mask_ir_number(ir) for ir in check.to_create if ir in needed),
            "unrepairable_entries": result.unrepairable[:1000],
            "entries_refused": len(refused),
            "refused_entries": refused[:1000],
            "changes": merged["changes"],
        }
        upload.save(update_fields=["status", "rows_read", "rows_total", "errors", "warnings", "finished_at", "summary"])
        audit(action="upload.process", user=upload.uploaded_by, organization=organization, obj=upload,
              entries_created=merged["entries_created"], entries_updated=merged["entries_updated"],
              lines=merged["lines"], rows_rejected=upload.summary["rows_rejected"])
        pk = upload.pk

        def classify() -> None:
            # The classification is cape's (its receiver queues the run, shown on the upload page as it runs).
            entries_loaded.send(sender=Upload, upload_id=pk)

        transaction.on_commit(classify)


def upload_process(*, upload_id: int) -> Upload:
    """Claim a pending upload and ingest it. Returns the upload (done or failed) or as found if not pending."""
    claimed = _claim(upload_id)
    upload = Upload.objects.select_related("organization", "uploaded_by").get(pk=upload_id)
    if not claimed:
        return upload
    try:
        _run(upload)
    except (OperationalError, InterfaceError):
        # Not the file's fault: the database went away mid-load (nothing was committed). Put the upload
        # back to pending when the database answers again, and let the task retry it (entries.tasks);
        # it is never shown failed in between. If the database is still gone, the retry's orphan check
        # finds it running without a live lock and does the same.
        with contextlib.suppress(Exception):
            connection.close_if_unusable_or_obsolete()
            Upload.objects.filter(pk=upload_id, status=Upload.Status.RUNNING).update(status=Upload.Status.PENDING)
        raise
    except Exception as exc:
        logger.exception("ES-003 upload %s failed", upload_id)
        upload.refresh_from_db()
        _fail(upload, f"Processing stopped on an unexpected error ({exc.__class__.__name__}); nothing from this file "
                      "was stored. Try again; if it happens again, send the file to support.")
    upload.refresh_from_db()
    return upload


# ----------------------------------------------------------------------------- ingest_files (CLI, classify_es003)
@dataclass
class IngestResult:
    uploads: list[Upload] = field(default_factory=list)
    entry_ids: list[int] = field(default_factory=list)
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)
    unrepairable_entries: list[dict[str, Any]] = field(default_factory=list)
    fatal_errors: list[str] = field(default_factory=list)


def _store_path(path: Path) -> str:
    from django.core.files.storage import default_storage

    name = default_storage.generate_filename(f"uploads/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{path.suffix.lower()}")
    target = Path(default_storage.path(name))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return name


def ingest_files(*, organization: Organization, paths: Iterable[str | Path], user: Any = None) -> IngestResult:
    """Ingest files synchronously, one Upload each (the CLI and ``classify_es003`` use this).

    Not subject to MAX_UPLOAD_SIZE (an operator's files on the server); every other guard applies.
    """
    result = IngestResult()
    seen: set[int] = set()
    for raw_path in paths:
        path = Path(raw_path)
        try:
            size = path.stat().st_size
            with path.open("rb") as fh:
                head = fh.read(8192)
            # Files given on the command line are already on the server: the upload size limit guards the
            # web and the API; the row-count and XLSX expansion guards still apply while parsing.
            _validate_upload(path.name, size, head, check_size=False)
        except OSError as exc:
            result.fatal_errors.append(f"{path.name}: cannot be read ({exc.strerror or exc})")
            continue
        except ServiceError as exc:
            result.fatal_errors.append(exc.message)
            continue
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        upload = Upload.objects.create(organization=organization, uploaded_by=user if getattr(user, "is_authenticated", False) else None,
                                       original_name=path.name[:255], size=size, sha256=digest.hexdigest(), file=_store_path(path))
        audit(action="upload.create", user=user, organization=organization, obj=upload, name=path.name, size=size, via="cli")
        # Held as a worker holds it: a worker starting meanwhile requeues a running upload whose lock is free.
        with upload_running_lock(upload.pk):
            if not _claim(upload.pk):  # pragma: no cover - the row was created just above
                continue
            upload.refresh_from_db()
            try:
                outcome = _run(upload, want_entry_ids=True)
            except Exception as exc:
                logger.exception("ES-003 file %s failed", path)
                upload.refresh_from_db()
                _fail(upload, f"Processing stopped on an unexpected error ({exc.__class__.__name__}); nothing from this file was stored.")
                outcome = _Outcome(upload=upload, fatal=upload.error_message)
        forget_lock("upload", upload.pk)
        upload.refresh_from_db()
        result.uploads.append(upload)
        if outcome.fatal:
            result.fatal_errors.append(outcome.fatal)
            continue
        for pk in outcome.entry_ids:
            if pk not in seen:
                seen.add(pk)
                result.entry_ids.append(pk)
        result.rejected_rows += upload.errors
        # Every one (the upload's stored summary keeps the first 1,000 for the page).
        result.unrepairable_entries += outcome.parse.unrepairable if outcome.parse else upload.summary.get("unrepairable_entries", [])
    return result
