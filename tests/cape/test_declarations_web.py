"""Pages and API: build, preflight, download, submission, claim details; tenancy and roles."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from ach.models import AchEnrollment
from cape.models import Declaration
from tests.cape.factories import eligible_entry

pytestmark = pytest.mark.django_db


def test_the_cape_home_lists_and_builds(client, alice, importer_org, own_importer) -> None:
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    e = eligible_entry(own_importer)
    client.force_login(alice)
    r = client.get(reverse("cape_home"))
    assert r.status_code == 200 and b"Build declarations" in r.content
    r = client.post(reverse("cape_home"), {"paths": ["cape_phase1", "cape_phase2"]})
    assert r.status_code == 200
    d = Declaration.objects.get()
    assert d.name.encode() in r.content and b"Preflight passed" in r.content
    r = client.get(reverse("cape_declaration", args=[d.pk]))
    assert e.entry_number_display.encode() in r.content and b"Download the CAPE file" in r.content
    r = client.post(reverse("cape_declaration_download", args=[d.pk]))
    assert r.status_code == 200 and r.content == bytes(d.file_bytes) and r["X-Content-SHA256"] == d.sha256
    r = client.post(reverse("cape_declaration_submission", args=[d.pk]), {"submitted_on": timezone.localdate().isoformat(), "claim_number": "100000241223"})
    assert r.status_code == 302
    upload = SimpleUploadedFile("claims.csv", f'ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\n="{e.entry_number}",="100000241223",Failed,INVALID HTS\n'.encode())
    r = client.post(reverse("cape_declaration_claim_details", args=[d.pk]), {"file": upload})
    assert r.status_code == 200 and b"1 rejected" in r.content
    assert Declaration.objects.get().status == "rejected"
    r = client.get(reverse("cape_refile"))
    assert b"Waiting for a post-summary correction (1)" in r.content


def test_the_build_form_names_bad_entry_numbers(client, alice, own_importer) -> None:
    client.force_login(alice)
    r = client.post(reverse("cape_home"), {"paths": ["cape_phase1"], "entry_numbers": "00261103162\n00261103163"})
    assert b"00261103163" in r.content and b"check digit" in r.content and not Declaration.objects.exists()


def test_a_viewer_sees_but_cannot_build_or_download(client, vera, alice, importer_org, own_importer) -> None:
    eligible_entry(own_importer)
    from cape.declarations import declaration_build

    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    client.force_login(vera)
    assert client.get(reverse("cape_home")).status_code == 200
    assert client.post(reverse("cape_home"), {"paths": ["cape_phase1"]}).status_code == 403
    r = client.post(reverse("cape_declaration_download", args=[d.pk]))
    assert r.status_code == 403 and Declaration.objects.get().status == "draft"
    assert client.post(reverse("cape_declaration_submission", args=[d.pk]), {}).status_code == 403


def test_another_tenants_declaration_is_a_404(client, charlie, alice, importer_org, own_importer) -> None:
    eligible_entry(own_importer)
    from cape.declarations import declaration_build

    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    client.force_login(charlie)
    for name in ["cape_declaration", "cape_declaration_download"]:
        assert client.get(reverse(name, args=[d.pk])).status_code == 404
    assert client.post(reverse("cape_declaration_download", args=[d.pk])).status_code == 404
    assert client.get(f"/api/declarations/{d.pk}/").status_code == 404
    listed = client.get("/api/declarations/").json()
    assert (listed["results"] if isinstance(listed, dict) else listed) == []


def test_the_api_builds_preflights_downloads_records_and_imports(client, bob, broker_org, own_importer) -> None:
    e = eligible_entry(own_importer, organization=broker_org)
    client.force_login(bob)
    r = client.post("/api/declarations/build/", {"importers": [own_importer.pk]}, content_type="application/json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert len(body["declarations"]) == 1 and body["left_out"] == []
    pk = body["declarations"][0]["id"]
    r = client.post(f"/api/declarations/{pk}/preflight/")
    checks = {c["code"]: c for c in r.json()["checks"]}
    assert not checks["ach_refund_route"]["passed"] and checks["entry_number_format"]["passed"]
    assert client.get(f"/api/declarations/{pk}/download/").status_code == 400  # a draft downloads by POST only
    r = client.post(f"/api/declarations/{pk}/download/")
    assert r.status_code == 200 and r.content == f"Entry Number\n{e.entry_number}\n".encode()
    r = client.post(f"/api/declarations/{pk}/submission/", {"submitted_on": timezone.localdate().isoformat(), "claim_number": "12x"},
                    content_type="application/json")
    assert r.status_code == 400 and "claim_number" in r.json()
    r = client.post(f"/api/declarations/{pk}/submission/", {"submitted_on": timezone.localdate().isoformat(), "claim_number": "100000241223"},
                    content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    upload = SimpleUploadedFile("c.csv", f'ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\n="{e.entry_number}",="100000241223",Entry Summary Updated,\n'.encode())
    r = client.post(f"/api/declarations/{pk}/claim-details/", {"file": upload, "accepted_on": "2026-05-01"})
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    listed = client.get("/api/declarations/").json()
    items = listed["results"] if isinstance(listed, dict) else listed
    assert items[0]["refund_expected_by"] == "2026-07-30" and items[0]["expected_liquidation"] == "2026-06-15"
    # accepted: the engine moved the entry to "filed", so a second build has nothing to declare
    r = client.post("/api/declarations/build/", {}, content_type="application/json")
    assert r.json() == {"declarations": [], "left_out": [], "considered": 0}


def test_the_refund_report_api(client, alice, own_importer) -> None:
    client.force_login(alice)
    e = eligible_entry(own_importer)
    upload = SimpleUploadedFile("rev603.csv", f'Entry Number,Secondary Status,Secondary Status Date,Refund Amount\n="{e.entry_number}",Sent to Treasury,07/01/2026,$10.00\n'.encode())
    r = client.post("/api/refund-reports/", {"report": "rev603", "file": upload})
    assert r.status_code == 201 and r.json()["created"] == 1
    r = client.get(reverse("cape_refunds"))
    assert r.status_code == 200 and b"$10.00" in r.content
    r = client.get(reverse("cape_refund_timeline", args=[own_importer.pk]))
    assert r.status_code == 200 and b"Sent to Treasury" in r.content


def test_the_page_says_nothing_matched_and_lists_the_unknown_entries(client, alice, importer_org, own_importer) -> None:
    eligible_entry(own_importer)
    client.force_login(alice)
    client.post(reverse("cape_home"), {"paths": ["cape_phase1"]})
    d = Declaration.objects.get()
    client.post(reverse("cape_declaration_download", args=[d.pk]))
    client.post(reverse("cape_declaration_submission", args=[d.pk]), {"submitted_on": timezone.localdate().isoformat(), "claim_number": "100000241223"})
    upload = SimpleUploadedFile("wrong.csv", b'ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\n="60576069342",="100000241223",Failed,INVALID HTS\n')
    r = client.post(reverse("cape_declaration_claim_details", args=[d.pk]), {"file": upload})
    assert r.status_code == 200
    assert b"Nothing matched: none of the 1 row in wrong.csv names an entry on this declaration" in r.content
    assert b'data-testid="claims-unmatched"' in r.content and b"60576069342" in r.content
    assert Declaration.objects.get().status == "submitted"


def test_an_importer_level_warning_is_one_finding_with_its_count_and_one_summary(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    """Issue #20, item 3: an importer without ACH is one finding for all its entries, not a line per entry,
    and the build result, the message and the page say the same thing as the table ("1 warning")."""
    entries = [eligible_entry(own_importer) for _ in range(30)]  # no ACH enrollment: a warning per entry
    client.force_login(alice)
    r = client.post(reverse("cape_home"), {"paths": ["cape_phase1", "cape_phase2"]})
    d = Declaration.objects.get()
    assert b"Preflight passed with" in r.content and b"preflight passed</span>" not in r.content
    page = client.get(reverse("cape_declaration", args=[d.pk])).content.decode()
    assert "Preflight passed with 1 warning." in page
    finding = "no active ACH refund enrollment or qualifying 4811 notify party"
    assert page.count(finding) == 1
    assert "30 entries" in page
    for e in entries:  # the entries are still there, on demand
        assert e.entry_number in page
    assert "README" not in page and "seed 0" not in page


def test_a_viewer_downloads_a_drafts_file_from_its_page_and_nothing_changes(client, alice, vera, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    """Issue #20, item 12: compliance viewers download the CAPE file on the declaration page, drafts included;
    reading it is not a change (the draft stays a draft, and no audit row says it was exported)."""
    from accounts.models import AuditLog

    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    eligible_entry(own_importer)
    client.force_login(alice)
    client.post(reverse("cape_home"), {"paths": ["cape_phase1", "cape_phase2"]})
    d = Declaration.objects.get()
    assert d.status == Declaration.Status.DRAFT
    client.force_login(vera)
    page = client.get(reverse("cape_declaration", args=[d.pk])).content.decode()
    assert "Download a copy of this draft (CSV)" in page
    audit_before = AuditLog.objects.count()
    r = client.get(reverse("cape_declaration_download", args=[d.pk]))
    assert r.status_code == 200 and r.content == bytes(d.file_bytes)
    assert f'filename="cape-declaration-{d.pk}-draft.csv"' in r["Content-Disposition"]
    d.refresh_from_db()
    assert d.status == Declaration.Status.DRAFT and d.exported_at is None
    assert AuditLog.objects.count() == audit_before
    assert client.post(reverse("cape_declaration_download", args=[d.pk])).status_code == 403  # filing stays staff's
