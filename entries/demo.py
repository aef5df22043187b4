"""The demo's two ES-003 reports, ``manage.py seed_demo`` loads both.

* The broker's (Harbor Customs Brokerage): entries/fixtures/demo_es003.csv, the shared sample plus a few rows
  for the second demo importer, Cedar Lane Imports LLC (27-418830200): 7 Blue Heron entries and 3 Cedar Lane.
* The importer's own (Blue Heron Housewares): the same 7 Blue Heron entry summaries, row for row, and
  ``extra_entries`` more (12,000 by default, generated deterministically by entries.samplegen), so 12,007.

An entry is one record per entry number, the importer of record's (entries.models.Entry): the importer's report
and the broker's merge into one set, and Harbor, which Blue Heron granted access, sees the same 12,007 Blue Heron
entries, paths and CAPE history as Blue Heron does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum

from accounts.models import Importer, Organization
from entries.ingest.cli import ingest_files
from entries.models import Entry, Upload
from entries.samplegen import EXTENDED_COLUMNS, _csv_cell, es003_rows

DEMO_FILE = Path(__file__).resolve().parent / "fixtures" / "demo_es003.csv"
BLUE_HERON = ("93-417726100", "Blue Heron Housewares Inc")
IMPORTER_EXTRA_ENTRIES = 12_000
# Generated entry numbers: filer code 3BZ (the sample's), serials from here on, clear of the sample's 3BZ55001xx.
_FIRST_SERIAL = 5_510_000


def load_demo_es003(*, organization: Organization, stdout: Any, user: Any = None) -> Upload | None:
    """Ingest the broker's demo report once into ``organization``; running it again changes nothing."""
    digest = hashlib.sha256(DEMO_FILE.read_bytes()).hexdigest()
    if Upload.objects.filter(organization=organization, sha256=digest, status=Upload.Status.DONE).exists():
        stdout.write(f"Demo ES-003 of {organization.name} already loaded.")
        return None
    return _ingest(organization, DEMO_FILE, stdout, user)


def importer_report_name(extra_entries: int) -> str:
    return f"blue-heron-es003-{extra_entries + _shared_entry_count()}-entries.csv"


def write_importer_report(path: Path, extra_entries: int = IMPORTER_EXTRA_ENTRIES) -> Path:
    """Blue Heron's own ES-003: the sample's Blue Heron rows as they are (the same entry summaries the broker
    loaded) and ``extra_entries`` generated entries, in the sample's columns."""
    header_line, *shared = _shared_lines(with_header=True)
    header = [h.strip() for h in header_line.split(",")]
    index = {name: EXTENDED_COLUMNS.index(name) for name in header}
    # es003_rows counts lines, not entries: ask for plenty and stop before the first line of one entry too many.
    rows = es003_rows(max(1, extra_entries) * 20, seed=18, importers=[BLUE_HERON], first_serial=_FIRST_SERIAL)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header_line + "\r\n")
        for line in shared:
            fh.write(line + "\r\n")
        seen, last = 0, None
        for row in rows:
            if row[0] != last:
                seen, last = seen + 1, row[0]
                if seen > extra_entries:
                    break
            fh.write(",".join(_csv_cell(row[index[name]]) for name in header) + "\r\n")
    return path


def load_importer_es003(*, organization: Organization, stdout: Any, user: Any = None,
                        extra_entries: int = IMPORTER_EXTRA_ENTRIES) -> Upload | None:
    """Ingest Blue Heron's own report once into ``organization`` (the importer organisation)."""
    name = importer_report_name(extra_entries)
    if Upload.objects.filter(organization=organization, original_name=name, status=Upload.Status.DONE).exists():
        stdout.write(f"Demo ES-003 of {organization.name} already loaded.")
        return None
    folder = Path(settings.DATA_DIR) / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = write_importer_report(folder / name, extra_entries)
    try:
        return _ingest(organization, path, stdout, user)
    finally:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class ImporterFigures:
    name: str
    entries: int
    ieepa_duty: Decimal


def importer_figures(ir_number: str) -> ImporterFigures | None:
    """The importer of record's entries and IEEPA duty (every organisation that sees it sees these)."""
    importer = Importer.objects.filter(ir_number=ir_number).first()
    if importer is None:
        return None
    row = Entry.objects.filter(importer=importer).aggregate(n=Count("pk"), duty=Sum("ieepa_duty"))
    return ImporterFigures(importer.name, row["n"], row["duty"] or Decimal("0.00"))


# ---------------------------------------------------------------- helpers
def _ingest(organization: Organization, path: Path, stdout: Any, user: Any) -> Upload | None:
    result = ingest_files(organization=organization, paths=[path], user=user)
    for message in result.fatal_errors:
        stdout.write(f"Demo ES-003 not loaded: {message}")
    upload = result.uploads[0] if result.uploads else None
    if upload is not None and upload.status == Upload.Status.DONE:
        s = upload.summary
        known = s["entries_in_file"] - s["entries_created"]
        stdout.write(f"Demo ES-003 of {organization.name} loaded: {s['entries_in_file']:,} entries "
                     f"({s['entries_created']:,} new, {known:,} already on record), "
                     f"{s['lines']:,} tariff lines.")
    elif upload is not None:
        stdout.write(f"Demo ES-003 of {organization.name} not loaded: {upload.error_message}")
    return upload


def _shared_lines(*, with_header: bool = False) -> list[str]:
    """The sample's lines for Blue Heron (and its header line first when asked)."""
    lines = DEMO_FILE.read_text(encoding="utf-8").splitlines()
    blue = [line for line in lines[1:] if f'="{BLUE_HERON[0]}"' in line]
    return [lines[0], *blue] if with_header else blue


def _shared_entry_count() -> int:
    return len({line.split(",", 1)[0] for line in _shared_lines()})

