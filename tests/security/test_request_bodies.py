"""Request bodies are refused from their headers, before any of the body is read or reaches the disk
(refundready/bodylimit.py): a real HTTP request to the live server declares a huge Content-Length (or
sends a chunked body without one), sends the first megabyte, and waits: the answer must come at once,
413 (411) with a clear message, and no temporary upload file may appear in FILE_UPLOAD_TEMP_DIR
meanwhile. Before the limit, the CSRF check parsed the body and spooled it to a temporary file."""

from __future__ import annotations

import os
import select
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from accounts.models import Form5106Record
from ach.models import AchEnrollment
from refundready.bodylimit import REQUEST_FRAMING_ALLOWANCE, body_limit

HUGE = 300 * 1024 * 1024
BOUNDARY = "----refundreadytestboundary"
CSRF = "a" * 32  # a well-formed CSRF cookie, as any visitor gets from a GET of the log-in page


def _part_head(field: str, filename: str, content_type: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()


def _send(live_url: str, path: str, headers: dict[str, str], first: bytes, temp_dir: Path,
          timeout: float = 15.0) -> dict[str, Any]:
    """Send the request line, ``headers`` and ``first`` bytes of the body, then wait for either an
    answer or a file in ``temp_dir``. Returns the status, the body and the files seen."""
    host, port = urlsplit(live_url).hostname, urlsplit(live_url).port
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(head.encode() + b"\r\n" + first)
        deadline, seen, raw = time.monotonic() + timeout, [], b""
        while time.monotonic() < deadline:
            seen = os.listdir(temp_dir)
            if seen:
                break
            readable, _, _ = select.select([sock], [], [], 0.02)
            if readable:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
                header, sep, body = raw.partition(b"\r\n\r\n")
                if sep:
                    lengths = [line.split(b":", 1)[1] for line in header.split(b"\r\n") if line.lower().startswith(b"content-length:")]
                    if lengths and len(body) >= int(lengths[0]):
                        break
        status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else None
        return {"status": status, "body": raw.partition(b"\r\n\r\n")[2].decode(errors="replace"), "temp_files": seen}
    finally:
        sock.close()


@pytest.fixture
def temp_dir(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "upload-tmp"
    path.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(path)
    return path


def _session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}; csrftoken={CSRF}"


# (route, who posts, the file part): pages and API routes, anonymous and signed in.
ROUTES = [
    ("/accounts/login/", None, ("username", "x.bin", "application/octet-stream")),
    ("/ach/importers/{importer}/active/", "alice", ("evidence", "ace.pdf", "application/pdf")),
    ("/onboarding/5106/import/", "alice", ("file", "5106.csv", "text/csv")),
    ("/api/form5106/import/", "alice", ("file", "5106.csv", "text/csv")),
    ("/api/refund-reports/", "alice", ("file", "rev603.csv", "text/csv")),
    ("/entries/uploads/new/", "alice", ("files", "es003.csv", "text/csv")),
    ("/api/uploads/", "alice", ("files", "es003.csv", "text/csv")),
]


@pytest.mark.parametrize(("path", "who", "part"), ROUTES, ids=[r[0].strip("/").replace("/", "-") for r in ROUTES])
def test_a_huge_declared_body_is_refused_before_a_byte_is_read(path, who, part, live_server, temp_dir, alice,  # type: ignore[no-untyped-def]
                                                               own_importer, settings) -> None:
    path = path.format(importer=own_importer.pk)
    cookie = _session_cookie(alice) if who else f"csrftoken={CSRF}"
    answer = _send(live_server.url, path, {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(HUGE),
        "Cookie": cookie, "X-CSRFToken": CSRF, "X-Organization": "blue-heron",
    }, _part_head(*part) + b"%PDF-1.7\n" + b"\0" * (1024 * 1024), temp_dir)
    assert answer["temp_files"] == [], f"a temporary file was written: {answer['temp_files']}"
    assert answer["status"] == 413, answer
    assert "300.0 MB" in answer["body"]
    if path.startswith("/api/"):
        assert '"detail"' in answer["body"]
    assert not Form5106Record.objects.exists() and not AchEnrollment.objects.exclude(evidence="").exists()


def test_the_message_names_the_routes_limit(live_server, temp_dir, alice, own_importer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ACH_EVIDENCE_MAX_SIZE = 5 * 1024 * 1024
    answer = _send(live_server.url, f"/ach/importers/{own_importer.pk}/active/", {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(HUGE),
        "Cookie": _session_cookie(alice), "X-CSRFToken": CSRF,
    }, _part_head("evidence", "ace.pdf", "application/pdf"), temp_dir)
    assert answer["status"] == 413
    assert answer["body"] == ("This request's body is 300.0 MB; this address accepts at most 5.1 MB. "
                              "Nothing of it was read or stored.")


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/form5106/import/"])
def test_a_chunked_body_without_a_length_is_refused_unread(path, live_server, temp_dir, alice, settings) -> None:  # type: ignore[no-untyped-def]
    chunk = _part_head("file", "x.csv", "text/csv") + b"x" * (1024 * 1024)
    answer = _send(live_server.url, path, {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Transfer-Encoding": "chunked",
        "Cookie": _session_cookie(alice), "X-CSRFToken": CSRF, "X-Organization": "blue-heron",
    }, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n", temp_dir)
    assert answer["temp_files"] == []
    assert answer["status"] == 411, answer
    assert "Send it with a Content-Length header" in answer["body"]


# ---------------------------------------------------------------- the limits, through the test client
@pytest.mark.django_db
def test_a_route_without_a_file_accepts_request_max_body_size(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REQUEST_MAX_BODY_SIZE = 64 * 1024
    response = client.post("/accounts/login/", {"username": "x" * (70 * 1024), "password": "p"})
    assert response.status_code == 413
    assert "accepts at most 64.0 KB" in response.content.decode()
    assert client.post("/accounts/login/", {"username": "x" * 1024, "password": "p"}).status_code == 200


@pytest.mark.django_db
def test_each_upload_route_follows_its_files_setting(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ACH_EVIDENCE_MAX_SIZE = 2 * 1024 * 1024
    settings.FORM5106_MAX_IMPORT_BYTES = 3 * 1024 * 1024
    settings.REQUEST_MAX_BODY_SIZE = 1024 * 1024
    assert body_limit("/ach/importers/7/active/") == 2 * 1024 * 1024 + REQUEST_FRAMING_ALLOWANCE
    assert body_limit("/onboarding/5106/import/") == body_limit("/api/form5106/import/") == 3 * 1024 * 1024 + REQUEST_FRAMING_ALLOWANCE
    assert body_limit("/accounts/login/") == body_limit("/no/such/page/") == 1024 * 1024
    # A pasted list of entry numbers for a declaration build may be as long as Django accepts form data.
    assert body_limit("/cape/") == body_limit("/api/declarations/build/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE + REQUEST_FRAMING_ALLOWANCE

