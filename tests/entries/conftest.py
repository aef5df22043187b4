"""Helpers for the ingestion tests: write an ES-003 and ingest it through the real service."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from entries.ingest.intake import upload_create
from entries.ingest.service import upload_process
from entries.models import Upload
from entries.samplegen import EXTENDED_COLUMNS, STANDARD_COLUMNS, write_csv, write_xlsx


def sample_row(layout: str = "extended", **overrides: Any) -> list[object]:
    """One ES-003 row (values as a CSV writer would get them), keyed overrides by header name."""
    from datetime import date
    from decimal import Decimal

    from entries.samplegen import Text

    base: dict[str, object] = {
        "Entry Summary Number": Text("00261103162"),
        "Entry Summary Line Number": 1,
        "Entry Type Code": Text("01"),
        "Importer Number": Text("93-417726100"),
        "Importer Name": "Blue Heron Housewares Inc",
        "Port of Entry Code": Text("1001"),
        "Entry Date": date(2026, 1, 15),
        "Entry Summary Date": date(2026, 1, 23),
        "Country of Origin Code": "CN",
        "Country of Export Code": "CN",
        "Tariff Ordinal Number": 1,
        "HTS Number - Full": Text("8516797000"),
        "Line Tariff Goods Value Amount": Decimal("1000.00"),
        "Line Tariff Duty Amount": Decimal("0.00"),
        "Line Tariff Quantity (1)": 10,
        "Line Tariff UOM (1) Code": "PCS",
        "Liquidation Date": None,
        "Liquidation Status": "Unliquidated",
        "Reconciliation Indicator": "N",
        "Protest Number": "",
        "Protest Status": "",
        "Post Summary Correction Indicator": "N",
        "Filer Name": "Harbor Customs Brokerage",
        "Importation Date": date(2026, 1, 15),
        "Line SPI Code": "",
        "Manufacturer ID": "CNMANUF123SHA",
    }
    base.update(overrides)
    columns = EXTENDED_COLUMNS if layout == "extended" else STANDARD_COLUMNS
    return [base[c] for c in columns]


def entry_rows(number: str, *, ieepa_duty: str = "100.00", layout: str = "extended", **overrides: Any) -> list[list[object]]:
    """A commodity ordinal and a dutiable IEEPA ordinal (9903.01.25) for one entry."""
    from decimal import Decimal

    from entries.samplegen import Text

    return [
        sample_row(layout, **{"Entry Summary Number": Text(number), **overrides}),
        sample_row(layout, **{"Entry Summary Number": Text(number), "Tariff Ordinal Number": 2,
                              "HTS Number - Full": Text("99030125"), "Line Tariff Goods Value Amount": Decimal("0.00"),
                              "Line Tariff Duty Amount": Decimal(ieepa_duty), **overrides}),
    ]


@pytest.fixture
def write_es003(tmp_path: Path) -> Callable[..., Path]:
    def _write(rows: Sequence[Sequence[object]], *, name: str = "es003.csv", header: Sequence[str] | None = None,
               layout: str = "extended", title_lines: Sequence[str] = (), **kwargs: Any) -> Path:
        path = tmp_path / name
        if name.endswith(".xlsx"):
            return write_xlsx(path, rows, header=header, layout=layout, title_lines=title_lines, **kwargs)
        return write_csv(path, rows, header=header, layout=layout, title_lines=title_lines, **kwargs)

    return _write


@pytest.fixture
def ingest(django_capture_on_commit_callbacks: Any) -> Callable[..., Upload]:
    """Upload a file as the given user/organisation and process it (eagerly, as the task would)."""

    def _ingest(path: Path, *, organization: Any, user: Any = None, fast_csv: bool = True) -> Upload:
        upload_file = SimpleUploadedFile(path.name, path.read_bytes())
        with django_capture_on_commit_callbacks(execute=False):
            upload = upload_create(organization=organization, user=user, file=upload_file)
        with django_capture_on_commit_callbacks(execute=True):
            return upload_process(upload_id=upload.pk, fast_csv=fast_csv)

    return _ingest
