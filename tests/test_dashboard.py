"""Dashboards: the importer dashboard, the broker portfolio (figures, filters, sorting, bulk actions,
XLSX export, a fixed query count), the exports page for viewers, and the SVG chart."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ach.models import AchEnrollment
from cape.classify import today_eastern
from cape.models import Declaration, Path, RefundEvent
from entries.models import Upload
from portfolio.charts import Bar, bar_chart
from portfolio.dashboard import importer_dashboard, portfolio_for
from refundready.spreadsheet import neutralise
from tests.cape.factories import ClassificationFactory, eligible_entry
from tests.factories import EntryFactory, GrantFactory, ImporterFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


def classified(importer, organization, path: str, duty: str, deadline_in: int | None = None, **kw):  # type: ignore[no-untyped-def]
    today = today_eastern()
    entry = EntryFactory(organization=organization, importer=importer, ieepa_duty=Decimal(duty))
    deadline = today + timedelta(days=deadline_in) if deadline_in is not None else None
    return ClassificationFactory(
        entry=entry,
        path=path,
        deadline=deadline,
        urgent=deadline_in is not None and 0 <= deadline_in <= 14,
        deadline_passed=deadline_in is not None and deadline_in < 0,
        **kw,
    )


# ---------------------------------------------------------------- importer dashboard
def test_importer_dashboard_shows_duty_by_path_deadlines_uploads_timeline_and_next_steps(
    client, alice, importer_org, own_importer
) -> None:  # type: ignore[no-untyped-def]
    classified(own_importer, importer_org, Path.CAPE_PHASE1, "1000.00", deadline_in=5)
    classified(own_importer, importer_org, Path.CAPE_PHASE1, "500.00", deadline_in=25)
    classified(own_importer, importer_org, Path.PROTEST, "300.00", deadline_in=40)  # beyond 30 days
    classified(own_importer, importer_org, Path.NOT_ELIGIBLE, "70.00")
    Upload.objects.create(
        organization=importer_org,
        original_name="es003-running.csv",
        status=Upload.Status.RUNNING,
        rows_total=200,
        rows_read=50,
    )
    d = Declaration.objects.create(
        organization=importer_org,
        importer=own_importer,
        name="Blue Heron batch 1",
        status=Declaration.Status.ACCEPTED,
        entry_count=2,
        exported_at=timezone.now(),
        submitted_on=today_eastern() - timedelta(days=3),
        claim_number="100000241223",
        accepted_on=today_eastern() - timedelta(days=1),
    )
    RefundEvent.objects.create(
        organization=importer_org,
        importer=own_importer,
        declaration=d,
        kind=RefundEvent.Kind.TREASURY_ISSUED,
        event_date=today_eastern(),
        amount=Decimal("812.34"),
        source="rev603",
    )
    client.force_login(alice)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert response.templates[0].name == "dashboard/importer.html"
    dash = response.context["dash"]
    # at stake: every path but not eligible
    assert dash.duty_at_stake == Decimal("1800.00")
    assert 'data-testid="duty-at-stake">$1,800.00' in html
    # chart (SVG with text labels) and its table fallback
    assert "<svg" in html and 'role="img"' in html and "File in CAPE (Phase 1)" in html
    assert 'data-label="File in CAPE (Phase 1)" data-value="1500.00"' in html
    assert [t.count for t in dash.totals if t.path == Path.CAPE_PHASE1] == [2]
    # deadlines in the next 30 days, most urgent first; the protest (40 days) is not there
    assert [c.ieepa_duty for c in dash.deadlines] == [Decimal("1000.00"), Decimal("500.00")]
    assert dash.urgent_count == 1
    # the running upload has a progress bar at 25 %
    assert 'aria-valuenow="25"' in html and "es003-running.csv" in html
    # timeline: filed, accepted, expected refund window, the refund received
    kinds = {t.kind for t in dash.timeline}
    assert {"exported", "submitted", "accepted", "refund_window", "treasury_issued"} <= kinds
    assert "$812.34" in html
    # next steps: the urgent deadline first, then readiness steps
    assert dash.next_steps[0].urgent and "within 14 days" in dash.next_steps[0].text
    assert any("ACH refund enrollment" in s.text for s in dash.next_steps)


def test_importer_dashboard_costs_the_same_queries_with_more_data(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    classified(own_importer, importer_org, Path.CAPE_PHASE1, "10.00", deadline_in=3)
    with CaptureQueriesContext(connection) as few:
        importer_dashboard(importer_org)
    cache.clear()
    for i in range(15):
        classified(own_importer, importer_org, Path.PROTEST, "10.00", deadline_in=i)
        Upload.objects.create(organization=importer_org, original_name=f"f{i}.csv", status=Upload.Status.DONE)
    with CaptureQueriesContext(connection) as many:
        importer_dashboard(importer_org)
    assert len(many) == len(few) + 1  # plus the COUNT once the 15-row deadline list is full


# ---------------------------------------------------------------- broker portfolio
@pytest.fixture
def clients(broker_org, own_importer):  # type: ignore[no-untyped-def]
    """Bob's broker with three clients: Blue Heron (Alice's), Cedar Lane (ACH active), Dune (no ACH)."""
    cedar = ImporterFactory(name="Cedar Lane Imports LLC", ir_number="27-418830200", owner=None)
    dune = ImporterFactory(name="Dune Outfitters", ir_number="31-555000100", owner=None)
    for imp in (cedar, dune):
        GrantFactory(importer=imp, organization=broker_org)
    AchEnrollment.objects.create(importer=cedar, status=AchEnrollment.Status.ACTIVE)
    classified(own_importer, broker_org, Path.CAPE_PHASE1, "1000.00", deadline_in=20)
    classified(own_importer, broker_org, Path.PROTEST, "250.00", deadline_in=9)
    classified(cedar, broker_org, Path.CAPE_PHASE1, "4000.00", deadline_in=60)
    classified(cedar, broker_org, Path.WAIT, "100.00")
    classified(dune, broker_org, Path.CAPE_PHASE2, "2500.00", deadline_in=40)
    classified(dune, broker_org, Path.NOT_ELIGIBLE, "999.00")
    return {"blue": own_importer, "cedar": cedar, "dune": dune}


def test_broker_landing_page_is_the_portfolio_with_each_clients_figures(client, bob, clients) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert response.templates[0].name == "dashboard/portfolio.html"
    rows = {r.importer.name: r for r in response.context["page"]}
    assert list(rows) == ["Blue Heron Housewares Inc", "Cedar Lane Imports LLC", "Dune Outfitters"]
    blue, cedar, dune = rows.values()
    assert blue.figures.paths[Path.CAPE_PHASE1].count == 1 and blue.figures.paths[Path.PROTEST].duty == Decimal(
        "250.00"
    )
    assert blue.figures.duty_at_stake == Decimal("1250.00")
    assert blue.figures.nearest_deadline == today_eastern() + timedelta(days=9) and blue.figures.urgent == 1
    assert dune.figures.duty_at_stake == Decimal("2500.00")  # not eligible is not at stake
    assert (cedar.ach_status, cedar.has_route, cedar.at_risk) == ("active", True, Decimal("0.00"))
    assert (dune.ach_status, dune.has_route, dune.at_risk) == ("not_started", False, Decimal("2500.00"))
    assert dune.recipient.receiver_label == "Importer of record"
    assert 0 <= blue.ready_count < blue.step_count == 9  # 2026.12: the importer record warning step
    html = response.content.decode()
    assert "Upload one ES-003 covering all clients" in html and "split by importer number" in html
    assert 'id="build-form"' in html and 'name="importers"' in html and 'name="scope" value="all"' in html
    assert response.context["totals"]["at_risk"] == Decimal("3500.00")  # Blue Heron 1000 CAPE + Dune 2500


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "cedar"}, ["Cedar Lane Imports LLC"]),
        ({"q": "31-555"}, ["Dune Outfitters"]),
        ({"q": "315550001"}, ["Dune Outfitters"]),
        ({"no_ach": "on"}, ["Blue Heron Housewares Inc", "Dune Outfitters"]),
        ({"urgent": "on"}, ["Blue Heron Housewares Inc"]),
        ({"not_ready": "on"}, ["Blue Heron Housewares Inc", "Cedar Lane Imports LLC", "Dune Outfitters"]),
        ({"sort": "duty"}, ["Cedar Lane Imports LLC", "Dune Outfitters", "Blue Heron Housewares Inc"]),
        ({"sort": "deadline"}, ["Blue Heron Housewares Inc", "Dune Outfitters", "Cedar Lane Imports LLC"]),
        ({"sort": "at_risk"}, ["Dune Outfitters", "Blue Heron Housewares Inc", "Cedar Lane Imports LLC"]),
    ],
)
def test_portfolio_filters_and_sorts(client, bob, clients, params, expected) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.get(reverse("dashboard"), params)
    assert [r.importer.name for r in response.context["page"]] == expected


def test_portfolio_query_count_does_not_grow_with_importers(client, bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    client.get(reverse("dashboard"))  # session, caches warm
    cache.clear()
    with CaptureQueriesContext(connection) as three:
        assert client.get(reverse("dashboard")).status_code == 200
    for i in range(12):
        imp = ImporterFactory(owner=None)
        GrantFactory(importer=imp, organization=broker_org)
        AchEnrollment.objects.create(importer=imp, status=AchEnrollment.Status.ENTERED)
        classified(imp, broker_org, Path.CAPE_PHASE1, "10.00", deadline_in=i)
        classified(imp, broker_org, Path.PROTEST, "10.00", deadline_in=i + 1)
    cache.clear()
    with CaptureQueriesContext(connection) as fifteen:
        response = client.get(reverse("dashboard"))
    assert len(response.context["page"]) == 15
    assert len(fifteen) == len(three), [q["sql"] for q in fifteen.captured_queries]
    grouped = [q["sql"] for q in fifteen.captured_queries if "GROUP BY" in q["sql"] and '"path" AS "path"' in q["sql"]]
    assert len(grouped) == 1


def test_portfolio_group_by_is_cached_until_classifications_change(bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    from cape.selectors import bump_totals_version

    portfolio_for(broker_org)
    with CaptureQueriesContext(connection) as warm:
        portfolio_for(broker_org)
    assert not any("GROUP BY" in q["sql"] and '"path" AS "path"' in q["sql"] for q in warm.captured_queries)
    classified(clients["cedar"], broker_org, Path.CAPE_PHASE1, "1.00", deadline_in=1)
    bump_totals_version(broker_org.pk)
    row = next(r for r in portfolio_for(broker_org).rows if r.importer == clients["cedar"])
    assert row.figures.urgent == 1


def test_portfolio_export_is_an_xlsx_with_formulas_neutralised(client, bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    clients["dune"].name = '=HYPERLINK("http://evil","x")'
    clients["dune"].save()
    client.force_login(bob)
    response = client.get(reverse("portfolio_export"), {"sort": "duty"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(BytesIO(response.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "Importer" and "IEEPA duty at stake" in rows[0]
    names = [r[0] for r in rows[1:]]
    assert names == ["Cedar Lane Imports LLC", '\'=HYPERLINK("http://evil","x")', "Blue Heron Housewares Inc"]
    at_stake = rows[0].index("IEEPA duty at stake")
    assert rows[1][at_stake] == 4100  # Cedar: 4000 CAPE + 100 wait
    assert [neutralise(v) for v in ("+1", "-1", "@x", "ok", 5)] == ["'+1", "'-1", "'@x", "ok", 5]


def test_build_cape_files_for_the_selected_importers(client, bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    for imp in clients.values():
        AchEnrollment.objects.update_or_create(importer=imp, defaults={"status": AchEnrollment.Status.ACTIVE})
    client.force_login(bob)
    response = client.post(
        reverse("cape_home"),
        {"importers": [clients["cedar"].pk, clients["dune"].pk], "paths": ["cape_phase1", "cape_phase2"]},
    )
    assert response.status_code == 200
    built = Declaration.objects.filter(organization=broker_org)
    assert sorted(d.importer.name for d in built) == ["Cedar Lane Imports LLC", "Dune Outfitters"]


def test_viewer_cannot_see_the_build_form_but_sees_the_portfolio(client, broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    viewer = MembershipFactory(organization=broker_org, role="viewer").user
    client.force_login(viewer)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Cedar Lane Imports LLC" in html
    assert 'id="build-form"' not in html and "Upload one ES-003" not in html


def test_client_dashboard_is_scoped_to_one_client_and_404_for_others(client, bob, charlie, clients) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.get(reverse("client_dashboard", args=[clients["cedar"].pk]))
    assert response.status_code == 200
    assert response.context["dash"].duty_at_stake == Decimal("4100.00")
    assert "Back to the portfolio" in response.content.decode()
    client.force_login(charlie)
    assert client.get(reverse("client_dashboard", args=[clients["cedar"].pk])).status_code == 404


# ---------------------------------------------------------------- exports page
def test_exports_page_and_its_downloads_work_for_a_viewer(client, vera, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    eligible_entry(own_importer)
    d = Declaration.objects.create(
        organization=importer_org,
        importer=own_importer,
        name="Filed batch",
        status=Declaration.Status.EXPORTED,
        entry_count=1,
        file_bytes=b"Entry Number\nX\n",
        exported_at=timezone.now(),
    )
    Declaration.objects.create(organization=importer_org, importer=own_importer, name="Draft batch")
    client.force_login(vera)
    response = client.get(reverse("exports"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Filed batch" in html and "Draft batch" not in html
    links = [
        reverse("cape_declaration_download", args=[d.pk]),
        reverse("cape_export_readiness", args=[own_importer.pk]),
    ]
    for url in links:
        assert url in html
    assert reverse("cape_export_workbook") in html and reverse("cape_export_calendar") in html
    assert client.get(links[0]).content == b"Entry Number\nX\n"
    assert client.get(reverse("cape_export_workbook"), {"importer": own_importer.pk}).status_code == 200
    assert client.get(reverse("cape_export_calendar")).status_code == 200
    pdf = client.get(links[1])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_every_dashboard_form_field_has_a_label(client, bob, clients) -> None:  # type: ignore[no-untyped-def]
    import re

    client.force_login(bob)
    for url in (reverse("dashboard"), reverse("exports")):
        html = client.get(url).content.decode()
        for tag in re.findall(r"<(?:input|select)\b[^>]*>", html):
            if 'type="hidden"' in tag:
                continue
            ident = re.search(r'id="([^"]+)"', tag)
            assert ident and (f'for="{ident.group(1)}"' in html or "aria-label=" in tag), tag


# ---------------------------------------------------------------- chart
def test_bar_chart_scales_bars_labels_them_and_escapes_text() -> None:
    svg = str(
        bar_chart(
            [Bar("<b>A</b>", Decimal("100.00"), "2 entries"), Bar("B", Decimal("50.00")), Bar("C", Decimal("0"))],
            title="Duty & more",
            chart_id="t",
        )
    )
    assert svg.startswith("<svg") and 'role="img"' in svg and '<title id="t-title">Duty &amp; more</title>' in svg
    assert "&lt;b&gt;A&lt;/b&gt;" in svg and "<b>A</b>" not in svg
    widths = [int(w) for w in __import__("re").findall(r'<rect x="\d+" y="\d+" width="(\d+)"', svg)]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    assert "$100.00 · 2 entries" in svg


def test_portfolio_readiness_is_cached_until_an_audited_change(bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]
    from portfolio.readiness import readiness_state_update

    def ace_step(org):  # type: ignore[no-untyped-def]
        row = next(r for r in portfolio_for(org).rows if r.importer == clients["cedar"])
        return "ACE Portal account" in row.readiness.todo

    assert ace_step(broker_org) is True
    with CaptureQueriesContext(connection) as warm:
        portfolio_for(broker_org)
    assert not any("entries_upload" in q["sql"] and "GROUP BY" in q["sql"] for q in warm.captured_queries)
    readiness_state_update(importer=clients["cedar"], organization=broker_org, user=bob, ace_account="active")
    assert ace_step(broker_org) is False


def test_a_running_upload_on_the_dashboard_polls_until_it_is_done(client, alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    upload = Upload.objects.create(
        organization=importer_org, original_name="es003-live.csv", status=Upload.Status.RUNNING, rows_total=200, rows_read=50
    )
    client.force_login(alice)
    html = client.get(reverse("dashboard")).content.decode()
    poll = f'hx-get="{reverse("upload_detail", args=[upload.pk])}?view=compact"'
    assert poll in html and 'hx-trigger="every 2s"' in html
    compact = reverse("upload_detail", args=[upload.pk]) + "?view=compact"
    Upload.objects.filter(pk=upload.pk).update(rows_read=150)
    part = client.get(compact, HTTP_HX_REQUEST="true").content.decode()
    assert 'aria-valuenow="75"' in part and "hx-trigger" in part and "<html" not in part
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.DONE, summary={"rows_read": 200, "entries_created": 12})
    part = client.get(compact, HTTP_HX_REQUEST="true").content.decode()
    assert "200 rows, 12 new entries" in part and "hx-trigger" not in part  # finished: polling stops
