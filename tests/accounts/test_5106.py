"""CBP Form 5106 records: create, edit, CSV import (scoped to what the organisation manages), the
POC email checks and warnings, and the API."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditLog, Form5106Record, Importer, ImporterGrant
from accounts.onboarding import form5106_import_csv, form5106_save, poc_email_warnings
from accounts.services import ServiceError
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import ImporterFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

CSV_HEADER = "IR Number,Company Name,POC Email,Address,Date Last Updated\n"


@pytest.fixture
def harbor_staff_with_domain(bob):  # type: ignore[no-untyped-def]
    bob.email = "bob@harborcb.example"
    bob.save()
    return bob


def test_a_broker_creates_a_5106_record_and_a_pending_client(bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    record, created, warnings = form5106_save(
        organization=broker_org,
        user=bob,
        ir_number="45 6789012 A1",
        company_name="Elm Street Goods Inc",
        poc_email="ap@elmstreet.example",
        address="5 Elm St",
        last_updated=date(2025, 11, 3),
    )
    assert created and warnings == []
    importer = record.importer
    assert (
        importer.ir_number == "45-6789012A1" and importer.status == Importer.Status.PENDING and importer.owner is None
    )
    assert ImporterGrant.objects.filter(importer=importer, organization=broker_org).exists()
    log = AuditLog.objects.get(action="form5106.create")
    assert log.organization == broker_org and log.detail["source"] == "form"


def test_an_importer_edits_its_own_5106_and_a_new_email_needs_confirming_again(
    alice, importer_org, own_importer
) -> None:  # type: ignore[no-untyped-def]
    Form5106RecordFactory(
        importer=own_importer,
        company_name="Blue Heron Housewares Inc",
        poc_email="ops@blueheron.example",
        poc_email_confirmed_on=date(2026, 4, 1),
    )
    record, created, _ = form5106_save(
        organization=importer_org,
        user=alice,
        ir_number="93-417726100",
        company_name="Blue Heron Housewares Inc",
        poc_email="customs@blueheron.example",
    )
    assert not created and record.poc_email_confirmed_on is None
    assert AuditLog.objects.get(action="form5106.update").detail["poc_email_changed"] is True


def test_an_importer_cannot_take_a_5106_for_someone_elses_importer(alice, importer_org, charlie) -> None:  # type: ignore[no-untyped-def]
    ImporterFactory(ir_number="66-666666600", owner=None, name="Pending Client")
    for ir in ("55-555555500", "66-666666600"):  # owned by the outsider; pending at a broker
        with pytest.raises(ServiceError) as exc:
            form5106_save(
                organization=importer_org, user=alice, ir_number=ir, company_name="X", poc_email="a@x.example"
            )
        assert exc.value.field == "ir_number"
    assert not Form5106Record.objects.exists()


@pytest.mark.parametrize(("email", "message"), [("", "no point-of-contact"), ("pat@", "not a valid email")])
def test_the_poc_email_must_be_present_and_valid(bob, broker_org, email, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError) as exc:
        form5106_save(organization=broker_org, user=bob, ir_number="45-678901200", company_name="Elm", poc_email=email)
    assert exc.value.field == "poc_email" and message in exc.value.message


def test_it_warns_when_the_poc_email_is_at_the_managing_brokers_domain(
    harbor_staff_with_domain, broker_org, own_importer
) -> None:  # type: ignore[no-untyped-def]
    warnings = poc_email_warnings(email="clients@HarborCB.example", importer=own_importer)
    assert len(warnings) == 1
    assert "Harbor Customs Brokerage" in warnings[0] and "TF" in warnings[0] and "box 2E" in warnings[0]
    assert poc_email_warnings(email="ops@blueheron.example", importer=own_importer) == []


def test_a_revoked_broker_no_longer_counts_as_managing(harbor_staff_with_domain, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    ImporterGrant.objects.filter(organization=broker_org).update(revoked_at=timezone.now())
    assert poc_email_warnings(email="clients@harborcb.example", importer=own_importer) == []


def test_it_warns_about_free_mail_providers(own_importer) -> None:  # type: ignore[no-untyped-def]
    [warning] = poc_email_warnings(email="blueheron.owner@gmail.com", importer=own_importer)
    assert "free-mail" in warning and "box 2E" in warning


def test_a_broker_member_on_free_mail_does_not_make_free_mail_the_brokers_domain(bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    bob.email = "bob.harbor@gmail.com"
    bob.save()
    [warning] = poc_email_warnings(email="someone@gmail.com", importer=own_importer)
    assert "free-mail" in warning and "Harbor" not in warning


def test_the_csv_import_saves_good_rows_and_reports_each_bad_one(
    harbor_staff_with_domain, broker_org, own_importer
) -> None:  # type: ignore[no-untyped-def]
    ImporterFactory(ir_number="77-777777700", owner=OrganizationFactory(), name="Owned")
    data = (
        b"Importer Number,Company Name,POC Email,Address,Date Last Updated\n"
        b'="12-345678900",Cedar Lane Imports LLC,pat@cedarlane.example,"12 Cedar Ln, Newark NJ",03/15/2026\n'
        b"12-3456789OO,Bad Suffix Inc,a@b.example,,\n"
        b"23-456789000,No Email Inc,,,\n"
        b"34-567890100,Bad Date Inc,x@bad.example,,2026/13/01\n"
        b"12-345678900,Duplicate,pat@cedarlane.example,,\n"
        b"93-417726100,Blue Heron Housewares Inc,clients@harborcb.example,,2026-01-05\n"
        b"77-777777700,Someone Elses Co,x@owned.example,,\n"
        b"\n"
        b"45-678901200,Gmail Imports,owner@gmail.com,,\n"
    )
    result = form5106_import_csv(
        organization=broker_org, user=harbor_staff_with_domain, data=data, filename="clients.csv"
    )
    assert (result.created, result.updated) == (3, 0)
    bad = {(e["row"], e["column"]) for e in result.errors}
    assert bad == {(3, "IR Number"), (4, "POC Email"), (5, "Date Last Updated"), (6, "IR Number"), (8, "IR Number")}
    by_row = {e["row"]: e for e in result.errors}
    assert (
        "never" in by_row[3]["reason"] and by_row[3]["value"] == "12-3456789OO" and by_row[3]["file"] == "clients.csv"
    )
    assert "row 2" in by_row[6]["reason"]
    assert "cannot be added to your organisation" in by_row[8]["reason"]
    assert {w["row"] for w in result.warnings} == {7, 10}
    cedar = Form5106Record.objects.get(importer__ir_number="12-345678900")
    assert cedar.last_updated == date(2026, 3, 15) and cedar.address == "12 Cedar Ln, Newark NJ"
    log = AuditLog.objects.get(action="form5106.import")
    assert log.detail["created"] == 3 and log.detail["rejected"] == 5
    assert AuditLog.objects.filter(action="form5106.create").count() == 3


def test_the_csv_import_says_which_columns_are_missing(bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    result = form5106_import_csv(
        organization=broker_org, user=bob, data=b"IR Number,Name\n12-345678900,Cedar\n", filename="x.csv"
    )
    [error] = result.errors
    assert error["row"] == 1 and "POC Email" in error["reason"] and result.saved == 0


def test_the_import_page_lists_the_rejected_rows(client, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    upload = SimpleUploadedFile(
        "c.csv", (CSV_HEADER + "12-345678900,Cedar,pat@cedar.example,,\nABC,Bad,x@y.example,,\n").encode()
    )
    response = client.post(reverse("onboarding_5106_import"), {"file": upload})
    text = response.content.decode()
    assert "1 created" in text and "1 rejected" in text and "ABC" in text and "NN-NNNNNNNXX" in text


def test_pages_are_scoped_and_viewers_cannot_change(client, alice, vera, charlie, own_importer) -> None:  # type: ignore[no-untyped-def]
    record = Form5106RecordFactory(
        importer=own_importer, company_name="Blue Heron Housewares Inc", poc_email="ops@blueheron.example"
    )
    client.force_login(charlie)
    assert client.get(reverse("onboarding_5106_edit", args=[record.pk])).status_code == 404
    assert "Blue Heron" not in client.get(reverse("onboarding_5106_list")).content.decode()
    client.force_login(vera)
    assert client.get(reverse("onboarding_5106_edit", args=[record.pk])).status_code == 200
    assert (
        client.post(
            reverse("onboarding_5106_edit", args=[record.pk]), {"company_name": "X", "poc_email": "a@b.example"}
        ).status_code
        == 403
    )
    assert client.post(reverse("onboarding_5106_confirm", args=[record.pk])).status_code == 403
    client.force_login(alice)
    response = client.post(
        reverse("onboarding_5106_edit", args=[record.pk]),
        {
            "ir_number": "99-999999900",
            "company_name": "Blue Heron Housewares Inc",
            "poc_email": "customs@blueheron.example",
            "last_updated": "04/01/2026",
        },
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.importer == own_importer and record.poc_email == "customs@blueheron.example"
    assert record.last_updated == date(2026, 4, 1)


def test_the_create_page_shows_the_broker_domain_warning(client, harbor_staff_with_domain) -> None:  # type: ignore[no-untyped-def]
    client.force_login(harbor_staff_with_domain)
    response = client.post(
        reverse("onboarding_5106_new"),
        {"ir_number": "12-345678900", "company_name": "Cedar Lane Imports", "poc_email": "ops@harborcb.example"},
        follow=True,
    )
    assert "domain (harborcb.example)" in response.content.decode()
    assert "Broker&#x27;s domain" in response.content.decode() or "Broker's domain" in response.content.decode()


# ----------------------------------------------------------------------------- API


def test_the_api_lists_creates_updates_and_imports_within_the_tenant(client, bob, broker_org, charlie) -> None:  # type: ignore[no-untyped-def]
    from django.test import override_settings
    from django.urls import include, path

    from portfolio import root_urls as root

    urlpatterns = [*root.urlpatterns, path("api/", include("accounts.api_onboarding"))]
    module = type("U", (), {"urlpatterns": urlpatterns})
    with override_settings(ROOT_URLCONF=module):
        client.force_login(bob)
        created = client.post(
            "/api/form5106/",
            {"ir_number": "12-345678900", "company_name": "Cedar Lane Imports", "poc_email": "pat@cedarlane.example"},
            content_type="application/json",
        )
        assert created.status_code == 201, created.content
        pk = created.json()["id"]
        bad = client.post(
            "/api/form5106/",
            {"ir_number": "12-3456789", "company_name": "X", "poc_email": "a@b.example"},
            content_type="application/json",
        )
        assert bad.status_code == 400 and "suffix" in bad.json()["ir_number"][0]
        patched = client.patch(f"/api/form5106/{pk}/", {"poc_email": "pat@gmail.com"}, content_type="application/json")
        assert patched.status_code == 200 and patched.json()["warnings"]
        imported = client.post(
            "/api/form5106/import/",
            {"file": SimpleUploadedFile("a.csv", (CSV_HEADER + "X,Y,z@z.example,,\n").encode())},
        )
        assert imported.status_code == 200 and imported.json()["errors"][0]["row"] == 2
        readiness = client.get("/api/readiness/")
        assert readiness.status_code == 200 and {r["ir_number"] for r in readiness.json()} >= {"12-345678900"}
        client.force_login(charlie)
        assert client.get(f"/api/form5106/{pk}/").status_code == 404
        assert client.get("/api/form5106/").json()["count"] == 0
        assert "12-345678900" not in client.get("/api/readiness/").content.decode()
