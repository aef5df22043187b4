"""The demo ES-003 (entries/fixtures/demo_es003.csv): the shared sample plus a few rows for the second
demo importer, Cedar Lane Imports LLC (27-418830200). ``manage.py seed_demo`` calls this."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from accounts.models import Organization
from entries.models import Upload
from entries.services import ingest_files

DEMO_FILE = Path(__file__).resolve().parent / "fixtures" / "demo_es003.csv"


def load_demo_es003(*, organization: Organization, stdout: Any) -> Upload | None:
    """Ingest the demo report once into ``organization``; running it again changes nothing."""
    digest = hashlib.sha256(DEMO_FILE.read_bytes()).hexdigest()
    if Upload.objects.filter(organization=organization, sha256=digest, status=Upload.Status.DONE).exists():
        stdout.write("Demo ES-003 already loaded.")
        return None
    result = ingest_files(organization=organization, paths=[DEMO_FILE])
    for message in result.fatal_errors:
        stdout.write(f"Demo ES-003 not loaded: {message}")
    upload = result.uploads[0] if result.uploads else None
    if upload is not None and upload.status == Upload.Status.DONE:
        s = upload.summary
        stdout.write(f"Demo ES-003 loaded: {s['entries_created']} entries, {s['lines']} tariff lines.")
    return upload
