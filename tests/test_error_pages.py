"""Refusals and errors are the site's own pages with the reason and a way back (issue #20, item 9), the
admin reads as English and keeps evidence read-only (item 11), and browsers find a favicon."""

from __future__ import annotations

import io
import logging

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from accounts.models import AuditLog
from refundready.logging import NoTracebackForClientErrors


def test_a_viewer_refused_a_change_sees_the_sites_page_with_the_reason(vera) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(vera)
    # The console handler the settings configure, writing to a buffer for the length of the request.
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, NoTracebackForClientErrors) for f in h.filters))
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    stream = handler.setStream(buffer)
    try:
        response = client.get(reverse("importer_new"))
    finally:
        handler.setStream(stream)
    assert response.status_code == 403
    text = response.content.decode()
    assert "Viewers can read and export but not change anything." in text
    assert 'href="/"' in text and "Back to the dashboard" in text
    assert 'class="topbar"' in text  # the site's page, not Django's bare "403 Forbidden"
    # Django hands the PermissionDenied to its warning as exc_info: the configured handler writes the one
    # line without the traceback.
    err = buffer.getvalue()
    assert "Forbidden (Permission denied): /accounts/importers/new/" in err
    assert "Traceback" not in err


def test_a_server_error_keeps_its_traceback_in_the_log() -> None:
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /x", (), None)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    record.status_code = 500
    assert NoTracebackForClientErrors().filter(record) and record.exc_info is not None


def test_a_missing_page_is_the_sites_404(alice, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    client = Client()
    client.force_login(alice)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "Page not found" in text and "Back to the dashboard" in text and 'class="topbar"' in text


def test_a_server_error_is_the_sites_500_without_a_request_context() -> None:
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text and 'href="/"' in text and "favicon.svg" in text


@pytest.mark.django_db
def test_pages_name_a_favicon_and_favicon_ico_finds_it(client) -> None:  # type: ignore[no-untyped-def]
    assert 'rel="icon"' in client.get(reverse("login")).content.decode()
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    icon = client.get(response["Location"])
    assert icon.status_code == 200 and b"<svg" in b"".join(icon.streaming_content if icon.streaming else [icon.content])


@pytest.fixture
def admin_client_(db):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_superuser("root-admin", "root@example.com", "pw-admin-123456")
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_says_notify_parties_and_lists_declarations(admin_client_) -> None:  # type: ignore[no-untyped-def]
    text = admin_client_.get("/admin/").content.decode()
    assert "Notify parties" in text and "Notify partys" not in text
    assert "Declarations" in text
    assert admin_client_.get("/admin/cape/declaration/").status_code == 200


def test_the_audit_log_admin_is_read_only(admin_client_, alice) -> None:  # type: ignore[no-untyped-def]
    row = AuditLog.objects.create(action="test.action", object_type="x", object_id="1")
    assert admin_client_.get("/admin/accounts/auditlog/add/").status_code == 403
    page = admin_client_.get(f"/admin/accounts/auditlog/{row.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'name="_save"' not in text and "test.action" in text
    assert admin_client_.post(f"/admin/accounts/auditlog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditLog.objects.filter(pk=row.pk).exists()
