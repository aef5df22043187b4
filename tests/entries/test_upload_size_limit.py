"""MAX_UPLOAD_SIZE is enforced from CONTENT_LENGTH, before the body is read (page and API)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.multipartparser import MultiPartParser
from django.test import Client
from django.urls import reverse

from entries.models import Upload
from entries.views_upload import REQUEST_FRAMING_ALLOWANCE

pytestmark = pytest.mark.django_db

OVERSIZE = b"Entry Summary Number," + b"x" * (REQUEST_FRAMING_ALLOWANCE + 8 * 1024)


@pytest.fixture
def body_never_parsed(monkeypatch):  # type: ignore[no-untyped-def]
    """Fail the test if anything parses a multipart body (the refusal must come first)."""
    def parse(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the multipart body was read")

    monkeypatch.setattr(MultiPartParser, "parse", parse)


def _field_errors(body: str) -> list[str]:
    field = re.search(r'<div class="field has-error">(.*?)</div>', body, re.S)
    assert field, "no field carries an error"
    assert 'name="files"' in field.group(1)
    return re.findall(r'<p class="error" role="alert">(.*?)</p>', field.group(1), re.S)


def test_the_page_refuses_an_oversized_request_beside_the_field_without_reading_it(client, alice, settings, body_never_parsed) -> None:
    settings.MAX_UPLOAD_SIZE = 1024
    client.force_login(alice)
    response = client.post(reverse("upload_new"), {"files": [SimpleUploadedFile("big.csv", OVERSIZE)]})
    assert response.status_code == 413
    [error] = _field_errors(response.content.decode())
    assert error.startswith("This upload is 7") and "the most accepted at once is 1.0 KB" in error
    assert "several goes" in error and "ACE Reports" in error
    assert Upload.objects.count() == 0


def test_the_api_refuses_an_oversized_request_with_a_413_without_reading_it(client, alice, settings, body_never_parsed) -> None:
    settings.MAX_UPLOAD_SIZE = 1024
    client.force_login(alice)  # session authentication: its CSRF check would read the body
    response = client.post("/api/uploads/", {"files": [SimpleUploadedFile("big.csv", OVERSIZE)]})
    assert response.status_code == 413
    assert "the most accepted at once is 1.0 KB" in response.json()["detail"]
    assert Upload.objects.count() == 0


def test_a_request_within_the_framing_allowance_reaches_the_per_file_check(client, alice, settings) -> None:
    settings.MAX_UPLOAD_SIZE = 1024
    client.force_login(alice)
    response = client.post(reverse("upload_new"), {"files": [SimpleUploadedFile("big.csv", b"Entry Summary Number," + b"x" * 4096)]})
    assert response.status_code == 200
    [error] = _field_errors(response.content.decode())
    assert "the largest file accepted is" in error
    api = client.post("/api/uploads/", {"files": [SimpleUploadedFile("big.csv", b"Entry Summary Number," + b"x" * 4096)]})
    assert api.status_code == 400 and "the largest file accepted is" in api.json()["files"][0]
    assert Upload.objects.count() == 0


def test_the_page_still_checks_csrf_after_the_size(alice, importer_org, settings) -> None:
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(alice)
    response = csrf_client.post(reverse("upload_new"), {"files": [SimpleUploadedFile("r.csv", b"Entry Summary Number,\r\n")]})
    assert response.status_code == 403 and Upload.objects.count() == 0


def test_a_viewer_posting_an_oversized_request_is_refused_as_a_viewer(client, vera, settings, body_never_parsed) -> None:
    settings.MAX_UPLOAD_SIZE = 1024
    client.force_login(vera)
    response = client.post(reverse("upload_new"), {"files": [SimpleUploadedFile("big.csv", OVERSIZE)]})
    assert response.status_code == 403 and Upload.objects.count() == 0
