"""The three ways in (page, API, CLI) share one service; the demo load; a real worker processes an upload."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from cape.selectors import entries_for
from entries.models import Entry, TariffLine, Upload
from entries.samplegen import write_es003 as generate
from tests.conftest import wait_for
from tests.entries.conftest import entry_rows

SAMPLE = Path(__file__).resolve().parents[2] / "entries" / "fixtures" / "es003_sample.csv"


# ------------------------------------------------------------------ CLI
@pytest.mark.django_db
def test_the_cli_ingests_several_files_and_prints_a_summary(tmp_path, importer_org, alice) -> None:
    a = generate(tmp_path / "a.csv", 50, seed=1)
    b = generate(tmp_path / "b.xlsx", 50, seed=2, first_serial=7700000)
    out = io.StringIO()
    call_command("ingest_es003", str(a), str(b), "--org", importer_org.slug, stdout=out, stderr=io.StringIO())
    assert Upload.objects.filter(status="done").count() == 2
    assert TariffLine.objects.count() == 100
    assert "a.csv: 50 rows" in out.getvalue() and "b.xlsx: 50 rows" in out.getvalue()


@pytest.mark.django_db
def test_the_cli_fails_on_a_file_that_is_not_an_es003(tmp_path, importer_org) -> None:
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\r\n1,2\r\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="could not be ingested"):
        call_command("ingest_es003", str(bad), "--org", importer_org.slug, stdout=io.StringIO(), stderr=err)
    assert "not an ES-003" in err.getvalue() and "Entry Summary Number" in err.getvalue()


@pytest.mark.django_db
def test_the_cli_refuses_an_unknown_organisation(tmp_path) -> None:
    with pytest.raises(CommandError, match="No organisation"):
        call_command("ingest_es003", str(SAMPLE), "--org", "nope")


@pytest.mark.django_db
def test_ingest_files_reports_entries_rejections_and_unrepairable_numbers(tmp_path, importer_org, own_importer, write_es003) -> None:
    from entries.ingest.cli import ingest_files
    from entries.samplegen import Text
    from tests.entries.conftest import sample_row

    rows = entry_rows("00261103162") + [sample_row(**{"Entry Summary Number": Text("3BZ-55-1"), "Importer Number": Text("93-417726100")})]
    path = write_es003(rows)
    missing = tmp_path / "missing.csv"
    result = ingest_files(organization=importer_org, paths=[path, missing])
    assert result.entry_ids == list(Entry.objects.values_list("pk", flat=True))
    assert result.rejected_rows[0]["row"] == 4 and result.rejected_rows[0]["column"] == "Entry Summary Number"
    assert result.unrepairable_entries == [{"file": "es003.csv", "row": 4, "entry_number": "3BZ-55-1", "importer_number": "93-417726100"}]
    assert len(result.uploads) == 1 and "missing.csv" in result.fatal_errors[0]


# ------------------------------------------------------------------ demo
@pytest.mark.django_db
def test_the_demo_load_is_idempotent(broker_org) -> None:
    from entries.demo import load_demo_es003

    load_demo_es003(organization=broker_org, stdout=io.StringIO())
    count = entries_for(broker_org).count()
    assert count == 10
    assert entries_for(broker_org).filter(importer__ir_number="27-418830200").count() == 3
    load_demo_es003(organization=broker_org, stdout=io.StringIO())
    assert entries_for(broker_org).count() == count
    assert Upload.objects.filter(organization=broker_org).count() == 1


# ------------------------------------------------------------------ pages
@pytest.mark.django_db
def test_the_upload_page_takes_several_files_and_shows_the_summary(client, alice, importer_org, write_es003, django_capture_on_commit_callbacks) -> None:
    client.force_login(alice)
    a = write_es003(entry_rows("00261103162"), name="a.csv")
    b = write_es003(entry_rows("60576069342", layout="standard"), name="b.csv", layout="standard")
    with django_capture_on_commit_callbacks(execute=True), a.open("rb") as fa, b.open("rb") as fb:
        response = client.post(reverse("upload_new"), {"files": [fa, fb]})
    assert response.status_code == 302 and response["Location"] == reverse("upload_list")
    assert Upload.objects.filter(status="done").count() == 2
    listing = client.get(reverse("upload_list")).content.decode()
    assert "a.csv" in listing and "b.csv" in listing
    upload = Upload.objects.get(original_name="b.csv")
    page = client.get(reverse("upload_detail", args=[upload.pk])).content.decode()
    assert "Entries created" in page and 'data-testid="liquidation-warning"' in page and "ACE" in page
    assert "hx-trigger" not in page  # finished: no more polling


@pytest.mark.django_db
def test_the_status_fragment_polls_while_running(client, alice, importer_org) -> None:
    upload = Upload.objects.create(organization=importer_org, original_name="r.csv", status="running", rows_total=200, rows_read=50)
    client.force_login(alice)
    response = client.get(reverse("upload_detail", args=[upload.pk]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and 'hx-trigger="every 1s"' in body and 'aria-valuenow="25"' in body


@pytest.mark.django_db
def test_a_refused_file_is_explained_beside_the_form(client, alice) -> None:
    client.force_login(alice)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(reverse("upload_new"), {"files": [SimpleUploadedFile("r.pdf", b"%PDF-1.7")]})
    assert response.status_code == 200 and "as a .csv or .xlsx" in response.content.decode()
    assert Upload.objects.count() == 0


@pytest.mark.django_db
def test_the_error_report_downloads_as_csv(client, alice, importer_org, write_es003, ingest) -> None:
    rows = entry_rows("00261103162")
    rows[1][13] = "=HYPERLINK(\"x\")"
    upload = ingest(write_es003(rows), organization=importer_org, user=alice)
    client.force_login(alice)
    response = client.get(reverse("upload_errors", args=[upload.pk]))
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    assert text.splitlines()[0] == "File,Row,Column,Value,Reason"
    assert 'es003.csv,3,Line Tariff Duty Amount,"\'=HYPERLINK(""x"")"' in text  # neutralised for spreadsheets


@pytest.mark.django_db
def test_a_viewer_cannot_upload(client, vera) -> None:
    client.force_login(vera)
    assert client.get(reverse("upload_new")).status_code == 403
    assert "Upload reports" not in client.get(reverse("upload_list")).content.decode()


@pytest.mark.django_db
def test_another_organisations_upload_is_a_404(client, charlie, importer_org) -> None:
    upload = Upload.objects.create(organization=importer_org, original_name="secret.csv", errors=[{"row": 1}])
    client.force_login(charlie)
    assert client.get(reverse("upload_detail", args=[upload.pk])).status_code == 404
    assert client.get(reverse("upload_errors", args=[upload.pk])).status_code == 404


# ------------------------------------------------------------------ API
@pytest.mark.django_db
def test_the_api_creates_uploads_from_several_files_and_scopes_reads(client, alice, charlie, importer_org, write_es003, django_capture_on_commit_callbacks) -> None:
    client.force_login(alice)
    a = write_es003(entry_rows("00261103162"), name="a.csv")
    b = write_es003(entry_rows("60576069342"), name="b.xlsx")
    with django_capture_on_commit_callbacks(execute=True), a.open("rb") as fa, b.open("rb") as fb:
        response = client.post("/api/uploads/", {"files": [fa, fb]})
    assert response.status_code == 201, response.content
    ids = [u["id"] for u in response.json()]
    assert len(ids) == 2
    detail = client.get(f"/api/uploads/{ids[1]}/").json()
    assert detail["status"] == "done" and detail["summary"]["entries_created"] == 1 and detail["errors"] == []
    assert client.get("/api/uploads/").json()["count"] == 2
    client.force_login(charlie)
    assert client.get("/api/uploads/").json()["count"] == 0
    assert client.get(f"/api/uploads/{ids[0]}/").status_code == 404


@pytest.mark.django_db
def test_the_api_refuses_a_bad_file_with_a_400(client, alice) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(alice)
    response = client.post("/api/uploads/", {"files": [SimpleUploadedFile("x.exe", b"MZ\x00\x00")]})
    assert response.status_code == 400 and "files" in response.json()


@pytest.mark.django_db
def test_a_viewer_cannot_upload_through_the_api(client, vera, write_es003) -> None:
    client.force_login(vera)
    path = write_es003(entry_rows("00261103162"))
    with path.open("rb") as fh:
        assert client.post("/api/uploads/", {"files": [fh]}).status_code == 403


# ------------------------------------------------------------------ a real worker
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_processes_an_upload(celery_worker_process, importer_org, alice, write_es003) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from entries.ingest.intake import upload_create

    path = write_es003(entry_rows("00261103162") + entry_rows("60576069342"))
    with transaction.atomic():
        upload = upload_create(organization=importer_org, user=alice, file=SimpleUploadedFile(path.name, path.read_bytes()))
    done = wait_for(lambda: Upload.objects.filter(pk=upload.pk, status__in=["done", "failed"]).first(), timeout=90)
    assert done.status == "done", (done.error_message, celery_worker_process.output()[-2000:])
    assert entries_for(importer_org).filter(last_upload=done).count() == 2
