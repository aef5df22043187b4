"""ES-003 ingestion's service: an upload from its claim to its summary (claim, load, merge, record). The flow, and
what is visible when, is described in the package's docstring (entries/ingest/__init__.py).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.services import audit, importer_for_upload
from entries.ingest import summary
from entries.ingest.fast import FastCsv, FastPathUnsuitable, OrderedImporterCheck, open_fast
from entries.ingest.importers import ImporterCheck
from entries.ingest.parser import Es003Parser, ParseResult
from entries.ingest.progress import UploadProgress
from entries.ingest.source import Es003FileError, Es003Source, Limits
from entries.ingest.staging import EntryIds, LoadConnection, Stage
from entries.jobs import claim, fail
from entries.models import Upload
from entries.recovery import UPLOAD_JOB
from entries.signals import entries_loaded
from refundready.memory import gc_paused

logger = logging.getLogger(__name__)


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
        return Es003Source(upload.file.path, file_label=upload.original_name, limits=Limits.from_settings())
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
    check = ImporterCheck(upload.organization)
    stage = Stage(f"{upload.pk}_{uuid.uuid4().hex[:8]}")
    side = LoadConnection() if stage.pg else None
    ids = EntryIds(side, upload.organization) if side is not None else None
    ordered = OrderedImporterCheck(check) if fast else None
    parser = Es003Parser(source.layout, file_label=upload.original_name, importer_check=ordered or check,
                         max_errors=int(getattr(settings, "ES003_MAX_ERRORS", 100_000)),
                         line_key=ids.key if ids is not None else None)
    fast_reader = open_fast(source, parser, ordered, ids.key if ids is not None else None) if ordered is not None else None
    progress = UploadProgress(upload, parser, side)
    stage.create()
    try:
        with gc_paused():
            return _load(upload=upload, outcome=outcome, source=source, parser=parser, stage=stage, check=check,
                         progress=progress, ids=ids, side=side, want_entry_ids=want_entry_ids, fast_reader=fast_reader)
    except Es003FileError as exc:  # found while streaming (a cell over the size limit): nothing was stored
        fail_upload(upload, str(exc))
        outcome.fatal = str(exc)
        return outcome
    finally:
        progress.stop()
        if side is not None:
            side.close()
        try:
            stage.drop()
        except Exception:  # the connection may be unusable after an error; temp tables die with it
            logger.warning("could not drop ES-003 staging tables", exc_info=True)


def _load(*, upload: Upload, outcome: Outcome, source: Es003Source, parser: Es003Parser, stage: Stage,
          check: ImporterCheck, progress: UploadProgress, ids: EntryIds | None, side: LoadConnection | None,
          want_entry_ids: bool, fast_reader: FastCsv | None) -> Outcome:
    # PostgreSQL: one transaction from the first line written to the summary (lines go straight into
    # entries_tariffline). SQLite: staging in short transactions, then one merge transaction.
    reserved = ids.reserved if ids is not None else {}
    with transaction.atomic() if stage.pg else contextlib.nullcontext():
        direct_lines = 0
        if fast_reader is not None:
            direct_lines = stage.load_fast(fast_reader.batches(), ticker=progress.ticker(), progress=progress,
                                           rows_read=lambda: parser.result.rows_read)
            fast_reader.finish()
        elif stage.pg:
            direct_lines = stage.load_lines_direct(progress.lines(source), on_chunk=progress)
        else:
            stage.load_lines(progress.lines(source), on_chunk=progress)
        result = parser.finish()
        stage.load_entries(((*row, reserved.get(row[0])) for row in result.entry_rows()),
                           analyze=bool(ids is not None and ids.existing), tables=result.fast_entries)
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


