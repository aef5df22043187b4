"""A report file in (issue #21 item 4): checked (size, type, the bytes it starts with), stored, and its
processing queued once its Upload row is committed. The web page, the API and the command line take files
through here."""

from __future__ import annotations

import codecs
import hashlib
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import File
from django.db import transaction

from accounts.models import Organization
from accounts.services import ServiceError, audit
from entries.models import Upload
from entries.tasks import process_upload

ALLOWED_SUFFIXES = {".csv", ".xlsx", ".txt"}


def validate_upload(name: str, size: int, head: bytes, *, check_size: bool = True) -> str:
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
    suffix = validate_upload(name, size, head)
    digest = hashlib.sha256()
    for chunk in file.chunks() if hasattr(file, "chunks") else iter(lambda: file.read(1 << 20), b""):
        digest.update(chunk)
    file.seek(0)
    upload = Upload(organization=organization, uploaded_by=user if getattr(user, "is_authenticated", False) else None,
                    original_name=name, size=size, sha256=digest.hexdigest())
    upload.file.save(f"{uuid.uuid4().hex}{suffix}", file if isinstance(file, File) else File(file), save=False)
    upload.save()
    audit(action="upload.create", user=user, organization=organization, obj=upload, name=name, size=size)

    pk = upload.pk
    transaction.on_commit(lambda: process_upload.delay(pk))
    return upload
