"""Upload pages through the Django test client: the uploads table's live rows, the change list, the warnings."""

from __future__ import annotations

import pytest
from django.urls import reverse

from entries.models import Upload

pytestmark = pytest.mark.django_db


def test_a_running_upload_row_polls_with_its_own_progress_bar(client, alice, importer_org) -> None:
    upload = Upload.objects.create(organization=importer_org, original_name="r.csv", status="running", rows_total=200, rows_read=50)
    client.force_login(alice)
    listing = client.get(reverse("upload_list")).content.decode()
    assert f'id="upload-row-{upload.pk}"' in listing and 'aria-label="Rows read of r.csv"' in listing
    row = client.get(reverse("upload_detail", args=[upload.pk]) + "?view=row", HTTP_HX_REQUEST="true").content.decode()
    assert row.lstrip().startswith("<tr") and "<html" not in row
    assert f'hx-get="{reverse("upload_detail", args=[upload.pk])}?view=row"' in row and 'aria-valuenow="25"' in row


def test_a_finished_upload_row_stops_polling_and_links_its_summary(client, alice, importer_org) -> None:
    upload = Upload.objects.create(organization=importer_org, original_name="r.csv", status="done", rows_total=200, rows_read=200,
                                   summary={"rows_read": 200, "entries_created": 7, "entries_updated": 2, "rows_rejected": 1})
    client.force_login(alice)
    row = client.get(reverse("upload_detail", args=[upload.pk]) + "?view=row", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-get" not in row and 'aria-valuenow="100"' in row
    assert f'href="{reverse("upload_detail", args=[upload.pk])}" data-testid="upload-row-summary"' in row
    assert "7 / 2" in row


def test_a_failed_upload_row_shows_its_message(client, alice, importer_org) -> None:
    upload = Upload.objects.create(organization=importer_org, original_name="r.csv", status="failed", error_message="Not an ES-003")
    client.force_login(alice)
    row = client.get(reverse("upload_detail", args=[upload.pk]) + "?view=row", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-get" not in row and "Not an ES-003" in row and "Failed" in row


def test_another_organisations_upload_row_is_a_404(client, charlie, importer_org) -> None:
    upload = Upload.objects.create(organization=importer_org, original_name="r.csv", status="running")
    client.force_login(charlie)
    assert client.get(reverse("upload_detail", args=[upload.pk]) + "?view=row", HTTP_HX_REQUEST="true").status_code == 404
