"""ACH pages: the TAO walk-through, status with evidence, notify party, special cases, rejections by hand,
and the broker view sorted by IEEPA duty at risk."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditLog, ReadinessState
from ach.models import AchEnrollment, AchRejection, NotifyParty
from cape.models import Classification
from tests.ach.factories import AchEnrollmentFactory, NotifyPartyFactory
from tests.factories import EntryFactory, GrantFactory, ImporterFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def _classify(org, importer, duty: str, path: str = "cape_phase1") -> None:  # type: ignore[no-untyped-def]
    entry = EntryFactory(organization=org, importer=importer, ieepa_duty=Decimal(duty))
    Classification.objects.create(entry=entry, importer=importer, ieepa_duty=Decimal(duty), path=path,
                                  ruleset="test", as_of=date(2026, 5, 20))


def _bank(client, importer) -> None:  # type: ignore[no-untyped-def]
    r = client.post(reverse("ach_enrollment_save", args=[importer.pk]), {
        "bank_name": "First Bank", "routing_number": "111000025", "account_number": "4455667788", "account_number_confirm": "4455667788",
        "account_type": "savings", "account_holder": "Blue Heron Housewares Inc"})
    assert r.status_code == 302, r.content.decode()[:2000]


def test_the_page_walks_the_tao_through_ace_and_says_we_never_submit(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    html = client.get(reverse("ach_importer", args=[own_importer.pk])).content.decode()
    for text in ("Trade Account Owner (TAO)", "ACH Refund Authorization", "5106", "never submits anything to CBP", "Not started",
                 "nowhere to pay"):
        assert text in html


@time_machine.travel("2026-05-20 12:00 -04:00", tick=False)
def test_status_moves_from_entered_to_confirmed_active_with_evidence(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    _bank(client, own_importer)
    r = client.post(reverse("ach_entered", args=[own_importer.pk]), {"entered_on": "2026-05-11", "entered_by": "Alice Ng (TAO)"})
    assert r.status_code == 302
    enrollment = AchEnrollment.objects.get(importer=own_importer)
    assert (enrollment.status, enrollment.entered_on, enrollment.entered_by) == ("entered", date(2026, 5, 11), "Alice Ng (TAO)")
    r = client.post(reverse("ach_confirm_active", args=[own_importer.pk]),
                    {"seen_on": "2026-05-13", "evidence": SimpleUploadedFile("ace.png", PNG, "image/png")})
    assert r.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == "active" and enrollment.confirmed_on == date(2026, 5, 13) and enrollment.evidence
    served = client.get(reverse("ach_evidence", args=[own_importer.pk]))
    assert served.status_code == 200 and b"".join(served.streaming_content).startswith(b"\x89PNG")
    html = client.get(reverse("ach_importer", args=[own_importer.pk])).content.decode()
    assert "Confirmed active" in html and "05/13/2026" in html and "can be paid" in html
    actions = set(AuditLog.objects.filter(object_type="ach.achenrollment").values_list("action", flat=True))
    assert {"ach.details_save", "ach.entered", "ach.confirmed_active"} <= actions


@time_machine.travel("2026-05-20 12:00 -04:00", tick=False)
@pytest.mark.parametrize(("name", "content", "message"), [
    ("ace.exe", b"MZ\x90\x00" + b"\x00" * 40, "PDF, PNG or JPEG"),
    ("ace.png", b"GIF89a" + b"\x00" * 40, "PDF, PNG or JPEG"),  # the name says PNG, the bytes do not
    ("ace.pdf", PDF + b"\x00" * (5 * 1024 * 1024), "the limit is"),
])
def test_evidence_type_and_size_are_validated(client, alice, own_importer, name, content, message) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    _bank(client, own_importer)
    r = client.post(reverse("ach_confirm_active", args=[own_importer.pk]), {"seen_on": "2026-05-13", "evidence": SimpleUploadedFile(name, content)})
    assert r.status_code == 400 and message in r.content.decode()
    assert AchEnrollment.objects.get(importer=own_importer).status == "not_started"


def test_a_pdf_is_accepted_as_evidence(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    _bank(client, own_importer)
    r = client.post(reverse("ach_confirm_active", args=[own_importer.pk]),
                    {"seen_on": "2026-01-13", "evidence": SimpleUploadedFile("ace.pdf", PDF, "application/pdf")})
    assert r.status_code == 302
    assert AchEnrollment.objects.get(importer=own_importer).evidence.name.endswith(".pdf")


def test_changing_the_account_after_it_was_entered_resets_the_status(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    _bank(client, own_importer)
    client.post(reverse("ach_entered", args=[own_importer.pk]), {"entered_on": "2026-01-11", "entered_by": "Alice"})
    client.post(reverse("ach_enrollment_save", args=[own_importer.pk]), {
        "bank_name": "Other Bank", "routing_number": "021000021", "account_number": "99887766", "account_number_confirm": "99887766",
        "account_type": "checking", "account_holder": "Blue Heron"})
    enrollment = AchEnrollment.objects.get(importer=own_importer)
    assert enrollment.status == "not_started" and enrollment.account_last4 == "7766" and enrollment.entered_on is None


def test_entered_needs_bank_details_first(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.post(reverse("ach_entered", args=[own_importer.pk]), {"entered_on": "2026-01-11", "entered_by": "Alice"})
    assert r.status_code == 400 and "Record the bank details first" in r.content.decode()


def test_the_notify_party_form_validates_the_ir_number_and_states_the_recipient(client, bob, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    url = reverse("ach_notify_party", args=[own_importer.pk])
    bad = client.post(url, {"name": "Harbor", "ir_number": "12-3456789", "on_ace_profile": "on"})
    assert bad.status_code == 400 and "suffix" in bad.content.decode()
    good = client.post(url, {"name": "Harbor Customs", "ir_number": "123456789AB", "on_ace_profile": "on", "in_box_28": "on", "ach_enrolled": "on"})
    assert good.status_code == 302
    party = NotifyParty.objects.get(importer=own_importer)
    assert party.ir_number == "12-3456789AB" and party.receives_refund
    html = client.get(reverse("ach_importer", args=[own_importer.pk])).content.decode()
    assert "4811 notify party: Harbor Customs" in html
    api = client.get(f"/api/ach/{own_importer.pk}/").json()
    assert api["notify_party"]["receives_refund"] is True and api["refund_recipient"]["receiver"] == "notify_party"
    client.post(url, {"remove": "1"})
    assert not NotifyParty.objects.filter(importer=own_importer).exists()


def test_special_cases_show_their_guidance_and_contacts(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.post(reverse("ach_special_cases", args=[own_importer.pk]),
                    {"ace_account": "voided", "foreign_no_us_bank": "on", "paper_check_waiver": "requested"})
    assert r.status_code == 302
    html = client.get(reverse("ach_importer", args=[own_importer.pk])).content.decode()
    for text in ("Voided ACE account", "BONDQUESTIONS@CBP.DHS.GOV", "(317) 614-4880", "Foreign importer without a U.S. bank account",
                 "customs broker", "31 CFR 208.4", "frn-achrefundsupport@cbp.dhs.gov"):
        assert text in html
    assert AuditLog.objects.filter(action="ach.special_cases").exists()


@time_machine.travel("2026-05-20 12:00 -04:00", tick=False)
def test_a_rejection_recorded_by_hand_lists_the_refund_and_the_steps(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.post(reverse("ach_rejection_new", args=[own_importer.pk]),
                    {"amount": "812.40", "rejected_on": "2026-05-04", "reason": "R03 No account", "reference": "RF-77"})
    assert r.status_code == 302
    assert AchEnrollment.objects.get(importer=own_importer).status == "rejected"
    html = client.get(reverse("ach_importer", args=[own_importer.pk])).content.decode()
    for text in ("RF-77", "$812.40", "Enroll valid bank details in ACE", "Email CBP ACH refund support", "4–6 weeks", "Rejected"):
        assert text in html
    emailed = client.post(reverse("ach_support_emailed", args=[own_importer.pk]), {"emailed_on": "2026-05-06"})
    assert emailed.status_code == 400 and "Enroll valid bank details" in emailed.content.decode()
    rejection = AchRejection.objects.get()
    client.post(reverse("ach_rejection_resolve", args=[rejection.pk]), {"resolved_on": "2026-05-19"})
    rejection.refresh_from_db()
    assert rejection.resolved_on == date(2026, 5, 19)


def test_a_viewer_reads_but_cannot_change(client, vera, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(vera)
    assert client.get(reverse("ach_importer", args=[own_importer.pk])).status_code == 200
    r = client.post(reverse("ach_special_cases", args=[own_importer.pk]), {"ace_account": "voided"})
    assert r.status_code == 403
    assert not ReadinessState.objects.filter(importer=own_importer, ace_account="voided").exists()


def test_an_outsider_gets_404_for_another_tenants_importer(client, charlie, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(charlie)
    assert client.get(reverse("ach_importer", args=[own_importer.pk])).status_code == 404
    assert client.post(reverse("ach_special_cases", args=[own_importer.pk]), {"ace_account": "voided"}).status_code == 404
    assert client.get(f"/api/ach/{own_importer.pk}/").status_code == 404


def test_the_broker_view_sorts_by_ieepa_duty_at_risk(client, bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    ready = ImporterFactory(name="Ready Co")
    via_notify = ImporterFactory(name="Notify Co")
    small = ImporterFactory(name="Small Risk Co")
    for imp in (ready, via_notify, small):
        GrantFactory(importer=imp, organization=broker_org)
    AchEnrollmentFactory(importer=ready, status=AchEnrollment.Status.ACTIVE)
    NotifyPartyFactory(importer=via_notify, on_ace_profile=True, in_box_28=True, ach_enrolled=True)
    AchEnrollmentFactory(importer=small, status=AchEnrollment.Status.ENTERED)
    _classify(broker_org, own_importer, "5000.00")
    _classify(broker_org, own_importer, "2500.50", "cape_phase2")
    _classify(broker_org, own_importer, "9999.00", "protest")  # not a CAPE path: not counted
    _classify(broker_org, ready, "90000.00")
    _classify(broker_org, via_notify, "80000.00")
    _classify(broker_org, small, "100.00")
    client.force_login(bob)
    response = client.get(reverse("ach_home"))
    rows = response.context["page"].object_list
    names = [r.importer.name for r in rows]
    assert names[:2] == ["Blue Heron Housewares Inc", "Small Risk Co"]
    assert rows[0].at_risk == Decimal("7500.50") and rows[0].cape_duty == Decimal("7500.50")
    assert rows[1].at_risk == Decimal("100.00")
    assert {r.importer.name: r.at_risk for r in rows[2:]} == {"Ready Co": Decimal("0.00"), "Notify Co": Decimal("0.00")}
    assert response.context["totals"]["at_risk"] == Decimal("7600.50")
    html = response.content.decode()
    assert "$7,600.50" in html and "Refund would bounce" in html and "4811 notify party" in html


def test_the_importer_and_its_broker_see_the_same_money_at_risk(client, alice, bob, importer_org, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    # One entry per entry number (issue 18): what the broker loaded is the importer's, at risk for both.
    _classify(broker_org, own_importer, "1000.00")
    client.force_login(alice)
    rows = client.get(reverse("ach_home")).context["page"].object_list
    assert [r.at_risk for r in rows] == [Decimal("1000.00")]
    client.force_login(bob)
    rows = client.get(reverse("ach_home")).context["page"].object_list
    assert [(r.importer.pk, r.at_risk) for r in rows] == [(own_importer.pk, Decimal("1000.00"))]


def test_the_broker_view_and_api_use_a_fixed_number_of_queries(client, bob, broker_org, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    def add(n: int) -> None:
        for _ in range(n):
            imp = ImporterFactory()
            GrantFactory(importer=imp, organization=broker_org)
            AchEnrollmentFactory(importer=imp, status=AchEnrollment.Status.ACTIVE, account_last4="1234")
            NotifyPartyFactory(importer=imp)
            _classify(broker_org, imp, "10.00")

    client.force_login(bob)
    add(3)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("ach_home"))
        client.get("/api/ach/")
    add(30)
    with django_assert_max_num_queries(len(few)):
        assert client.get(reverse("ach_home")).status_code == 200
        assert client.get("/api/ach/").json()["count"] == 34


def test_new_evidence_replaces_the_old_file_on_disk(client, alice, own_importer, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    _bank(client, own_importer)
    url = reverse("ach_confirm_active", args=[own_importer.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"seen_on": "2026-01-13", "evidence": SimpleUploadedFile("ace.png", PNG, "image/png")})
    first = AchEnrollment.objects.get(importer=own_importer).evidence
    storage, first_name = first.storage, first.name
    assert storage.exists(first_name)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"seen_on": "2026-01-14", "evidence": SimpleUploadedFile("ace.pdf", PDF, "application/pdf")})
    second = AchEnrollment.objects.get(importer=own_importer).evidence
    assert second.name != first_name and storage.exists(second.name)
    assert not storage.exists(first_name)
    storage.delete(second.name)


def test_each_evidence_download_is_audited(client, alice, bob, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    _bank(client, own_importer)
    client.post(reverse("ach_confirm_active", args=[own_importer.pk]),
                {"seen_on": "2026-01-13", "evidence": SimpleUploadedFile("ace.png", PNG, "image/png")})
    enrollment = AchEnrollment.objects.get(importer=own_importer)
    for user in (alice, bob, alice):
        client.force_login(user)
        served = client.get(reverse("ach_evidence", args=[own_importer.pk]))
        assert served.status_code == 200
        b"".join(served.streaming_content)
    logs = list(AuditLog.objects.filter(action="ach.evidence_download").order_by("pk"))
    assert [(log.user.username, log.organization.slug, log.object_id) for log in logs] == [
        ("alice", "blue-heron", str(enrollment.pk)), ("bob", "harbor", str(enrollment.pk)), ("alice", "blue-heron", str(enrollment.pk))]
    assert logs[0].detail == {"importer": own_importer.pk, "file": "ace.png"}
    enrollment.evidence.storage.delete(enrollment.evidence.name)


def test_no_evidence_is_a_404_and_not_audited(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    assert client.get(reverse("ach_evidence", args=[own_importer.pk])).status_code == 404
    assert not AuditLog.objects.filter(action="ach.evidence_download").exists()


def test_each_csv_export_is_audited(client, vera, bob, own_importer) -> None:  # type: ignore[no-untyped-def]
    for user in (vera, bob):
        client.force_login(user)
        response = client.get(reverse("ach_export"))
        assert response.status_code == 200 and response.content.decode().startswith("Importer,Importer number,ACH status")
    logs = list(AuditLog.objects.filter(action="ach.export").order_by("pk"))
    assert [(log.user.username, log.organization.slug, log.detail) for log in logs] == [
        ("vera", "blue-heron", {"rows": 1}), ("bob", "harbor", {"rows": 1})]


def test_the_evidence_form_warns_to_crop_or_blank_the_account_number(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    html = client.get(reverse("ach_importer", args=[own_importer.pk])).content.decode()
    assert "Before uploading evidence, crop the screenshot or blank out the bank" in html
    assert "Crop it or blank out the bank account number before uploading" in html
