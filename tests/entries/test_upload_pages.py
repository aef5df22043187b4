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


def _section(body: str, heading: str) -> str:
    """The HTML from a heading to the next heading of the same page section."""
    start = body.index(heading)
    end = body.find("<h3>", start + len(heading))
    return body[start:end if end != -1 else len(body)]


def test_the_status_page_lists_what_changed_since_the_previous_report(client, alice, importer_org, write_es003, ingest) -> None:
    from datetime import date

    from tests.entries.conftest import entry_rows

    first = ingest(write_es003(entry_rows("00261103162") + entry_rows("60576069342"), name="week1.csv"),
                   organization=importer_org, user=alice)
    client.force_login(alice)
    first_changes = _section(client.get(reverse("upload_detail", args=[first.pk])).content.decode(), "<h3>Changes since the previous report</h3>")
    assert "<strong>0</strong> newly liquidated" in first_changes and "<strong>2</strong> new entries" in first_changes

    week2 = (entry_rows("00261103162", **{"Liquidation Status": "Liquidated", "Liquidation Date": date(2026, 11, 20)})
             + entry_rows("60576069342", **{"Liquidation Status": "Suspended"}) + entry_rows("00261111157"))
    second = ingest(write_es003(week2, name="week2.csv"), organization=importer_org, user=alice)
    body = client.get(reverse("upload_detail", args=[second.pk])).content.decode()
    changes = _section(body, "<h3>Changes since the previous report</h3>")
    assert "<strong>1</strong> newly liquidated: <span class=\"mono\">00261103162</span>" in changes
    assert "<strong>2</strong> liquidation status changes" in changes
    assert "00261103162: unliquidated → liquidated" in changes and "60576069342: unliquidated → suspended" in changes
    assert "<strong>1</strong> new entry: <span class=\"mono\">00261111157</span>" in changes
    assert 'data-testid="liquidation-warning"' not in body


def test_a_report_without_liquidation_columns_shows_the_prominent_how_to_warning(client, alice, importer_org, write_es003, ingest) -> None:
    from tests.entries.conftest import entry_rows

    upload = ingest(write_es003(entry_rows("00261103162", layout="standard"), layout="standard"), organization=importer_org, user=alice)
    client.force_login(alice)
    body = client.get(reverse("upload_detail", args=[upload.pk])).content.decode()
    start = body.index('<div class="warning-box prominent" role="alert" data-testid="liquidation-warning">')
    warning = body[start:body.index("</div>", start)]
    assert "Liquidation columns missing:" in warning
    assert "no Liquidation Status and Liquidation Date column" in warning
    assert "in the ACE Portal open Reports, run ES-003 Entry Summary Line Tariff Details" in warning
    assert "add the Liquidation Status and Liquidation Date objects to the table" in warning
    # shown once, prominently, not repeated in the ordinary warning list
    assert body.count("add the Liquidation Status and Liquidation Date objects") == 1
