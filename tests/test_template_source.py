"""Template source never reaches a page: Django's short comment tag is single-line only, and a
multi-line one is rendered as text (the log-in page showed form_field.html's comment)."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.urls import reverse

TEMPLATE_TAGS = re.compile(r"\{#|#\}|\{%|%\}|\{\{|\}\}")


def _template_files() -> list[Path]:
    roots = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]]
    return sorted(p for root in roots for p in root.rglob("*.html"))


def test_no_template_opens_a_short_comment_it_closes_on_another_line() -> None:
    offenders = []
    for path in _template_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            opened = line.rfind("{#")
            if opened != -1 and "#}" not in line[opened:]:
                offenders.append(f"{path}:{number}")
    assert _template_files(), "no templates found"
    assert offenders == []


def test_the_login_page_shows_no_template_source(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get(reverse("login"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "One form field" not in text
    assert TEMPLATE_TAGS.search(text) is None
