from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.irnumber import InvalidIRNumber, canonical_ir_number, mask_ir_number
from accounts.models import AuditLog, Importer, ImporterGrant, Organization
from accounts.selectors import importers_for
from accounts.services import ImporterNotManaged, ServiceError, grant_revoke, importer_create, importer_for_upload
from cape.selectors import entries_for
from tests.factories import BrokerFactory, MembershipFactory


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("12-345678900", "12-345678900"),
        ("1234567890A", "12-34567890A"),
        ("12 3456789 AB", "12-3456789AB"),
        ('="93-417726100"', "93-417726100"),
        ("123-45-6789", "123-45-6789"),
        ("123456789", "123-45-6789"),
        ("260105-00001", "260105-00001"),
    ],
)
def test_it_canonicalises_every_accepted_ir_spelling(raw: str, canonical: str) -> None:
    assert canonical_ir_number(raw) == canonical


@pytest.mark.parametrize("raw", ["12-3456789OI", "12-3456789Z0", "12-3456789", "ABC", "", "1234-567"])
def test_it_rejects_bad_ir_numbers_listing_the_valid_formats(raw: str) -> None:
    with pytest.raises(InvalidIRNumber) as exc:
        canonical_ir_number(raw)
    assert "NN-NNNNNNNXX" in str(exc.value) and "NNN-NN-NNNN" in str(exc.value) and "YYDDPP-NNNNN" in str(exc.value)


def test_it_masks_ssn_form_numbers_only() -> None:
    assert mask_ir_number("123-45-6789") == "***-**-6789"
    assert mask_ir_number("12-345678900") == "12-345678900"


def test_a_broker_sees_granted_importers_until_the_owner_revokes(alice, bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    assert list(importers_for(broker_org)) == [own_importer]
    grant = ImporterGrant.objects.get(importer=own_importer, organization=broker_org)
    grant_revoke(grant=grant, user=alice)
    assert list(importers_for(broker_org)) == []
    assert AuditLog.objects.filter(action="grant.revoke", object_id=str(grant.pk)).exists()


def test_a_broker_creates_a_pending_record_for_a_client_not_yet_onboarded(bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    importer = importer_create(organization=broker_org, ir_number="27 418830200", name="Cedar Lane", user=bob)
    assert importer.status == Importer.Status.PENDING and importer.owner is None
    assert importer in importers_for(broker_org)
    assert AuditLog.objects.filter(action="importer.create", user=bob).exists()


def test_a_broker_cannot_claim_an_owned_importer(broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    other = BrokerFactory()
    with pytest.raises(ServiceError):
        importer_create(organization=other, ir_number=own_importer.ir_number)
    assert own_importer not in importers_for(other)


def test_an_importer_org_may_not_load_another_companys_entries(importer_org, charlie) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImporterNotManaged):
        importer_for_upload(organization=importer_org, ir_number="55-555555500")


def test_an_upload_for_an_unknown_client_creates_it_for_a_broker(broker_org) -> None:  # type: ignore[no-untyped-def]
    importer = importer_for_upload(organization=broker_org, ir_number="31-000000100", name="New Client")
    assert importer.status == Importer.Status.PENDING
    assert importer in importers_for(broker_org)


def test_another_tenants_importer_is_a_404(client, charlie, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(charlie)
    assert client.get(reverse("importer_detail", args=[own_importer.pk])).status_code == 404


def test_a_user_in_two_organisations_switches(client, alice, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    MembershipFactory(user=alice, organization=broker_org, role="viewer")
    client.force_login(alice)
    orgs = {m.organization.slug for m in alice.memberships.all()}
    assert orgs == {"blue-heron", "harbor"}
    response = client.post(reverse("switch_organization"), {"organization": broker_org.pk}, follow=True)
    assert "Now working as Harbor Customs Brokerage" in response.content.decode()
    other = Organization.objects.create(name="Not mine", slug="not-mine", kind="broker")
    response = client.post(reverse("switch_organization"), {"organization": other.pk}, follow=True)
    assert "You are not a member of that organisation." in response.content.decode()


def test_viewers_read_but_never_change(client, vera) -> None:  # type: ignore[no-untyped-def]
    client.force_login(vera)
    assert client.get(reverse("importer_list")).status_code == 200
    assert client.get(reverse("importer_new")).status_code == 403
    assert client.post(reverse("importer_new"), {"ir_number": "31-000000100", "name": "X"}).status_code == 403
    assert not Importer.objects.filter(ir_number="31-000000100").exists()


def test_the_api_is_scoped_and_viewers_cannot_write(client, vera, alice, charlie, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(charlie)
    assert [i["name"] for i in client.get("/api/importers/").json()["results"]] == ["Outsider Trading LLC"]
    assert client.get(f"/api/importers/{own_importer.pk}/").status_code == 404
    client.force_login(vera)
    assert client.post("/api/importers/", {"ir_number": "31-000000100", "name": "X"}).status_code == 403
    client.force_login(alice)
    bad = client.post("/api/importers/", {"ir_number": "31-00000010O", "name": "X"})
    assert bad.status_code == 400 and "NN-NNNNNNNXX" in bad.json()["ir_number"][0]


def test_token_authentication_scopes_to_the_organisation(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    from accounts.api_tokens import api_token_revoke
    from tests.factories import api_key_for

    key = api_key_for(alice)
    response = client.get("/api/importers/", HTTP_AUTHORIZATION=f"Token {key}")
    assert [i["ir_number"] for i in response.json()["results"]] == ["93-417726100"]
    api_token_revoke(user=alice)
    assert client.get("/api/importers/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_a_second_broker_cannot_take_over_a_client_another_broker_manages(bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    """An IR number is no secret: typing it must not open another broker's client (its 5106 POC email decides
    where the account application's verification code goes)."""
    client_importer = importer_create(organization=broker_org, ir_number="27-418830200", name="Cedar Lane", user=bob)
    rival = BrokerFactory()
    with pytest.raises(ServiceError) as exc:
        importer_create(organization=rival, ir_number="27418830200", name="Cedar Lane")
    assert "cannot be added to your organisation" in str(exc.value)
    assert client_importer not in importers_for(rival)
    with pytest.raises(ServiceError):
        importer_for_upload(organization=rival, ir_number="27-418830200")
    # the managing broker adding it again is harmless; once it lets the client go, another broker may take it
    assert importer_create(organization=broker_org, ir_number="27-418830200", user=bob) == client_importer
    grant_revoke(grant=ImporterGrant.objects.get(importer=client_importer, organization=broker_org, revoked_at=None))
    assert importer_create(organization=rival, ir_number="27-418830200") == client_importer
    assert client_importer in importers_for(rival)


def test_an_upload_by_a_second_broker_rejects_only_the_rows_of_a_client_another_broker_manages(
    bob, broker_org, django_capture_on_commit_callbacks, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    from entries.ingest.intake import upload_create
    from entries.ingest.service import upload_process
    from entries.models import Entry
    from entries.samplegen import es003_rows, write_csv
    from tests.factories import UserFactory

    importer_create(organization=broker_org, ir_number="27-418830200", name="Cedar Lane", user=bob)
    rival = BrokerFactory()
    rival_user = UserFactory()
    MembershipFactory(user=rival_user, organization=rival, role="owner")
    rows = list(es003_rows(40, seed=9, importers=[("27-418830200", "Cedar Lane"), ("31-000000100", "New Client")]))
    path = write_csv(tmp_path / "rival.csv", rows)
    with django_capture_on_commit_callbacks(execute=False):
        upload = upload_create(organization=rival, user=rival_user, file=SimpleUploadedFile("rival.csv", path.read_bytes()))
    upload = upload_process(upload_id=upload.pk)
    assert upload.status == "done"
    assert upload.errors and all("cannot be added to your organisation" in e["reason"] for e in upload.errors)
    loaded = set(entries_for(rival).values_list("importer__ir_number", flat=True))
    assert loaded == {"31-000000100"}
    assert not Entry.objects.filter(importer__ir_number="27-418830200").exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_cache")  # the dashboard caches figures under the organisation's id
def test_a_page_reads_the_users_memberships_once(client, alice, broker_org) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Membership

    Membership.objects.create(user=alice, organization=broker_org, role=Membership.Role.VIEWER)
    client.force_login(alice)
    with CaptureQueriesContext(connection) as ctx:
        html = client.get("/dashboard/").content.decode()
    reads = [q["sql"] for q in ctx.captured_queries if 'WHERE "accounts_membership"."user_id" =' in q["sql"]]
    assert len(reads) == 1, reads
    assert "Harbor Customs Brokerage" in html and "Blue Heron Housewares" in html  # both in the organisation menu
