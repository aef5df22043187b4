"""One money format and one count format on every page, in the readiness PDF and in the XLSX workbooks
(issue #20 item 6): "$43,097,491.00", "12,007"; XLSX money cells '#,##0.00', counts '#,##0'.

A broker's workspace with over a thousand entries (an ES-003 of 7,000 tariff lines, ingested and classified)
is read back as a person reads it: every page of the navigation, an importer's dashboard and a declaration,
the PDF's text, the workbooks' number formats."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from accounts.templatetags.money import COUNT_FORMAT, MONEY_FORMAT, count, money
from portfolio.charts import Bar, bar_chart
from tests.numbers import figure_problems, html_problems, read_html, text_problems

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- the check itself
@pytest.mark.parametrize("text", ["$43,097,491 · 7,693 entr", "IEEPA duty $1234.50", "24000 entries", "of 12007",
                                  "Entries 1–50 of 1234", "$7.5"])
def test_the_check_finds_what_issue_20_saw(text: str) -> None:
    assert text_problems(text), text


@pytest.mark.parametrize("figure", ["12007", "$43,097,491", "1234 / 9"])
def test_the_check_finds_a_bare_figure(figure: str) -> None:
    assert figure_problems(figure), figure


@pytest.mark.parametrize("text", ["$43,097,491.00 · 7,693 entries", "entry 3BZ-5500001-4 on 12/19/2026",
                                  "19 U.S.C. 1514(c)(3)", "CSMS # 65829726", "HTS 9903.01.25", "-$12.50", "of 12,007"])
def test_the_check_leaves_right_figures_and_identifiers_alone(text: str) -> None:
    assert not text_problems(text), text


def test_the_filters_are_the_one_format() -> None:
    assert money(Decimal("43097491")) == "$43,097,491.00" and money(Decimal("-12.5")) == "-$12.50"
    assert count(12007) == "12,007"
    text, figures = read_html('<td class="num">{}</td><p>{} entries</p>'.format(money(Decimal("1234.5")), count(24000)))
    assert figures == ["$1,234.50"] and not html_problems(f"<p>{text}</p>")


def test_the_chart_shows_cents_and_leaves_room_for_the_longest_value() -> None:
    from portfolio.charts import text_px

    svg = str(bar_chart([Bar("File in CAPE (Phase 1)", Decimal("43097491.00"), "7,693 entries"),
                         Bar("Court of International Trade (counsel)", Decimal("12.00"), "1 entry")], title="t"))
    assert "$43,097,491.00 · 7,693 entries" in svg and "$12.00 · 1 entry" in svg
    assert not html_problems(svg)
    import re

    drawings = svg.split("<svg")[1:]
    assert len(drawings) == 2  # the laptop drawing and the phone drawing
    for drawing in drawings:
        width = int(drawing.split('viewBox="0 0 ', 1)[1].split(" ", 1)[0])
        values = re.findall(r'<text x="(\d+)" y="[\d.]+" dominant-baseline="middle" class="bar-value">([^<]+)</text>', drawing)
        assert len(values) == 2
        for x, text in values:
            assert int(x) + text_px(text) <= width, (x, text, width)
        ends = re.findall(r'<text x="(\d+)" y="[\d.]+" text-anchor="end" dominant-baseline="middle" class="bar-label">([^<]+)</text>', drawing)
        starts = re.findall(r'<text x="(\d+)" y="[\d.]+" dominant-baseline="middle" class="bar-label">([^<]+)</text>', drawing)
        assert len(ends) + len(starts) == 2
        assert all(int(x) - text_px(t) >= 0 for x, t in ends) and all(int(x) + text_px(t) <= width for x, t in starts)


# ---------------------------------------------------------------- a workspace over a thousand entries
@pytest.fixture
def big_workspace(tmp_path, broker_org, bob, own_importer):  # type: ignore[no-untyped-def]
    from cape.classify import classify_entries, today_eastern
    from cape.declarations import declaration_build
    from entries.ingest.cli import ingest_files
    from entries.models import Entry
    from entries.samplegen import es003_rows, write_csv

    path = write_csv(tmp_path / "big.csv", es003_rows(7000, seed=3))
    result = ingest_files(organization=broker_org, paths=[path], user=bob)
    assert not result.fatal_errors
    classify_entries(organization=broker_org, as_of=today_eastern())
    assert Entry.objects.filter(importer=own_importer).count() >= 1000
    declaration_build(organization=broker_org, importer_ids=[own_importer.pk])
    return broker_org


def test_every_page_of_a_large_workspace_has_one_money_and_one_count_format(client, bob, big_workspace, own_importer) -> None:  # type: ignore[no-untyped-def]
    from cape.declarations import declarations_for
    from entries.models import Entry, Upload

    client.force_login(bob)
    entry = Entry.objects.filter(importer=own_importer).order_by("-ieepa_duty").first()
    declaration = declarations_for(big_workspace).order_by("-entry_count").first()
    assert declaration is not None and declaration.entry_count >= 100
    pages = [reverse("dashboard"), reverse("client_dashboard", args=[own_importer.pk]), reverse("entry_list"), "/entries/?page=2",
             reverse("entry_detail", args=[entry.pk]), reverse("upload_list"), reverse("cape_home"),
             reverse("cape_declaration", args=[declaration.pk]), reverse("cape_refunds"), reverse("exports"),
             reverse("ach_home"), reverse("ach_importer", args=[own_importer.pk]), reverse("onboarding_readiness"),
             reverse("onboarding_readiness_detail", args=[own_importer.pk]), reverse("importer_list"),
             reverse("importer_detail", args=[own_importer.pk]), reverse("cape_refund_timeline", args=[own_importer.pk]),
             reverse("upload_detail", args=[Upload.objects.filter(organization=big_workspace).get().pk]),
             reverse("audit_log")]
    problems: list[str] = []
    seen_big_count = False
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        problems += [f"{url}: {p}" for p in html_problems(html)]
        seen_big_count |= any("," in f and f.replace(",", "").isdigit() for f in read_html(html)[1])
    assert seen_big_count  # the pages really showed a count of a thousand or more
    assert not problems, "\n".join(problems)


def test_the_readiness_pdf_has_one_money_and_one_count_format(big_workspace, own_importer) -> None:  # type: ignore[no-untyped-def]
    from portfolio.readiness_pdf import readiness_pdf

    reader = PdfReader(io.BytesIO(readiness_pdf(big_workspace, own_importer)))
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)
    import re

    loaded = re.search(r"Entries loaded ([\d,]+)", text)
    assert loaded and "," in loaded.group(1)  # 1,000 or more, with its separator
    assert not text_problems(text)


def _numeric_cells(data: bytes) -> list[tuple[str, str, object, str]]:
    wb = load_workbook(io.BytesIO(data))
    return [(ws.title, cell.coordinate, cell.value, cell.number_format)
            for ws in wb.worksheets for row in ws.iter_rows() for cell in row
            if isinstance(cell.value, int | float) and not isinstance(cell.value, bool)]


def test_the_workbooks_carry_the_money_and_count_number_formats(client, bob, big_workspace, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    for url in (reverse("cape_export_workbook"), reverse("portfolio_export")):
        response = client.get(url)
        assert response.status_code == 200, url
        cells = _numeric_cells(b"".join(response.streaming_content) if response.streaming else response.content)
        assert cells, url
        wrong = [c for c in cells if c[3] not in (MONEY_FORMAT, COUNT_FORMAT)]
        assert not wrong, (url, wrong[:10])
        assert {c[3] for c in cells} == {MONEY_FORMAT, COUNT_FORMAT}, url
        # money is numeric with cents: a count cell never holds a fraction
        assert all(float(c[2]).is_integer() for c in cells if c[3] == COUNT_FORMAT), url
