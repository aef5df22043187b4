"""Every download's Content-Disposition is built by one encoder (django.utils.http.content_disposition_header):
a file name chosen by an uploader cannot add parameters to the header of the download that echoes it."""

from __future__ import annotations

from email.message import Message
from pathlib import Path

import pytest
from django.urls import reverse

from entries.models import Upload

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "entries" / "fixtures" / "es003_sample.csv"
# The name a hostile uploader gives the file: it closes the quoted name and adds a filename* parameter,
# which browsers prefer to filename, so the download would be saved (and opened) as evil.html.
EVIL = "report\"; filename*=UTF-8''evil.html.csv"
BOUNDARY = "----refundreadydownloadtest"


def _multipart(field: str, data: bytes) -> bytes:
    # The name travels RFC 2231-encoded in the part's header, as any HTTP client may send it.
    encoded = "report%22%3B%20filename%2A%3DUTF-8%27%27evil.html.csv"
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename*=UTF-8''{encoded}\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def _disposition(header: str) -> Message:
    message = Message()
    message["Content-Disposition"] = header
    return message


@pytest.mark.parametrize("route", ["upload_new", "/api/uploads/"])
def test_an_uploaded_file_name_cannot_inject_into_the_error_reports_header(route, client, alice, settings) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    url = reverse(route) if not route.startswith("/") else route
    response = client.generic("POST", url, _multipart("files", SAMPLE.read_bytes()),
                              content_type=f"multipart/form-data; boundary={BOUNDARY}", HTTP_X_ORGANIZATION="blue-heron")
    assert response.status_code in (201, 302), response.content[:500]
    upload = Upload.objects.get()
    assert upload.original_name == EVIL  # the name arrived as the attacker wrote it

    download = client.get(reverse("upload_errors", args=[upload.pk]))
    header = download["Content-Disposition"]
    parsed = _disposition(header)
    # One name, quoted and escaped: no second (filename*) parameter, and it reads back as the stored name.
    assert [k for k, _ in parsed.get_params(header="content-disposition")] == ["attachment", "filename"], header
    assert parsed.get_filename() == "report\"; filename*=UTF-8''evil.html-errors.csv"
    assert parsed.get_filename().endswith("-errors.csv")


def test_a_non_ascii_file_name_is_sent_rfc_5987_encoded(client, alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    upload = Upload.objects.create(organization=importer_org, original_name="Relatório café.csv", errors=[])
    client.force_login(alice)
    header = client.get(reverse("upload_errors", args=[upload.pk]))["Content-Disposition"]
    assert header == "attachment; filename*=utf-8''Relat%C3%B3rio%20caf%C3%A9-errors.csv"
    assert _disposition(header).get_filename() == "Relatório café-errors.csv"


def test_the_other_downloads_name_their_files(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    for url, name in [
        (reverse("ach_export"), "ach-readiness.csv"),
        (reverse("cape_export_calendar"), "refundready-deadlines.ics"),
    ]:
        header = client.get(url)["Content-Disposition"]
        assert _disposition(header).get_filename() == name and header.startswith("attachment; ")
