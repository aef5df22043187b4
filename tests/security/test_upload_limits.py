"""Size limits on the small CSV imports, through the pages and the API: the 5106 import
(FORM5106_MAX_IMPORT_BYTES), CAPE Claim Details and the REV-603/REV-615 refund reports (cape/forms.py
REPORT_MAX_BYTES, capped by MAX_UPLOAD_SIZE). A file over the limit is refused with a message naming the
limit, and nothing is stored."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Form5106Record
from cape.models import Declaration, DeclarationEntry, RefundEvent
from tests.factories import EntryFactory

pytestmark = pytest.mark.django_db

FORM5106_HEADER = "IR Number,Company Name,POC Email,Address,Date Last Updated\r\n"
CLAIMS_HEADER = "ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\r\n"


def _padded(header: str, row: str, size: int) -> bytes:
    """A valid CSV of at least ``size`` bytes: the row repeated (the same row repeated is still one record)."""
    body = header
    while len(body) < size:
        body += row
    return body.encode()


def _csv(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


# ---------------------------------------------------------------- 5106 import
def test_a_5106_import_over_the_limit_is_refused_and_stores_nothing(alice, client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.FORM5106_MAX_IMPORT_BYTES = 2048
    client.force_login(alice)
    # Alice's own importer: an importer organisation imports 5106 records for its own importers only.
    row = "93-417726100,Imported Co,poc@imported.example,1 Road,01/02/2026\r\n"
    response = client.post("/onboarding/5106/import/", {"file": _csv("big.csv", _padded(FORM5106_HEADER, row, 4096))})
    text = response.content.decode()
    assert "the limit is 2,048 bytes" in text and "big.csv" in text
    assert not Form5106Record.objects.exists()
    # Under the limit the same rows import: the limit, not the content, refused it.
    response = client.post("/onboarding/5106/import/", {"file": _csv("small.csv", (FORM5106_HEADER + row).encode())})
    assert response.status_code == 200
    assert Form5106Record.objects.filter(company_name="Imported Co").exists()


def test_the_api_5106_import_over_the_limit_is_refused(alice, client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.FORM5106_MAX_IMPORT_BYTES = 2048
    client.force_login(alice)
    row = "21-765432300,Imported Co,poc@imported.example,1 Road,01/02/2026\r\n"
    response = client.post("/api/form5106/import/", {"file": _csv("big.csv", _padded(FORM5106_HEADER, row, 4096))},
                           HTTP_X_ORGANIZATION="blue-heron")
    assert response.status_code == 400 and "2,048" in response.content.decode()
    assert not Form5106Record.objects.exists()


# ---------------------------------------------------------------- CAPE claim details and refund reports
@pytest.fixture
def filed(alice, own_importer, importer_org) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    entry = EntryFactory(organization=importer_org, importer=own_importer)
    declaration = Declaration.objects.create(organization=importer_org, importer=own_importer, name="filed", entry_count=1,
                                             status=Declaration.Status.SUBMITTED, submitted_on=date(2026, 1, 3),
                                             claim_number="100000241223")
    DeclarationEntry.objects.create(declaration=declaration, entry=entry, position=1)
    row = f"{entry.entry_number},100000241223,ACCEPTED,\r\n"
    return {"entry": entry, "declaration": declaration, "row": row}


def _declaration_state(declaration: Declaration) -> tuple[Any, ...]:
    declaration.refresh_from_db()
    outcomes = tuple(DeclarationEntry.objects.filter(declaration=declaration).values_list("outcome", flat=True))
    return declaration.status, declaration.accepted_on, outcomes


@pytest.mark.parametrize("limit_from", ["REPORT_MAX_BYTES", "MAX_UPLOAD_SIZE"])
def test_claim_details_over_the_limit_are_refused_on_the_page(limit_from, filed, alice, client, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if limit_from == "REPORT_MAX_BYTES":
        monkeypatch.setattr("cape.forms.REPORT_MAX_BYTES", 2048)
    else:
        settings.MAX_UPLOAD_SIZE = 2048
    client.force_login(alice)
    declaration = filed["declaration"]
    before = _declaration_state(declaration)
    url = f"/cape/declarations/{declaration.pk}/claim-details/"
    response = client.post(url, {"file": _csv("claims.csv", _padded(CLAIMS_HEADER, filed["row"], 4096))})
    assert "the limit is 2,048 bytes" in response.content.decode()
    assert _declaration_state(declaration) == before
    # The same outcome under the limit is recorded.
    client.post(url, {"file": _csv("claims.csv", (CLAIMS_HEADER + filed["row"]).encode())})
    assert _declaration_state(declaration) != before


def test_claim_details_over_the_limit_are_refused_by_the_api(filed, alice, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("cape.api.REPORT_MAX_BYTES", 2048)
    client.force_login(alice)
    declaration = filed["declaration"]
    before = _declaration_state(declaration)
    response = client.post(f"/api/declarations/{declaration.pk}/claim-details/",
                           {"file": _csv("claims.csv", _padded(CLAIMS_HEADER, filed["row"], 4096))},
                           HTTP_X_ORGANIZATION="blue-heron")
    assert response.status_code == 400 and "the limit is 2,048 bytes" in response.json()["file"][0]
    assert _declaration_state(declaration) == before


def test_the_api_honours_max_upload_size_for_claim_details_too(filed, alice, client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MAX_UPLOAD_SIZE = 2048
    client.force_login(alice)
    response = client.post(f"/api/declarations/{filed['declaration'].pk}/claim-details/",
                           {"file": _csv("claims.csv", _padded(CLAIMS_HEADER, filed["row"], 4096))},
                           HTTP_X_ORGANIZATION="blue-heron")
    assert response.status_code == 400


REV603_HEADER = "ENTRY_NUMBER,REFUND_AMOUNT,SENT_TO_TREASURY_DATE\r\n"


def test_refund_reports_over_the_limit_are_refused_on_the_page_and_by_the_api(filed, alice, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("cape.forms.REPORT_MAX_BYTES", 2048)
    monkeypatch.setattr("cape.api.REPORT_MAX_BYTES", 2048)
    client.force_login(alice)
    big = _padded(REV603_HEADER, f"{filed['entry'].entry_number},100.00,01/15/2026\r\n", 4096)
    response = client.post("/cape/refunds/", {"report": "rev603", "file": _csv("rev603.csv", big)})
    assert "the limit is 2,048 bytes" in response.content.decode()
    response = client.post("/api/refund-reports/", {"report": "rev603", "file": _csv("rev603.csv", big)},
                           HTTP_X_ORGANIZATION="blue-heron")
    assert response.status_code == 400 and "the limit is 2,048 bytes" in response.content.decode()
    assert not RefundEvent.objects.exists()
