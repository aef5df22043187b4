"""A newer ES-003 that carries an entry gives all of that entry's lines: a line it no longer lists is removed
(with its duty), and the upload's change list names it; an older report removes nothing (issue 17, item 8).

Through the real service on both ingestion paths (the vectorised CSV path, the row path for CSV and XLSX),
on whichever database the run uses (SQLite by default; DATABASE_URL=postgres://... for PostgreSQL, where
new entries' lines are written straight into entries_tariffline), and through the upload page and the API.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cape.models import Classification
from entries.ingest import service as ingest_service
from entries.ingest.intake import upload_create
from entries.ingest.service import upload_process
from entries.models import Entry, TariffLine, Upload
from entries.samplegen import Text
from tests.entries.conftest import entry_rows, sample_row

pytestmark = pytest.mark.django_db

NUMBER = "00261103162"
OTHER = "60576069342"


def _line(line: int, ordinal: int, hts: str, duty: str, number: str = NUMBER) -> list[object]:
    return sample_row(**{"Entry Summary Number": Text(number), "Entry Summary Line Number": line,
                         "Tariff Ordinal Number": ordinal, "HTS Number - Full": Text(hts),
                         "Line Tariff Duty Amount": Decimal(duty)})


# Line 1: a commodity line with duty; line 2: a commodity ordinal and its IEEPA ordinal (9903.01.25).
REPORT_1 = [_line(1, 1, "8516797000", "25.00"), _line(2, 1, "3923900080", "0.00"), _line(2, 2, "99030125", "100.00")]
REPORT_2 = [_line(1, 1, "8516797000", "25.00")]  # the entry summary was corrected: line 2 is gone

REMOVED = [
    {"entry_number": NUMBER, "line_number": 2, "ordinal": 1, "hts": "3923900080", "duty": "0.00", "ieepa": False},
    {"entry_number": NUMBER, "line_number": 2, "ordinal": 2, "hts": "99030125", "duty": "100.00", "ieepa": True},
]


def _lines(number: str = NUMBER) -> list[tuple[int, int, str, Decimal]]:
    return list(TariffLine.objects.filter(entry__entry_number=number).order_by("line_number", "ordinal")
                .values_list("line_number", "ordinal", "hts", "duty"))


@pytest.fixture(params=["csv-fast", "csv-rows", "xlsx"])
def way(request: Any, monkeypatch: Any) -> str:
    """The ingestion path: the vectorised CSV path (checked to be taken), or the row path (CSV, XLSX)."""
    fast_lines: list[int] = []
    original = ingest_service.open_fast

    def spy(*args: Any, **kwargs: Any) -> Any:
        fast = original(*args, **kwargs)
        if fast is not None:
            batches = fast.batches

            def counted() -> Any:
                yield from batches()
                fast_lines.append(fast.parser.result.fast_lines)

            fast.batches = counted
        return fast

    monkeypatch.setattr(ingest_service, "open_fast", spy)
    request.node.fast_lines = fast_lines
    return request.param


@pytest.fixture
def ingest(ingest: Any, way: str) -> Any:
    """The ingestion of tests/entries/conftest.py, through the path this test's `way` names."""
    return functools.partial(ingest, fast_csv=way == "csv-fast")


def _name(way: str, stem: str) -> str:
    return f"{stem}.xlsx" if way == "xlsx" else f"{stem}.csv"


def test_a_newer_report_without_a_line_removes_it_and_its_ieepa_duty(request, way, write_es003, importer_org, alice, ingest) -> None:
    first = ingest(write_es003(REPORT_1, name=_name(way, "week1")), organization=importer_org, user=alice)
    assert first.status == Upload.Status.DONE, first.error_message
    entry = Entry.objects.get(entry_number=NUMBER)
    assert (entry.ieepa_duty, entry.total_duty) == (Decimal("100.00"), Decimal("125.00"))
    before = Classification.objects.get(entry=entry)
    assert before.ieepa_duty == Decimal("100.00")

    # The newer report also brings a new entry: its lines must all stay (on PostgreSQL they are written
    # directly under a reserved id, never staged).
    second = ingest(write_es003(REPORT_2 + entry_rows(OTHER), name=_name(way, "week2")), organization=importer_org, user=alice)
    assert second.status == Upload.Status.DONE, second.error_message
    if way == "csv-fast":
        assert request.node.fast_lines and request.node.fast_lines[-1] == 3  # every line of week 2 took the fast path

    assert _lines() == [(1, 1, "8516797000", Decimal("25.00"))]
    entry.refresh_from_db()
    assert (entry.ieepa_duty, entry.total_duty, entry.last_upload_id) == (Decimal("0.00"), Decimal("25.00"), second.pk)
    after = Classification.objects.get(entry=entry)
    assert after.ieepa_duty == Decimal("0.00") and after.path != before.path and after.path == "not_eligible"
    assert len(_lines(OTHER)) == 2

    s = second.summary
    assert s["changes"]["removed_lines"] == REMOVED and s["changes"]["removed_lines_count"] == 2
    assert (s["entries_created"], s["entries_updated"], s["entries_unchanged"]) == (1, 1, 0)


def test_the_same_report_again_removes_nothing(way, write_es003, importer_org, alice, ingest) -> None:
    ingest(write_es003(REPORT_1, name=_name(way, "week1")), organization=importer_org, user=alice)
    again = ingest(write_es003(REPORT_1, name=_name(way, "week1-again")), organization=importer_org, user=alice)
    assert len(_lines()) == 3
    assert again.summary["changes"]["removed_lines_count"] == 0
    assert (again.summary["entries_updated"], again.summary["entries_unchanged"]) == (0, 1)


def test_an_older_report_with_fewer_lines_removes_none(way, write_es003, importer_org, alice, django_capture_on_commit_callbacks) -> None:
    """The older report was uploaded first and processed last (two workers, or a retry): it is older than
    the report that last set the entry, so it does not take the entry's lines away."""

    def create(path: Path) -> Upload:
        with django_capture_on_commit_callbacks(execute=False):
            return upload_create(organization=importer_org, user=alice, file=SimpleUploadedFile(path.name, path.read_bytes()))

    older = create(write_es003(REPORT_2, name=_name(way, "old")))
    newer = create(write_es003(REPORT_1, name=_name(way, "new")))
    with django_capture_on_commit_callbacks(execute=True):
        assert upload_process(upload_id=newer.pk, fast_csv=way == "csv-fast").status == Upload.Status.DONE
        late = upload_process(upload_id=older.pk, fast_csv=way == "csv-fast")
    assert late.status == Upload.Status.DONE, late.error_message
    assert len(_lines()) == 3
    assert Entry.objects.get(entry_number=NUMBER).ieepa_duty == Decimal("100.00")
    assert late.summary["changes"]["removed_lines_count"] == 0


def test_the_upload_page_and_the_api_show_the_removed_line(client, write_es003, importer_org, alice, django_capture_on_commit_callbacks) -> None:
    client.force_login(alice)
    week1, week2 = write_es003(REPORT_1, name="week1.csv"), write_es003(REPORT_2, name="week2.csv")
    with django_capture_on_commit_callbacks(execute=True), week1.open("rb") as fh:
        assert client.post(reverse("upload_new"), {"files": [fh]}).status_code == 302
    with django_capture_on_commit_callbacks(execute=True), week2.open("rb") as fh:
        response = client.post("/api/uploads/", {"files": [fh]})
    assert response.status_code == 201, response.content
    upload_id = response.json()[0]["id"]
    detail = client.get(f"/api/uploads/{upload_id}/").json()
    assert detail["summary"]["changes"]["removed_lines"] == REMOVED
    page = client.get(reverse("upload_detail", args=[upload_id])).content.decode()
    assert "<strong>2</strong> tariff lines removed" in page
    assert f"{NUMBER} line 2 ordinal 2: HTS 99030125, duty $100.00 (IEEPA)" in page
    assert _lines() == [(1, 1, "8516797000", Decimal("25.00"))]
