"""An organisation exports all its data (JSON plus files, zip) and is deleted completely (issue 9)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import ApiToken, Importer, ImporterGrant, Organization
from accounts.services import ServiceError
from ach.models import AchEnrollment
from ach.services import enrollment_details_save
from cape.models import Classification
from cape.selectors import entries_for
from entries.models import Entry, TariffLine, Upload
from portfolio.dataexport import organization_delete, querysets_for
from tests.cape.factories import DeclarationEntryFactory, DeclarationFactory, eligible_entry
from tests.factories import ImporterFactory, TariffLineFactory, api_key_for

ACCOUNT = "000123456789"


@pytest.fixture
def estate(
    alice,
    own_importer,
    importer_org,
    broker_org,
    bob,
    charlie,
    vera,
    tmp_path,
    settings,
    django_capture_on_commit_callbacks,
):  # type: ignore[no-untyped-def]
    """Alice's organisation with something in every table; a second importer only Alice's org uses."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    from entries.ingest.intake import upload_create

    lonely = ImporterFactory(owner=importer_org, ir_number="123-45-6789", name="Blue Heron Subsidiary")
    enrollment_details_save(
        importer=lonely,
        bank_name="First Bank",
        routing_number="011000015",
        account_number=ACCOUNT,
        account_type="checking",
        account_holder="Blue Heron Subsidiary",
        organization=importer_org,
        user=alice,
    )
    enrollment_details_save(
        importer=own_importer,
        bank_name="First Bank",
        routing_number="011000015",
        account_number="000987654321",
        account_type="checking",
        account_holder="Blue Heron",
        organization=importer_org,
        user=alice,
    )
    for importer in (own_importer, lonely):
        entry = eligible_entry(importer, organization=importer_org)
        TariffLineFactory(entry=entry)
        decl = DeclarationFactory(organization=importer_org, importer=importer)
        DeclarationEntryFactory(declaration=decl, entry=entry)
    with django_capture_on_commit_callbacks(execute=False):
        upload_create(
            organization=importer_org,
            user=alice,
            file=SimpleUploadedFile("es003.csv", b"Entry Summary Number\r\n1\r\n"),
        )
    # The broker has data of its own about Alice's importer: it must survive.
    # An entry the broker loaded for Alice's importer is Alice's importer's entry (issue 18); one of another
    # client of the broker is not hers.
    heron_by_broker = eligible_entry(own_importer, organization=broker_org)
    TariffLineFactory(entry=heron_by_broker)
    gull = ImporterFactory(owner=None, ir_number="44-444444400", name="Gull Imports LLC")
    broker_entry = eligible_entry(gull, organization=broker_org)
    TariffLineFactory(entry=broker_entry)
    key = api_key_for(alice)
    return {"lonely": lonely, "broker_entry": broker_entry, "heron_by_broker": heron_by_broker, "api_key": key}


def _snapshot_except(org_id: int) -> dict[str, int]:
    """Row counts of every tenant table outside the organisation (what deletion must not touch)."""
    out = {}
    for model in apps.get_models():
        if model._meta.app_label in {"accounts", "entries", "cape", "ach"}:
            out[model._meta.label] = model._default_manager.count()
    return out


@pytest.mark.django_db
def test_the_owner_exports_every_row_and_file_as_a_zip(estate, alice, client, importer_org) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    assert client.get(reverse("organization_data")).status_code == 200
    response = client.post(reverse("organization_export"))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        for label, qs in querysets_for(importer_org):
            rows = json.loads(zf.read(f"data/{label}.json"))
            # The audit log gains the export's own record after the zip is written.
            extra = 1 if label == "accounts.AuditLog" else 0
            assert len(rows) == qs.count() - extra == manifest["rows"][label], label
        entries = json.loads(zf.read("data/entries.Entry.json"))
        assert {e["id"] for e in entries} == set(
            entries_for(importer_org).values_list("pk", flat=True)
        )
        assert (
            len(json.loads(zf.read("data/entries.TariffLine.json")))
            == TariffLine.objects.filter(entry__in=entries_for(importer_org)).count()
        )
        upload = Upload.objects.get(organization=importer_org)
        assert f"files/{upload.file.name}" in names
        assert zf.read(f"files/{upload.file.name}") == upload.file.open("rb").read()
        members = {m["username"] for m in json.loads(zf.read("data/members.json"))}
        assert members == {"alice", "vera"}
        everything = b"".join(zf.read(n) for n in names)
    # The importer's entries whoever loaded them; nothing of the broker's other clients, no secrets.
    assert str(estate["heron_by_broker"].entry_number).encode() in everything
    assert str(estate["broker_entry"].entry_number).encode() not in everything
    assert ACCOUNT.encode() not in everything and b"account_number_encrypted" not in everything
    assert estate["api_key"].encode() not in everything
    assert ApiToken.objects.get(user=alice).key_hash.encode() not in everything
    assert b"pbkdf2" not in everything


@pytest.mark.django_db
def test_only_an_owner_sees_the_page_and_can_export(estate, vera, bob, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(vera)
    assert client.get(reverse("organization_data")).status_code == 404
    assert client.post(reverse("organization_export")).status_code == 404
    assert client.post(reverse("organization_data"), {"confirmation": "Blue Heron Housewares"}).status_code == 404
    assert Organization.objects.filter(name="Blue Heron Housewares").exists()


@pytest.mark.django_db
def test_deletion_needs_the_typed_name(estate, alice, client, importer_org) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    response = client.post(reverse("organization_data"), {"confirmation": "blue heron"})
    assert response.status_code == 400 and "Type the organisation" in response.content.decode()
    assert Organization.objects.filter(pk=importer_org.pk).exists()
    with pytest.raises(ServiceError):
        organization_delete(
            organization=importer_org,
            user=get_user_model().objects.get(username="vera"),
            confirmation=importer_org.name,
        )


@pytest.mark.django_db
def test_deleting_the_organisation_leaves_no_row_of_it_and_keeps_what_a_broker_manages(
    estate, alice, client, importer_org, own_importer, broker_org, charlie, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    org_id = importer_org.pk
    lonely = estate["lonely"]
    mine = {label: set(qs.values_list("pk", flat=True)) for label, qs in querysets_for(importer_org)}
    upload_path = Upload.objects.get(organization=importer_org).file.path
    others_before = {label: n - len(mine.get(label, ())) for label, n in _snapshot_except(org_id).items()}
    # Rows the deletion changes without owning them: the broker-managed importer (unlinked, kept).
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("organization_data"), {"confirmation": "Blue Heron Housewares"})
    assert response.status_code == 302 and response["Location"] == reverse("login")

    for label, pks in mine.items():
        model = apps.get_model(label)
        remaining = set(model._default_manager.filter(pk__in=pks).values_list("pk", flat=True))
        if label == "accounts.Importer":
            assert remaining == {own_importer.pk}, "only the importer a broker manages is kept"
        elif label == "ach.AchEnrollment":
            assert remaining == set(AchEnrollment.objects.filter(importer=own_importer).values_list("pk", flat=True))
        elif label in ("entries.Entry", "entries.TariffLine", "cape.Classification", "cape.ClassificationChange"):
            # Entries are the importer's (issue 18): those of the importer a broker still serves stay with it.
            lookup = "importer" if label in ("entries.Entry", "cape.Classification") else "entry__importer"
            assert remaining == set(model._default_manager.filter(**{lookup: own_importer}).values_list("pk", flat=True))
        else:
            assert not remaining, f"{label}: {len(remaining)} rows of the deleted organisation remain"
    for model in apps.get_models():  # no row anywhere still points at the organisation
        for f in model._meta.fields:
            if f.is_relation and f.related_model is Organization:
                assert not model._default_manager.filter(**{f.name: org_id}).exists(), f"{model._meta.label}.{f.name}"
    assert not Importer.objects.filter(pk=lonely.pk).exists()
    assert not AchEnrollment.objects.filter(importer_id=lonely.pk).exists()
    kept = Importer.objects.get(pk=own_importer.pk)
    assert kept.owner_id is None and kept.created_by_id is None
    assert ImporterGrant.objects.filter(importer=kept, organization=broker_org, revoked_at__isnull=True).exists()
    assert Entry.objects.filter(pk=estate["broker_entry"].pk).exists()
    assert Classification.objects.filter(entry=estate["broker_entry"]).exists()
    assert not get_user_model().objects.filter(username__in=["alice", "vera"]).exists()
    assert get_user_model().objects.filter(username__in=["bob", "charlie"]).count() == 2
    assert not ApiToken.objects.filter(user__username="alice").exists()
    import os

    assert not os.path.exists(upload_path), "the uploaded file is deleted too"
    # Other organisations' rows: untouched, except the kept importer's own enrollment row (it stays).
    after = _snapshot_except(org_id)
    for label, n in others_before.items():
        if label in {"accounts.Importer", "ach.AchEnrollment", "accounts.AuditLog"}:
            continue
        if label == "accounts.ApiToken":  # a user's, not an organisation's: gone with the deleted users (above)
            continue
        if label in ("entries.Entry", "entries.TariffLine", "cape.Classification", "cape.ClassificationChange"):
            lookup = "importer" if label in ("entries.Entry", "cape.Classification") else "entry__importer"
            n += apps.get_model(label)._default_manager.filter(**{lookup: own_importer}).count()  # kept with it
        assert after[label] == n, label
