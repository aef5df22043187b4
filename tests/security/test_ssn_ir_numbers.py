"""Issue #17 item 7: an importer whose IR number is a Social Security number (NNN-NN-NNNN, CBP Form 5106)
never has that number in full in an output: pages, the API, the XLSX workbooks (the portfolio's included),
the readiness PDF, the ICS calendar, the ACH CSV, the CAPE declaration download and the names of the
CAPE files the classify_es003 command writes. Only the last four digits are shown (accounts.irnumber).

Left out on purpose, because the full number is what they are for: the sub-account request letter to CBP
(CBP matches it to the importer record) and the owner's export of all its organisation's data.
"""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ach.models import AchEnrollment, NotifyParty
from cape.declarations import declaration_build, declaration_export, declaration_record_submission
from cape.models import Classification, Declaration
from cape.selectors import classifications_for
from entries.samplegen import Text, entry_number, write_csv
from tests.cape.factories import eligible_entry
from tests.factories import GrantFactory, ImporterFactory, api_key_for

pytestmark = pytest.mark.django_db

SSN = "123-45-6789"
FULL = [SSN, "123456789", "123 45 6789", "123_45_6789"]


def _text(response: Any) -> str:
    """Everything a person receiving the response reads: headers that name the file, and the content
    (a workbook's cells, a PDF's text)."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    kind = response.get("Content-Type", "")
    if "spreadsheetml" in kind:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(body), read_only=True)
        text = " ".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None)
        text += " " + " ".join(ws.title for ws in wb.worksheets)
    elif "pdf" in kind:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(body))
        text = " ".join(page.extract_text() or "" for page in reader.pages)
        text += " " + json.dumps({k: str(v) for k, v in (reader.metadata or {}).items()})
    else:
        text = body.decode("utf-8", errors="replace")
    return f"{response.get('Content-Disposition', '')}\n{text}"


def _assert_masked(text: str, where: str) -> None:
    for form in FULL:
        assert form not in text, f"{where} shows the SSN-form importer number in full ({form!r})"


@pytest.fixture
def sole(alice, bob, importer_org, broker_org) -> Any:  # type: ignore[no-untyped-def]
    """A sole proprietor importing under an SSN (owned by Alice's organisation, managed by Harbor too),
    with entries on CAPE, a declaration accepted by CBP, an ACH enrollment and a 4811 notify party."""
    importer = ImporterFactory(owner=importer_org, ir_number=SSN, name="Pat Doe Sole Prop")
    GrantFactory(importer=importer, organization=broker_org)
    today = timezone.localdate()
    for org in (importer_org, broker_org):
        for _ in range(2):
            entry = eligible_entry(importer, organization=org, ieepa_duty=Decimal("250.00"))
            Classification.objects.filter(entry=entry).update(cape_window_closes=today + timedelta(days=20),
                                                              deadline=today + timedelta(days=20))
    AchEnrollment.objects.create(importer=importer, status=AchEnrollment.Status.ACTIVE, bank_name="Sole Bank",
                                 routing_number="011000015", account_last4="4321", account_type="checking")
    NotifyParty.objects.create(importer=importer, name="Sole Notify", ir_number="77-123456700")
    for org, user in ((importer_org, alice), (broker_org, bob)):
        first = classifications_for(org).filter(importer=importer).values_list("entry_id", flat=True)[:1]
        d = declaration_build(organization=org, user=user, entry_ids=list(first)).declarations[0]
        declaration_export(declaration=d, user=user)
        declaration_record_submission(declaration=d, submitted_on=today, claim_number=f"10000024{org.pk:04d}", user=user)
        Declaration.objects.filter(pk=d.pk).update(status=Declaration.Status.ACCEPTED, accepted_on=today)
    return importer


def _outputs(client: Client, importer: Any, org_slug: str) -> dict[str, Any]:
    own = Declaration.objects.filter(organization__slug=org_slug)
    decl = own.exclude(status=Declaration.Status.DRAFT).first()
    draft = own.filter(status=Declaration.Status.DRAFT).first()
    urls = [
        reverse("dashboard"), reverse("client_dashboard", args=[importer.pk]), reverse("portfolio_export"),
        f"{reverse('portfolio_export')}?q=6789", reverse("exports"),
        reverse("cape_home"), reverse("cape_declaration", args=[decl.pk]), reverse("cape_refunds"),
        reverse("cape_refund_timeline", args=[importer.pk]), reverse("cape_export_workbook"),
        f"{reverse('cape_export_workbook')}?importer={importer.pk}", reverse("cape_export_readiness", args=[importer.pk]),
        reverse("cape_export_calendar"), f"{reverse('cape_export_calendar')}?importer={importer.pk}",
        reverse("cape_declaration_download", args=[decl.pk]),
        reverse("ach_home"), reverse("ach_export"), reverse("ach_importer", args=[importer.pk]),
        "/accounts/importers/", f"/entries/?importer={importer.pk}",
    ]
    out = {url: client.get(url) for url in urls}
    if draft is not None:
        out["POST download"] = client.post(reverse("cape_declaration_download", args=[draft.pk]))
    return out


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_no_page_or_export_shows_an_ssn_form_importer_number_in_full(sole, who, request) -> None:  # type: ignore[no-untyped-def]
    user = request.getfixturevalue(who)
    slug = "blue-heron" if who == "alice" else "harbor"
    org = user.memberships.get().organization
    # One more draft, built from the page with no name (its default name is the importer's).
    draft_entry = classifications_for(org).filter(importer=sole).exclude(
        entry__declaration_items__isnull=False).values_list("entry__entry_number", flat=True).first()
    client = Client()
    client.force_login(user)
    assert client.post(reverse("cape_home"), {"paths": ["cape_phase1"], "entry_numbers": draft_entry}).status_code == 200
    outputs = _outputs(client, sole, slug)
    for where, response in outputs.items():
        assert response.status_code == 200, f"{where} -> {response.status_code}"
        _assert_masked(_text(response), where)
    # The last four digits do identify the importer where it is listed.
    assert "***-**-6789" in _text(outputs[reverse("portfolio_export")])
    assert "6789" in _text(outputs[reverse("cape_export_readiness", args=[sole.pk])])
    token = Client(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}", HTTP_X_ORGANIZATION=slug)
    for url in ("/api/importers/", f"/api/importers/{sole.pk}/", "/api/declarations/", "/api/ach/"):
        r = token.get(url)
        if r.status_code == 404 and url == "/api/ach/":
            continue
        assert r.status_code == 200, url
        _assert_masked(_text(r), url)


def test_the_cape_files_written_by_the_command_are_named_without_the_ssn(tmp_path: Path) -> None:
    ein = ("27-123456700", "Red Fox Imports LLC")
    rows = []
    for ir, name, serial in ((SSN, "Pat Doe Sole Prop", 7000000), ("987-65-6789", "Lee Roe Sole Prop", 7100000),
                             (ein[0], ein[1], 7200000)):
        for i in range(2):
            rows.append([Text(entry_number("3BZ", serial + i)), 1, Text("01"), Text(ir), name, Text("1001"),
                         date(2026, 1, 20), date(2026, 1, 28), "CN", "CN", 1, Text("99030125"), Decimal("1000.00"),
                         Decimal("100.00"), 1, "PCS", None, "Unliquidated", "N", "", "", "N", "Harbor Customs Brokerage",
                         date(2026, 1, 20), "", "CNMANUF123SHA"])
    write_csv(tmp_path / "a.csv", rows)
    cape_dir = tmp_path / "cape"
    call_command("classify_es003", str(tmp_path / "a.csv"), "--as-of", "2026-11-22", "--json", str(tmp_path / "o.json"),
                 "--cape-dir", str(cape_dir), stdout=io.StringIO())
    names = sorted(f.name for f in cape_dir.iterdir())
    assert len(names) == 3, names
    for name in names:
        _assert_masked(name, f"file name {name}")
        for form in ("987-65-6789", "987656789"):
            assert form not in name
    # EIN-form importer numbers still name their files (they are business identifiers, not personal data);
    # the two sole proprietors sharing the last four digits get two files, not one overwriting the other.
    assert "cape_27-123456700_001.csv" in names
    assert len([n for n in names if "6789" in n]) == 2
    # The file's content is what CBP takes: entry numbers only, unchanged.
    for f in cape_dir.iterdir():
        assert f.read_bytes().startswith(b"Entry Number\n")
