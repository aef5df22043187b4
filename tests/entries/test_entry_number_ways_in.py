"""One entry number, typed every way people and spreadsheets type it, through every way a number comes in:
the same number everywhere, or refused everywhere (issue #21: an upload repaired Excel's leading apostrophe
that the build form and the Claim Details import refused, and plain double quotes the other way round).

The ways in: an ES-003 upload on the vectorised CSV path, on the row path (CSV and XLSX), the CAPE build
form, a CAPE Claim Details import, the entries search (page and API) and the entry facts file (API). The
repairs themselves are entries.entrynumber's (tests/entries/test_entrynumber.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse

from accounts.services import ServiceError
from cape.declarations import declaration_import_claim_details
from cape.forms import BuildForm
from entries.ingest import service as ingest_service
from entries.models import Entry
from entries.samplegen import write_csv, write_xlsx
from tests.cape.factories import ClassificationFactory, DeclarationEntryFactory, DeclarationFactory
from tests.entries.conftest import entry_rows
from tests.factories import EntryFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

LETTERS = "3BZ55001204"  # a filer code with letters (check digit verified in tests/entries/test_entrynumber.py)
ZEROS = "00261103162"  # real numbers, shared/domain/README.md §3
FLOAT = "60576069342"

# (as typed, the entry number it is; None: refused everywhere)
FORMS: list[tuple[str, str | None]] = [
    (LETTERS, LETTERS),
    ("3BZ-5500120-4", LETTERS),  # as printed on a 7501
    ("3BZ 5500120 4", LETTERS),
    ("3bz55001204", LETTERS),
    ("3bz-5500120-4", LETTERS),
    (" 3BZ55001204 ", LETTERS),
    ("3BZ\u20135500120\u20134", LETTERS),  # en dashes, as a word processor turns them
    ("'3BZ55001204", LETTERS),  # Excel's leading apostrophe (keep as text)
    ("'3BZ-5500120-4", LETTERS),
    ('"3BZ55001204"', LETTERS),  # plain double quotes
    ('="3BZ55001204"', LETTERS),  # ACE Portal's CSV guard
    ("'261103162", ZEROS),
    ("261103162", ZEROS),  # Excel dropped the leading zeros
    ('"261103162"', ZEROS),
    ("002-6110316-2", ZEROS),
    ("6.0576069342E10", FLOAT),  # Excel's float notation
    ("60576069342.0", FLOAT),
    ("3BZ-55001-2045", None),  # 12 characters
    ("3BZ55001204X", None),
    ("ABCDEFGHIJK", None),
]


class _Rollback(Exception):
    pass


def _csv_line(*cells: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def _uploaded(path: Path, org: Any, user: Any, ingest: Any, monkeypatch: Any, *, fast: bool) -> tuple[str | None, int]:
    """The entry number an ES-003 upload stores (None: none stored, the row reported) and the lines the
    vectorised path kept; everything is rolled back afterwards."""
    kept: list[int] = []
    original = ingest_service.open_fast

    def spy(*args: Any, **kwargs: Any) -> Any:
        reader = original(*args, **kwargs)
        if reader is not None:
            batches = reader.batches

            def counted() -> Any:
                yield from batches()
                kept.append(reader.parser.result.fast_lines)

            reader.batches = counted
        return reader

    monkeypatch.setattr(ingest_service, "open_fast", spy)
    result: list[str | None] = []
    try:
        with transaction.atomic():
            upload = ingest(path, organization=org, user=user, fast_csv=fast)
            numbers = list(Entry.objects.values_list("entry_number", flat=True))
            assert len(numbers) <= 1
            if not numbers:
                assert {e["column"] for e in upload.errors} == {"Entry Summary Number"}, upload.errors
            result.append(numbers[0] if numbers else None)
            raise _Rollback
    except _Rollback:
        pass
    return result[0], sum(kept)


def _found(response: Any) -> str | None:
    rows = [c.entry.entry_number for c in response.context["page"].rows]
    assert len(rows) <= 1
    return rows[0] if rows else None


def _build_form(typed: str, org: Any) -> str | None:
    form = BuildForm(data={"entry_numbers": typed, "paths": ["cape_phase1"]}, organization=org)
    form.is_valid()
    if "entry_numbers" in form.errors:
        return None
    numbers = form.cleaned_data["entry_numbers"]
    assert len(numbers) == 1
    return numbers[0]


def _claim_details(typed: str, org: Any, entry: Entry) -> str | None:
    declaration = DeclarationFactory(organization=org, status="submitted")
    item = DeclarationEntryFactory(declaration=declaration, entry=entry)
    data = ("ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\n" + _csv_line(typed, "100000241223", "Entry Summary Updated", ""))
    try:
        declaration_import_claim_details(declaration=declaration, data=data.encode())
    except ServiceError as exc:
        assert "not a valid 11-character entry number" in exc.message
        return None
    item.refresh_from_db()
    assert item.outcome == "accepted"
    return item.entry.entry_number


def _facts_api(typed: str, client: Any, tmp_path: Path) -> str | None:
    p = tmp_path / "facts.csv"
    p.write_text("Entry Number,Surety Paid\n" + _csv_line(typed, "Y"), encoding="utf-8")
    with p.open("rb") as fh:
        body = client.post("/api/entry-facts/", {"file": fh}).json()
    if body["errors"]:
        assert [e["column"] for e in body["errors"]] == ["Entry Number"] and not body["changes"]
        return None
    [change] = body["changes"]
    return change["entry_number"]


@pytest.mark.parametrize(("typed", "number"), FORMS)
def test_an_entry_number_is_the_same_number_through_every_way_in(
    typed: str, number: str | None, client: Any, alice: Any, importer_org: Any, own_importer: Any, ingest: Any,
    monkeypatch: Any, tmp_path: Path,
) -> None:
    seen: dict[str, str | None] = {}
    rows = entry_rows(typed)  # as a Text cell: ="…" around what was typed, which is how ACE would guard it
    for row in rows:
        row[0] = typed  # the cell exactly as typed
    csv_path = write_csv(tmp_path / "es003.csv", rows)
    seen["ES-003 upload, vectorised path"], fast_lines = _uploaded(csv_path, importer_org, alice, ingest, monkeypatch, fast=True)
    assert fast_lines == (2 if number else 0)  # the vectorised path itself kept the entry's two lines
    seen["ES-003 upload, row path"], _ = _uploaded(csv_path, importer_org, alice, ingest, monkeypatch, fast=False)
    xlsx_path = write_xlsx(tmp_path / "es003.xlsx", rows)
    seen["ES-003 upload, XLSX"], _ = _uploaded(xlsx_path, importer_org, alice, ingest, monkeypatch, fast=True)

    # The entry as stored (refused forms: the entry they come closest to, which none of the ways may find).
    entry = EntryFactory(organization=importer_org, importer=own_importer, entry_number=number or LETTERS)
    ClassificationFactory(entry=entry)
    client.force_login(alice)
    seen["CAPE build form"] = _build_form(typed, importer_org)
    seen["CAPE Claim Details import"] = _claim_details(typed, importer_org, entry)
    seen["entries search, page"] = _found(client.get(reverse("entry_list"), {"q": typed}))
    found = client.get(reverse("entry-list"), {"q": typed}).json()["results"]
    seen["entries search, API"] = found[0]["entry_number"] if found else None
    seen["entry facts file, API"] = _facts_api(typed, client, tmp_path)

    assert seen == dict.fromkeys(seen, number)
