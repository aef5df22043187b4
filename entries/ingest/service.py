"""ES-003 ingestion's service: an upload from its creation to its summary (issue 3; the package, issue #21 item 4).

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
it (``fast_csv``, the default), and row by row (``Es003Parser.feed``) otherwise; a file found not to fit while it is read is rolled
back and read again row by row. Both give the same entries, lines, errors, warnings and summary.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.selectors import importers_for
from accounts.services import audit, importer_for_upload
from entries.ingest import summary
from entries.ingest.fast import FastCsv, FastPathUnsuitable, OrderedImporterCheck, open_fast
from entries.ingest.importers import ImporterCheck
from entries.ingest.parser import Es003Parser, ParseResult
from entries.ingest.source import Es003FileError, Es003Source, Limits
from entries.ingest.staging import LoadConnection, Stage
from entries.jobs import claim, fail
from entries.models import Entry, Upload
from entries.recovery import UPLOAD_JOB
from entries.signals import entries_loaded
from refundready.jobs import ProgressTicker
from refundready.memory import gc_paused
from refundready.pacing import Pacer

logger = logging.getLogger(__name__)

# Progress is written every PROGRESS_EVERY_ROWS rows or PROGRESS_EVERY_SECONDS, whichever comes first,
# so a weekly file of a few thousand rows moves the bar instead of jumping from 0 to done. The clock is
# read only every PROGRESS_CHECK_ROWS rows: the per-row cost is one integer comparison.
PROGRESS_EVERY_ROWS = 5_000
PROGRESS_EVERY_SECONDS = 0.5
# A big file writes every 1 % of its rows instead (a bar shows no finer step): a million-line CSV then
# writes about 100 times, not 200, each write a round trip while both cores are busy with the load.
PROGRESS_STEPS = 100
PROGRESS_CHECK_ROWS = 500


def _progress_every(rows_total: int) -> int:
    return max(PROGRESS_EVERY_ROWS, rows_total // PROGRESS_STEPS)


def _limits() -> Limits:
    return Limits(
        max_rows=int(getattr(settings, "ES003_MAX_ROWS", 5_000_000)),
        max_uncompressed=int(getattr(settings, "ES003_MAX_XLSX_UNCOMPRESSED", 2 * 1024**3)),
        max_ratio=int(getattr(settings, "ES003_MAX_XLSX_RATIO", 100)),
    )


# ----------------------------------------------------------------------------- upload_process
@dataclass
class Outcome:
    upload: Upload
    entry_ids: list[int] = field(default_factory=list)
    parse: ParseResult | None = None
    fatal: str = ""


def claim_upload(upload_id: int) -> bool:
    return claim(UPLOAD_JOB, upload_id, rows_read=0)


def fail_upload(upload: Upload, message: str) -> None:
    fail(UPLOAD_JOB, upload, message)


def _open_source(upload: Upload, outcome: Outcome) -> Es003Source | None:
    try:
        return Es003Source(upload.file.path, file_label=upload.original_name, limits=_limits())
    except Es003FileError as exc:
        fail_upload(upload, str(exc))
        outcome.fatal = str(exc)
    except OSError as exc:
        message = f"{upload.original_name} could not be read: {exc.strerror or exc}"
        fail_upload(upload, message)
        outcome.fatal = message
    return None


def run(upload: Upload, *, want_entry_ids: bool = False, fast_csv: bool = True) -> Outcome:
    """Load the upload's file; a CSV through the fast path when ``fast_csv`` and the file fits it."""
    outcome = Outcome(upload=upload)
    source = _open_source(upload, outcome)
    if source is None:
        return outcome
    upload.rows_total = source.rows_total
    Upload.objects.filter(pk=upload.pk).update(rows_total=source.rows_total)
    if fast_csv and source.kind == "csv":
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


def _attempt(upload: Upload, outcome: Outcome, source: Es003Source, *, want_entry_ids: bool, fast: bool) -> Outcome:
    organization = upload.organization
    check = ImporterCheck(organization)
    stage = Stage(f"{upload.pk}_{uuid.uuid4().hex[:8]}")
    side = LoadConnection() if stage.pg else None
    reserved: dict[str, int] = {}  # entry number -> row id reserved for an entry not yet stored (PostgreSQL)
    line_key = None
    existing: set[str] = set()
    if side is not None:
        # The entries of the importers this organisation loads: an entry number stored for another importer is
        # taken for new here and refused by the merge (Stage._refuse_other_importers).
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
    fast_reader = open_fast(source, parser, ordered, line_key) if ordered is not None else None

    def ticker(emit: Callable[[int], None]) -> ProgressTicker:
        return ProgressTicker(emit, every_rows=_progress_every(upload.rows_total or 0),
                              every_seconds=PROGRESS_EVERY_SECONDS, check_rows=PROGRESS_CHECK_ROWS)

    def lines() -> Iterator[tuple[Any, ...]]:
        rows = ticker(lambda _row_no: progress())
        next_check = rows.next_check
        for row_no, row in source.rows():
            line = feed(row_no, row)
            if line is not None:
                yield line
            if row_no >= next_check:  # row_no is the file's row number: monotonic, no counter to keep
                rows.at(row_no)
                next_check = rows.next_check

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
                         want_entry_ids=want_entry_ids, fast_reader=fast_reader, fast_ticker=ticker(progress))
    except Es003FileError as exc:  # found while streaming (a cell over the size limit): nothing was stored
        fail_upload(upload, str(exc))
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


def _load(*, upload: Upload, outcome: Outcome, source: Es003Source, parser: Es003Parser, stage: Stage,
          check: ImporterCheck, lines: Iterator[tuple[Any, ...]], progress: Callable[..., None], reserved: dict[str, int],
          existing: set[str], side: LoadConnection | None, want_entry_ids: bool, fast_reader: FastCsv | None,
          fast_ticker: ProgressTicker) -> Outcome:
    # PostgreSQL: one transaction from the first line written to the summary (lines go straight into
    # entries_tariffline). SQLite: staging in short transactions, then one merge transaction.
    with transaction.atomic() if stage.pg else contextlib.nullcontext():
        direct_lines = 0
        if fast_reader is not None:
            direct_lines = stage.load_fast(fast_reader.batches(), ticker=fast_ticker, progress=progress,
                                           rows_read=lambda: parser.result.rows_read)
            fast_reader.finish()
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
        warnings = summary.load_warnings(source.layout, result)
        _merge_and_record(upload=upload, outcome=outcome, stage=stage, result=result, check=check, source=source,
                          warnings=warnings, direct=bool(reserved), direct_lines=direct_lines,
                          want_entry_ids=want_entry_ids)
    outcome.parse = result
    return outcome


def _merge_and_record(*, upload: Upload, outcome: Outcome, stage: Stage, result: ParseResult, check: ImporterCheck,
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
            warnings.append(summary.refused_warning(refused))
        upload.status = Upload.Status.DONE
        upload.rows_read = result.rows_read
        upload.rows_total = max(result.rows_read, 1) if result.rows_read else 0
        upload.errors = result.errors
        upload.warnings = warnings
        upload.finished_at = timezone.now()
        upload.summary = summary.upload_summary(source=source, result=result, merged=merged, warnings=warnings,
                                                importers_created=[ir for ir in check.to_create if ir in needed])
        upload.save(update_fields=["status", "rows_read", "rows_total", "errors", "warnings", "finished_at", "summary"])
        audit(action="upload.process", user=upload.uploaded_by, organization=organization, obj=upload,
              entries_created=merged["entries_created"], entries_updated=merged["entries_updated"],
              lines=merged["lines"], rows_rejected=upload.summary["rows_rejected"])
        pk = upload.pk

        def classify() -> None:
            # The classification is cape's (its receiver queues the run, shown on the upload page as it runs).
            entries_loaded.send(sender=Upload, upload_id=pk)

        transaction.on_commit(classify)


def upload_process(*, upload_id: int, fast_csv: bool = True) -> Upload:
    """Claim a pending upload and ingest it. Returns the upload (done or failed) or as found if not pending.

    ``fast_csv``: read a CSV through the vectorised path when it fits it (the row path otherwise); both give
    the same entries, lines, errors, warnings and summary (tests/entries/test_fast_path.py)."""
    claimed = claim_upload(upload_id)
    upload = Upload.objects.select_related("organization", "uploaded_by").get(pk=upload_id)
    if not claimed:
        return upload
    try:
        run(upload, fast_csv=fast_csv)
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
        fail_upload(upload, f"Processing stopped on an unexpected error ({exc.__class__.__name__}); nothing from this file "
                      "was stored. Try again; if it happens again, send the file to support.")
    upload.refresh_from_db()
    return upload


