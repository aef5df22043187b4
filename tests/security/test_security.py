"""Security properties of the whole app (issue 9): CSRF everywhere, production cookies and HSTS,
password validation, upload limits, no account or SSN-form numbers in logs or errors, SSN-form IR
numbers masked, API tokens revocable, formulas neutralised in every export."""

from __future__ import annotations

import csv
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken
from tests.factories import EntryFactory, ImporterFactory, TariffLineFactory, api_key_for
from tests.security.conftest import new_key_on, tenant_counts
from tests.test_permission_harness import _urls

ROOT = Path(__file__).resolve().parents[2]
SSN_IR = "123-45-6789"
ACCOUNT = "000123456789"


# ---------------------------------------------------------------- CSRF
@pytest.mark.django_db
def test_every_post_without_a_csrf_token_is_refused_and_changes_nothing(alice, own_importer, broker_org) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    urls = [u for u in _urls("blue-heron") if not u.startswith("/admin/")]
    before = tenant_counts()
    accepted = []
    for url in urls:
        client.force_login(alice)
        response = client.post(url, {"confirmation": "Blue Heron Housewares", "action": "create", "name": "x"})
        if response.status_code < 400:
            accepted.append((url, response.status_code))
    assert not accepted, f"POSTs accepted without a CSRF token: {accepted}"
    assert tenant_counts() == before
    assert not ApiToken.objects.exists()


def _settings(env: dict[str, str], code: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    base.update(env)
    base["DJANGO_SETTINGS_MODULE"] = "refundready.settings"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; " + code],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_settings_have_secure_cookies_hsts_and_https(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = _settings(
        {
            "DEBUG": "false",
            "DATA_DIR": str(tmp_path),
            "SECRET_KEY": "p" * 64,
            "ALLOWED_HOSTS": "refunds.example.com",
            "FIELD_ENCRYPTION_KEY": "7Bd0nS8t2H3y1Qe4ZkVgk9o9mUj7b6o3i0r5u8w1y4c=",
        },
        "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY, "
        "settings.SECURE_HSTS_SECONDS >= 31536000, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, settings.SECURE_SSL_REDIRECT, "
        "settings.X_FRAME_OPTIONS, settings.DEBUG)",
    )
    assert out.split() == ["True", "True", "True", "True", "True", "True", "DENY", "False"]


@pytest.mark.django_db
def test_production_responses_carry_hsts_and_secure_cookies(client, settings, alice, password) -> None:  # type: ignore[no-untyped-def]
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    assert client.get("/accounts/login/").status_code == 301  # http → https
    response = client.get("/accounts/login/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.cookies["csrftoken"]["secure"]
    response = client.post("/accounts/login/", {"username": "alice", "password": password}, secure=True)
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"]


# ---------------------------------------------------------------- passwords
@pytest.mark.django_db
@pytest.mark.parametrize("weak", ["short1", "password123", "1234567890123", "qwertyuiop"])
def test_weak_passwords_are_refused(weak, alice) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        validate_password(weak, user=alice)


@pytest.mark.django_db
def test_a_strong_password_is_accepted(alice) -> None:  # type: ignore[no-untyped-def]
    validate_password("correct horse battery staple 42", user=alice)


# ---------------------------------------------------------------- upload limits
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("report.exe", b"MZ\x90\x00" + b"\x00" * 100, ".csv or .xlsx"),
        ("report.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old binary Excel"),
        ("report.xlsx", b"not a zip at all", "not an Excel workbook"),
        ("report.csv", b"PK\x03\x04" + b"\x00" * 100, "not a text"),
        ("report.csv", b"", "empty"),
    ],
)
def test_uploads_of_the_wrong_type_are_refused_with_a_reason(name, content, message, alice, client) -> None:  # type: ignore[no-untyped-def]
    from entries.models import Upload

    client.force_login(alice)
    response = client.post(reverse("upload_new"), {"files": [SimpleUploadedFile(name, content)]})
    assert response.status_code == 200 and message in response.content.decode()
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_an_upload_over_the_size_limit_is_refused(alice, client, settings) -> None:  # type: ignore[no-untyped-def]
    from entries.models import Upload

    settings.MAX_UPLOAD_SIZE = 64 * 1024
    client.force_login(alice)
    big = SimpleUploadedFile("big.csv", b"Entry Summary Number\r\n" + b"x" * (100 * 1024))
    response = client.post(reverse("upload_new"), {"files": [big]})
    assert "largest file accepted" in response.content.decode()
    assert not Upload.objects.exists()
    api = client.post("/api/uploads/", {"files": [SimpleUploadedFile("big.csv", b"x" * (100 * 1024))]})
    assert api.status_code == 400 and not Upload.objects.exists()


# ---------------------------------------------------------------- secrets in logs, errors and pages
@pytest.fixture
def console_log() -> io.StringIO:
    """The configured console handler (with its redaction filter), writing into a buffer."""
    root = logging.getLogger()
    handler = next(h for h in root.handlers if any(type(f).__name__ == "RedactSensitiveFilter" for f in h.filters))
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(old)


@pytest.mark.django_db
def test_entering_bank_details_never_logs_or_echoes_the_account_number(
    alice, own_importer, client, console_log, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    client.force_login(alice)
    url = reverse("ach_enrollment_save", args=[own_importer.pk])
    good = {
        "bank_name": "First Bank",
        "routing_number": "011000015",
        "account_number": ACCOUNT,
        "account_number_confirm": ACCOUNT,
        "account_type": "checking",
        "account_holder": "Blue Heron",
    }
    bad = dict(good, routing_number="011000016")  # wrong ABA check digit: an error page
    for data in (bad, good):
        response = client.post(url, data, follow=True)
        assert ACCOUNT not in response.content.decode()
    written = console_log.getvalue() + "\n".join(r.getMessage() for r in caplog.records)
    assert ACCOUNT not in written


@pytest.mark.django_db
def test_logged_errors_never_carry_ssn_form_or_account_numbers(console_log) -> None:  # type: ignore[no-untyped-def]
    log = logging.getLogger("refundready.test")
    log.error("importer %s account %s failed", SSN_IR, ACCOUNT)
    try:
        raise ValueError(f"bad importer {SSN_IR} account {ACCOUNT}")
    except ValueError:
        log.exception("processing failed")
    written = console_log.getvalue()
    assert "failed" in written
    assert SSN_IR not in written and ACCOUNT not in written, written


@pytest.mark.django_db
def test_a_failing_upload_with_ssn_form_importers_keeps_them_masked_everywhere(
    alice, importer_org, client, django_capture_on_commit_callbacks, console_log
) -> None:  # type: ignore[no-untyped-def]
    """An importer organisation uploading another (SSN-form) importer's rows: the error names it masked."""
    from entries.ingest.intake import upload_create
    from entries.ingest.service import upload_process
    from entries.samplegen import es003_rows, write_csv

    rows = list(es003_rows(6, seed=3, importers=[(SSN_IR, "Sole Proprietor")]))
    path = write_csv(Path(os.environ.get("TMPDIR", "/tmp")) / f"ssn-{os.getpid()}.csv", rows)
    with django_capture_on_commit_callbacks(execute=False):
        upload = upload_create(
            organization=importer_org, user=alice, file=SimpleUploadedFile("ssn.csv", path.read_bytes())
        )
    upload = upload_process(upload_id=upload.pk)
    path.unlink()
    client.force_login(alice)
    pages = [
        client.get(reverse("upload_detail", args=[upload.pk])).content.decode(),
        client.get(reverse("upload_errors", args=[upload.pk])).content.decode(),
        client.get(f"/api/uploads/{upload.pk}/").content.decode(),
        str(upload.errors),
        upload.error_message,
        str(upload.summary),
        console_log.getvalue(),
    ]
    for text in pages:
        at = max(text.find(SSN_IR), text.find("123456789"))
        assert at < 0, text[max(0, at - 300) : at + 100]


@pytest.mark.django_db
def test_ssn_form_importer_numbers_are_masked_in_lists_and_the_api(alice, importer_org, client) -> None:  # type: ignore[no-untyped-def]
    importer = ImporterFactory(owner=importer_org, ir_number=SSN_IR, name="Sole Proprietor")
    entry = EntryFactory(organization=importer_org, importer=importer)
    TariffLineFactory(entry=entry)
    client.force_login(alice)
    for url in [
        "/accounts/importers/",
        f"/accounts/importers/{importer.pk}/",
        "/entries/",
        f"/entries/{entry.pk}/",
        "/api/importers/",
        f"/api/importers/{importer.pk}/",
        "/api/entries/",
        f"/api/entries/{entry.pk}/",
        "/dashboard/",
        "/ach/",
        "/cape/",
    ]:
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 200, url
        assert SSN_IR not in body and "123456789" not in body, url
    assert "6789" in client.get("/accounts/importers/").content.decode()  # the masked form is shown


# ---------------------------------------------------------------- API tokens
@pytest.mark.django_db
def test_a_user_creates_and_revokes_their_api_token(alice, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    page = client.post(reverse("api_token"), {"action": "create", "expires_in": "90"})
    key = new_key_on(page)
    assert key not in client.get(reverse("api_token")).content.decode(), "shown once only"
    api = Client()
    assert api.get("/api/importers/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    client.post(reverse("api_token"), {"action": "revoke"})
    assert not ApiToken.objects.filter(user=alice).exists()
    assert api.get("/api/importers/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


@pytest.mark.django_db
def test_replacing_a_token_revokes_the_old_one_and_nobody_touches_anothers(alice, bob, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    old = new_key_on(client.post(reverse("api_token"), {"action": "create", "expires_in": "90"}))
    new = new_key_on(client.post(reverse("api_token"), {"action": "create", "expires_in": "90"}))
    assert new != old and ApiToken.objects.filter(user=alice).count() == 1
    bobs_key = api_key_for(bob)
    client.post(reverse("api_token"), {"action": "revoke"})
    assert ApiToken.objects.filter(user=bob).exists()
    assert Client().get("/api/importers/", HTTP_AUTHORIZATION=f"Token {old}").status_code == 401
    assert Client().get("/api/importers/", HTTP_AUTHORIZATION=f"Token {bobs_key}").status_code == 200


# ---------------------------------------------------------------- formulas in exports
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\t=1+1"]


def _dangerous(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    if value[0] in "=+-@\t\r":
        try:
            float(value)  # a negative amount is a number, not a formula
            return False
        except ValueError:
            return True
    return False


def _cells(content: bytes, kind: str) -> list[object]:
    if kind == "csv":
        return [c for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))) for c in row]
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(content))
    cells = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                cells.append(cell.value)
    return cells


@pytest.fixture
def hostile_names(alice, importer_org, own_importer, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    from ach.services import enrollment_details_save
    from cape.models import Path as CapePath
    from entries.models import Upload
    from tests.cape.factories import eligible_entry

    own_importer.name = FORMULAS[0]
    own_importer.save()
    for i, formula in enumerate(FORMULAS):
        entry = eligible_entry(
            own_importer,
            organization=importer_org,
            path=CapePath.CAPE_PHASE1,
            filer_name=formula,
            port_code="@1" if i == 0 else "1001",
            protest_number=formula[:40],
        )
        TariffLineFactory(entry=entry)
    enrollment_details_save(
        importer=own_importer,
        bank_name=FORMULAS[1],
        routing_number="011000015",
        account_number=ACCOUNT,
        account_type="checking",
        account_holder=FORMULAS[3],
        organization=importer_org,
        user=alice,
    )
    return Upload.objects.create(
        organization=importer_org,
        original_name="=cmd.csv",
        file="uploads/none.csv",
        status="failed",
        errors=[
            {"file": "=cmd.csv", "row": 2, "column": "Importer Name", "value": f, "reason": f"bad {f}"}
            for f in FORMULAS
        ],
    )


EXPORTS = [
    ("entries_errors_csv", "csv", lambda upload: reverse("upload_errors", args=[upload.pk])),
    ("ach_csv", "csv", lambda upload: reverse("ach_export")),
    ("cape_workbook_xlsx", "xlsx", lambda upload: reverse("cape_export_workbook")),
    ("portfolio_xlsx", "xlsx", lambda upload: reverse("portfolio_export")),
]
EXPORT_GAPS: dict[str, str] = {}  # every export neutralises; a gap found later is listed here as a strict xfail


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=EXPORT_GAPS[n])) if n in EXPORT_GAPS else n
        for n, _, _ in EXPORTS
    ],
)
def test_every_export_neutralises_formulas(name, hostile_names, alice, client) -> None:  # type: ignore[no-untyped-def]
    kind, url = next((k, u) for n, k, u in EXPORTS if n == name)
    client.force_login(alice)
    response = client.get(url(hostile_names))
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    cells = _cells(content, kind)
    assert (
        any(isinstance(c, str) and "HYPERLINK" in c for c in cells) or name == "ach_csv" or name == "entries_errors_csv"
    )
    bad = [c for c in cells if _dangerous(c)]
    assert not bad, f"{name}: live formulas {bad[:5]}"
