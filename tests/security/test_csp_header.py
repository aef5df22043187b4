"""The Content-Security-Policy header is on every response (refundready/csp.py): pages, htmx fragments, the API."""

from __future__ import annotations

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_the_policy_allows_only_the_apps_own_scripts_and_styles() -> None:
    directives = dict(d.strip().split(" ", 1) for d in settings.CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in settings.CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_the_log_in_page_carries_the_policy(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/accounts/login/")["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", ["/dashboard/", "/entries/uploads/", "/api/importers/", "/api/docs/"])
def test_every_response_carries_the_policy(path, client, alice) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    response = client.get(path, HTTP_X_ORGANIZATION="blue-heron")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


def test_the_api_docs_start_swagger_from_a_script_url_not_inline(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/api/docs/").content.decode()
    assert '<script src="/api/docs/?script=' in html
    assert "<script>" not in html and "<style>" not in html
    script = client.get("/api/docs/?script")
    assert script["Content-Type"].startswith("application/javascript") and b"SwaggerUIBundle" in script.content


def test_no_template_has_inline_script_handlers_or_styles() -> None:
    import re
    from pathlib import Path

    root = Path(settings.BASE_DIR) / "templates"
    offenders = []
    for template in root.rglob("*.html"):
        if template.parts[-2] in {"pdf", "email"}:  # WeasyPrint and mail clients, never a browser page
            continue
        text = re.sub(r"{#.*?#}|{% comment %}.*?{% endcomment %}", "", template.read_text(), flags=re.S)
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text) or re.search(r"\sstyle\s*=|<style", text):
            offenders.append(str(template.relative_to(root)))
    assert not offenders
