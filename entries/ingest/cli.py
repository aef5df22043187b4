"""ES-003 files from the server's disk, ingested synchronously, one Upload each: the ``ingest_es003`` and
``classify_es003`` commands, the demo data and the benchmarks (issue #21 item 4)."""

from __future__ import annotations

import hashlib
import logging
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import Organization
from accounts.services import ServiceError, audit
from entries.ingest.intake import validate_upload
from entries.ingest.service import Outcome, claim_upload, fail_upload, run
from entries.models import Upload
from entries.recovery import forget_lock, upload_running_lock

logger = logging.getLogger(__name__)

@dataclass
class IngestResult:
    uploads: list[Upload] = field(default_factory=list)
    entry_ids: list[int] = field(default_factory=list)
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)
    unrepairable_entries: list[dict[str, Any]] = field(default_factory=list)
    fatal_errors: list[str] = field(default_factory=list)


def _store_path(path: Path) -> str:
    name = default_storage.generate_filename(f"uploads/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{path.suffix.lower()}")
    target = Path(default_storage.path(name))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return name


def ingest_files(*, organization: Organization, paths: Iterable[str | Path], user: Any = None, fast_csv: bool = True) -> IngestResult:
    """Ingest files synchronously, one Upload each (the CLI and ``classify_es003`` use this).

    Not subject to MAX_UPLOAD_SIZE (an operator's files on the server); every other guard applies. ``fast_csv`` as
    for ``upload_process``.
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
            validate_upload(path.name, size, head, check_size=False)
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
            if not claim_upload(upload.pk):  # pragma: no cover - the row was created just above
                continue
            upload.refresh_from_db()
            try:
                outcome = run(upload, want_entry_ids=True, fast_csv=fast_csv)
            except Exception as exc:
                logger.exception("ES-003 file %s failed", path)
                upload.refresh_from_db()
                fail_upload(upload, f"Processing stopped on an unexpected error ({exc.__class__.__name__}); nothing from this file was stored.")
                outcome = Outcome(upload=upload, fatal=upload.error_message)
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
