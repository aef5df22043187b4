"""Pages and API: viewers read and export, staff draft and record, other organisations and revoked brokers get 404."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import AuditLog, ImporterGrant
from protests.models import Protest
from protests.services import protest_drafts_build
from tests.factories import api_key_for
from tests.protests.factories import classify, protest_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(importer_org, own_importer):  # type: ignore[no-untyped-def]
    made = [protest_entry(own_importer, importer_org, days_ago=d) for d in (95, 140)]
    classify(importer_org)
    return made


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def test_staff_draft_from_the_page_download_for_filing_and_record_the_filing(alice, entries, own_importer) -> None:  # type: ignore[no-untyped-def]
    c = _client(alice)
    page = c.get(f"/protests/?importer={own_importer.pk}")
    assert page.status_code == 200 and b"Draft protests" in page.content
    response = c.post("/protests/", {"importers": [own_importer.pk]})
    assert response.status_code == 200 and b"Drafted 1 protest" in response.content
    protest = Protest.objects.get()
    detail = c.get(f"/protests/{protest.pk}/")
    assert entries[1].entry_number_display.encode() in detail.content and b"Not known: the ES-003" in detail.content

    xlsx = c.post(f"/protests/{protest.pk}/spreadsheet.xlsx")
    assert xlsx.status_code == 200 and xlsx["Content-Disposition"].startswith("attachment")
    assert load_workbook(io.BytesIO(xlsx.content))["Protest Details"].max_row == 5
    protest.refresh_from_db()
    assert protest.status == Protest.Status.EXPORTED

    bad = c.post(f"/protests/{protest.pk}/filing/", {"protest_number": "12345", "filed_on": timezone.localdate().isoformat()})
    assert bad.status_code == 200 and b'id="id_protest_number_error"' in bad.content
    number = f"2704-{timezone.localdate():%y}-000017"
    ok = c.post(f"/protests/{protest.pk}/filing/", {"protest_number": number, "filed_on": timezone.localdate().isoformat()})
    assert ok.status_code == 302
    assert number.encode() in c.get(f"/protests/{protest.pk}/").content


def test_a_viewer_reads_and_exports_but_changes_nothing(alice, vera, entries, importer_org) -> None:  # type: ignore[no-untyped-def]
    protest = protest_drafts_build(organization=importer_org, user=alice).protests[0]
    c = _client(vera)
    for suffix in ("", "spreadsheet.xlsx", "spreadsheet.csv", "form19.pdf", "reason.txt"):
        assert c.get(f"/protests/{protest.pk}/{suffix}").status_code == 200, suffix
    assert c.get(f"/protests/counsel/{protest.importer_id}/packet.xlsx").status_code == 200
    for suffix in ("spreadsheet.xlsx", "filing/", "decision/", "discard/", "reason/"):
        assert c.post(f"/protests/{protest.pk}/{suffix}", {"protest_number": "270426000001", "filed_on": "2026-12-01"}).status_code == 403
    assert c.post("/protests/", {"importers": [protest.importer_id]}).status_code == 403
    protest.refresh_from_db()
    assert protest.status == Protest.Status.DRAFT and Protest.objects.count() == 1
    api = Client(HTTP_AUTHORIZATION=f"Token {api_key_for(vera)}")
    assert api.get(f"/api/protests/{protest.pk}/spreadsheet-csv/").status_code == 200
    assert api.post(f"/api/protests/{protest.pk}/spreadsheet-csv/").status_code == 403
    assert api.post("/api/protests/draft/", {}, content_type="application/json").status_code == 403


def test_the_api_drafts_files_and_decides(alice, entries, own_importer) -> None:  # type: ignore[no-untyped-def]
    api = Client(HTTP_AUTHORIZATION=f"Token {api_key_for(alice)}")
    body = api.post("/api/protests/draft/", {"importers": [own_importer.pk]}, content_type="application/json").json()
    (protest,) = body["protests"]
    assert protest["entry_count"] == 2 and protest["lead_entry"] == entries[1].entry_number and protest["center_team"] == ""
    pk = protest["id"]
    assert api.get(f"/api/protests/{pk}/entries/").json()["results"][0]["lead"] is True
    today = timezone.localdate()
    refused = api.post(f"/api/protests/{pk}/filing/", {"protest_number": "99", "filed_on": today.isoformat()},
                       content_type="application/json")
    assert refused.status_code == 400 and "protest_number" in refused.json()
    filed = api.post(f"/api/protests/{pk}/filing/", {"protest_number": f"2704{today:%y}100412", "filed_on": today.isoformat()},
                     content_type="application/json").json()
    assert filed["status"] == "filed" and filed["protest_number"] == f"2704-{today:%y}-100412"
    decided = api.post(f"/api/protests/{pk}/decision/", {"decision": "partly", "decided_on": today.isoformat()},
                       content_type="application/json").json()
    assert decided["status"] == "decided" and decided["cit_summons_by"] is not None
    packet = api.get(f"/api/counsel-packets/{own_importer.pk}/").json()
    assert packet["importer"] == own_importer.pk and packet["entries"] == 0


def test_a_revoked_broker_loses_the_protests_it_built(bob, broker_org, own_importer, alice) -> None:  # type: ignore[no-untyped-def]
    protest_entry(own_importer, broker_org)
    classify(broker_org)
    protest = protest_drafts_build(organization=broker_org, user=bob).protests[0]
    c, api = _client(bob), Client(HTTP_AUTHORIZATION=f"Token {api_key_for(bob)}")
    assert c.get(f"/protests/{protest.pk}/").status_code == 200
    assert api.get(f"/api/protests/{protest.pk}/").status_code == 200
    ImporterGrant.objects.filter(organization=broker_org).update(revoked_at=timezone.now())
    for url in (f"/protests/{protest.pk}/", f"/protests/{protest.pk}/spreadsheet.xlsx", f"/protests/{protest.pk}/form19.pdf",
                f"/protests/counsel/{own_importer.pk}/packet.pdf"):
        assert c.get(url).status_code == 404, url
    assert c.post(f"/protests/{protest.pk}/filing/", {"protest_number": "270426000001", "filed_on": "2026-12-01"}).status_code == 404
    assert api.get(f"/api/protests/{protest.pk}/").status_code == 404
    assert api.get("/api/protests/").json()["count"] == 0
    assert api.get(f"/api/counsel-packets/{own_importer.pk}/xlsx/").status_code == 404
    assert api.post("/api/protests/draft/", {"importers": [own_importer.pk]}, content_type="application/json").status_code == 400
    assert Protest.objects.get(pk=protest.pk).status == Protest.Status.DRAFT


def test_another_organisation_sees_none_of_it(alice, charlie, entries, importer_org) -> None:  # type: ignore[no-untyped-def]
    protest = protest_drafts_build(organization=importer_org, user=alice).protests[0]
    c = _client(charlie)
    assert c.get(f"/protests/{protest.pk}/").status_code == 404
    assert b"Blue Heron" not in c.get("/protests/").content
    assert c.post(f"/protests/{protest.pk}/discard/").status_code == 404
    assert Protest.objects.filter(pk=protest.pk).exists()
    assert not AuditLog.objects.filter(action="protest.discarded").exists()


def test_the_organisation_reason_page_sets_new_drafts_text(alice, entries, importer_org) -> None:  # type: ignore[no-untyped-def]
    c = _client(alice)
    assert b"Learning Resources" in c.get("/protests/reason/").content
    assert c.post("/protests/reason/", {"text": "Refund with interest, 19 U.S.C. 1505."}).status_code == 302
    protest = protest_drafts_build(organization=importer_org, user=alice).protests[0]
    assert c.get(f"/protests/{protest.pk}/reason.txt").content == b"Refund with interest, 19 U.S.C. 1505.\n"


def test_the_pages_a_broker_looks_at_link_to_protests(alice, bob, broker_org, entries, own_importer) -> None:  # type: ignore[no-untyped-def]
    c = _client(alice)
    nav = c.get("/entries/?path=protest").content.decode()
    assert 'href="/protests/"' in nav and 'data-testid="protests-link"' in nav
    assert 'data-testid="protests-link"' not in c.get("/entries/?path=cape_phase1").content.decode()
    dashboard = c.get("/dashboard/").content.decode()
    assert 'data-testid="protests-card"' in dashboard and "Ready for a protest (not protested yet)" in dashboard
    broker = _client(bob)
    assert 'href="/protests/"' in broker.get("/dashboard/").content.decode()  # the portfolio
    assert f'href="/protests/?importer={own_importer.pk}"' in broker.get(f"/dashboard/importers/{own_importer.pk}/").content.decode()


def test_a_broker_drafts_for_several_importers_at_once_from_the_portfolio(bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    """The portfolio links to the draft form, which takes several importers in one post: one protest each,
    holding only that importer's entries, each listed in the result with its own deadline and duty."""
    from cape.models import Classification
    from tests.factories import GrantFactory, ImporterFactory

    second = ImporterFactory(name="Kestrel Outdoor LLC", ir_number="27-199887700")
    GrantFactory(importer=second, organization=broker_org)
    mine = [protest_entry(own_importer, broker_org, days_ago=d) for d in (100, 150)]
    theirs = [protest_entry(second, broker_org, days_ago=d, duties=("400.00",)) for d in (90, 120, 170)]
    classify(broker_org)
    c = _client(bob)
    assert 'href="/protests/"' in c.get("/dashboard/").content.decode()
    form = c.get("/protests/").content.decode()
    assert f'value="{own_importer.pk}"' in form and f'value="{second.pk}"' in form  # both offered as checkboxes

    response = c.post("/protests/", {"importers": [own_importer.pk, second.pk]})
    assert response.status_code == 200 and b"Drafted 2 protests" in response.content
    by_importer = {p.importer_id: p for p in Protest.objects.filter(organization=broker_org)}
    assert set(by_importer) == {own_importer.pk, second.pk}
    for importer, made in ((own_importer, mine), (second, theirs)):
        protest = by_importer[importer.pk]
        assert set(protest.items.values_list("entry_id", flat=True)) == {e.pk for e in made}
        results = Classification.objects.filter(entry__in=made)
        assert protest.deadline == min(r.protest_deadline for r in results)
        assert protest.ieepa_duty == sum(e.ieepa_duty for e in made)
        text = response.content.decode()
        assert f"{importer.name}</a>, {len(made)} entries, IEEPA duty ${protest.ieepa_duty:,.2f}, deadline {protest.deadline:%m/%d/%Y}" in text
    # The lead of the second importer's protest is its entry with the earliest deadline (liquidated 170 days ago).
    assert by_importer[second.pk].items.get(lead=True).entry_id == theirs[2].pk


def test_the_draft_page_shows_its_deadline_duty_and_estimated_interest(alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    """Deadline = the earliest of its entries' protest deadlines (liquidation + 180 days), duty and interest =
    the sums of its entries' classified figures, as the ruleset computed them."""
    from datetime import timedelta
    from decimal import Decimal

    from cape.models import Classification

    made = [protest_entry(own_importer, importer_org, days_ago=d, duties=duties)
            for d, duties in ((95, ("1200.50",)), (160, ("300.25", "99.75")))]
    classify(importer_org)
    protest = protest_drafts_build(organization=importer_org, user=alice).protests[0]
    results = list(Classification.objects.filter(entry__in=made))
    interest = sum((r.estimated_interest for r in results), Decimal("0.00"))
    assert interest > 0  # liquidated months ago: interest has accrued
    deadline = made[1].liquidation_date + timedelta(days=180)
    assert protest.deadline == deadline and protest.ieepa_duty == Decimal("1600.50") and protest.estimated_interest == interest

    page = _client(alice).get(f"/protests/{protest.pk}/").content.decode()
    assert f'data-testid="protest-deadline">{deadline:%m/%d/%Y}' in page
    assert 'data-testid="protest-duty">$1,600.50<' in page
    assert f'data-testid="protest-interest">${interest:,.2f}' in page
    listing = _client(alice).get("/protests/").content.decode()
    assert f"<td>{deadline:%m/%d/%Y}</td>" in listing and "$1,600.50" in listing and f"${interest:,.2f}" in listing


def test_a_denied_protest_page_shows_the_cit_summons_window(alice, entries, importer_org) -> None:  # type: ignore[no-untyped-def]
    """Denied: the page names the date by which a CIT summons must be filed (180 days, 28 U.S.C. 2636(a));
    allowed: no such window."""
    from datetime import timedelta

    from protests.services import protest_record_decision, protest_record_filing

    today = timezone.localdate()
    protest = protest_drafts_build(organization=importer_org, user=alice).protests[0]
    c = _client(alice)
    assert b'data-testid="cit-window"' not in c.get(f"/protests/{protest.pk}/").content
    protest_record_filing(protest=protest, user=alice, protest_number=f"2704-{today:%y}-000018", filed_on=today)
    protest_record_decision(protest=protest, user=alice, decision="denied", decided_on=today)
    page = c.get(f"/protests/{protest.pk}/").content.decode()
    assert 'data-testid="cit-window"' in page
    assert f"must be filed by {today + timedelta(days=180):%m/%d/%Y}" in page and "28 U.S.C. 2636(a)" in page
