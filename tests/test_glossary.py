"""Plain words for CBP terms: every glossary term that appears in the text of the dashboard, the
portfolio, the entries list and an entry, the CAPE page and the exports page is explained on that page
by {% term %} (an <abbr> whose title holds the plain words)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.urls import reverse
from django.utils import timezone

from accounts.templatetags.glossary import glossary
from cape.models import Declaration
from tests.cape.factories import eligible_entry

pytestmark = pytest.mark.django_db

REQUIRED_TERMS = ["ACE", "CAPE", "ES-003", "IOR", "IR number", "HTS", "IEEPA", "liquidation", "reliquidation", "protest",
                  "CIT", "TAO", "Form 5106", "Form 4811", "ACH refund", "PSC", "reconciliation", "drawback",
                  "claim number", "REV-603", "REV-613", "REV-615"]


class _Text(HTMLParser):
    """The body's visible text outside any explained term, and the terms explained (abbr with a title)."""

    SKIP = {"script", "style", "head", "template"}

    def __init__(self) -> None:
        super().__init__()
        self.plain: list[str] = []
        self.explained: dict[str, str] = {}
        self._skip = 0
        self._abbr = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "abbr":
            self._abbr += 1
            if a.get("data-term") and a.get("title"):
                self.explained[a["data-term"] or ""] = a["title"] or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip -= 1
        elif tag == "abbr":
            self._abbr -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._abbr:
            self.plain.append(data)


def unexplained(html: str) -> set[str]:
    parser = _Text()
    parser.feed(html)
    text = " ".join(parser.plain)
    return {key for key, entry in glossary().items() if key not in parser.explained and any(p.search(text) for p in entry["patterns"])}


def test_the_glossary_has_every_term_with_plain_words_and_a_source() -> None:
    terms = glossary()
    for key in REQUIRED_TERMS:
        assert key in terms, key
        assert len(terms[key]["plain"]) > 20 and terms[key]["source"], key


def test_the_term_tag_renders_an_abbr_with_the_plain_words() -> None:
    html = Template('{% load glossary %}{% term "HTS" %} {% term "IOR" "importer of record" %}').render(Context())
    assert html.startswith('<abbr class="term-abbr" title="Harmonized Tariff Schedule')
    assert 'data-term="IOR">importer of record</abbr>' in html


def test_an_unknown_term_is_a_template_error() -> None:
    with pytest.raises(TemplateSyntaxError, match="not in accounts/data/glossary.json"):
        Template('{% load glossary %}{% term "XYZ" %}').render(Context())


def test_the_checker_sees_an_unexplained_term() -> None:
    assert unexplained("<html><body><p>Upload the ES-003</p></body></html>") == {"ES-003"}
    assert unexplained('<body><abbr data-term="ES-003" title="the report">ES-003</abbr> ES-003</body>') == set()


@pytest.fixture
def seeded(importer_org, own_importer, alice):  # type: ignore[no-untyped-def]
    entry = eligible_entry(own_importer)
    Declaration.objects.create(organization=importer_org, importer=own_importer, name="Filed batch",
                               status=Declaration.Status.EXPORTED, entry_count=1, file_bytes=b"Entry Number\nX\n",
                               exported_at=timezone.now())
    return entry


def test_every_term_on_the_importer_pages_is_explained(client, alice, seeded) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    pages = {
        "dashboard": reverse("dashboard"),
        "entries": reverse("entry_list"),
        "entry": reverse("entry_detail", args=[seeded.pk]),
        "cape": reverse("cape_home"),
        "exports": reverse("exports"),
    }
    missing = {}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        left = unexplained(response.content.decode())
        if left:
            missing[name] = sorted(left)
    assert missing == {}, missing


def test_every_term_on_the_portfolio_is_explained(client, bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    eligible_entry(own_importer, organization=broker_org)
    client.force_login(bob)
    response = client.get(reverse("dashboard"))
    assert response.templates[0].name == "dashboard/portfolio.html"
    left = unexplained(response.content.decode())
    assert left == set(), sorted(left)


def _where(html: str) -> dict[str, list[str]]:  # debugging aid: the unexplained occurrences with context
    parser = _Text()
    parser.feed(html)
    text = " ".join(" ".join(parser.plain).split())
    out: dict[str, list[str]] = {}
    for key, entry in glossary().items():
        if key in parser.explained:
            continue
        for p in entry["patterns"]:
            for m in p.finditer(text):
                out.setdefault(key, []).append(text[max(0, m.start() - 40):m.end() + 20])
    return out
