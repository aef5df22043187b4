"""Entry pages and API: lists with filters, totals, keyset pages, detail, facts form, tenancy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from accounts.models import AuditLog
from cape.classify import classify_entries
from cape.models import Classification
from tests.factories import EntryFactory, ImporterFactory, TariffLineFactory

AS_OF = date(2026, 11, 22)
NOON_EASTERN = "2026-11-22 17:00:00+00:00"


# Totals are cached under the organisation's id and classification version; on SQLite ids come back
# after a test's rollback and the version bump (on commit) never runs inside one, so start each test
# with an empty cache.
pytestmark = pytest.mark.usefixtures("fresh_cache")


@pytest.fixture
def book(importer_org, own_importer):  # type: ignore[no-untyped-def]
    """Five entries of Alice's importer, one per path of interest, classified as of AS_OF."""
    e = {
        "a": EntryFactory(organization=importer_org, importer=own_importer, ieepa_duty=Decimal("1200.00")),
        "b": EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="liquidated",
                          liquidation_date=date(2026, 10, 1), ieepa_duty=Decimal("500.00")),
        "c": EntryFactory(organization=importer_org, importer=own_importer, entry_type="11",
                          liquidation_status="liquidated", liquidation_date=date(2026, 8, 1), ieepa_duty=Decimal("90.00")),
        "d": EntryFactory(organization=importer_org, importer=own_importer, ieepa_duty=Decimal("0.00")),
        "u": EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="liquidated",
                          liquidation_date=date(2026, 9, 10), ieepa_duty=Decimal("75.00")),  # window closes 11-28
    }
    TariffLineFactory(entry=e["a"], hts="9903012500", duty=Decimal("1200.00"))
    TariffLineFactory(entry=e["a"], hts="3923900080", duty=Decimal("30.00"), is_ieepa=False)
    classify_entries(organization=importer_org, as_of=AS_OF)
    return e


@pytest.mark.django_db
@time_machine.travel(NOON_EASTERN, tick=False)
def test_the_list_shows_totals_by_path_and_filters_by_path(client, alice, book) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.get(reverse("entry_list"))
    assert r.status_code == 200
    totals = {t.path: (t.count, t.ieepa_duty) for t in r.context["totals"]}
    assert totals["cape_phase1"] == (3, Decimal("1775.00"))
    assert totals["protest"] == (1, Decimal("90.00"))
    assert totals["not_eligible"] == (1, Decimal("0.00"))
    r = client.get(reverse("entry_list"), {"path": "protest"})
    assert [c.entry_id for c in r.context["page"].rows] == [book["c"].pk]
    assert book["c"].entry_number_display in r.content.decode()


@pytest.mark.django_db
@time_machine.travel(NOON_EASTERN, tick=False)
def test_the_list_filters_by_reason_urgency_deadline_and_importer(client, alice, book) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    ids = lambda **q: [c.entry_id for c in client.get(reverse("entry_list"), q).context["page"].rows]  # noqa: E731
    assert ids(reason="within_80_days") == [book["u"].pk, book["b"].pk]
    assert ids(urgency="urgent") == [book["u"].pk]  # its CAPE window closes 2026-11-28, in 6 days
    assert ids(within_days="30") == [book["u"].pk, book["b"].pk]
    assert ids(importer=str(book["a"].importer_id), path="not_eligible") == [book["d"].pk]
    bad = client.get(reverse("entry_list"), {"within_days": "soon"})
    assert bad.status_code == 200 and "Enter a whole number" in bad.content.decode()


@pytest.mark.django_db
@time_machine.travel(NOON_EASTERN, tick=False)
def test_the_list_sorts_by_amount_and_pages_with_a_cursor(client, alice, book) -> None:  # type: ignore[no-untyped-def]
    from cape import selectors

    client.force_login(alice)
    old = selectors.PAGE_SIZE
    seen = []
    r = client.get(reverse("entry_list"), {"sort": "amount"})
    seen += [c.entry_id for c in r.context["page"].rows]
    assert seen == [book[k].pk for k in ("a", "b", "c", "u", "d")]
    # page through two at a time: every entry once, in order, without COUNT
    page = selectors.entry_page(alice.memberships.first().organization, selectors.EntryFilters(sort="deadline"), size=2)
    order = [c.entry_id for c in page.rows]
    while page.next_cursor:
        page = selectors.entry_page(alice.memberships.first().organization, selectors.EntryFilters(sort="deadline"),
                                    after=page.next_cursor, size=2)
        order += [c.entry_id for c in page.rows]
    assert sorted(order) == sorted(e.pk for e in book.values()) and len(order) == 5
    assert order[:3] == [book["u"].pk, book["b"].pk, book["c"].pk]  # soonest deadline first, no deadline last
    assert selectors.PAGE_SIZE == old


@pytest.mark.django_db
def test_the_list_page_does_not_count_rows(client, alice, book, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)
    client.get(reverse("entry_list"))  # fills the totals cache
    with CaptureQueriesContext(connection) as q:
        client.get(reverse("entry_list"), {"sort": "amount", "after": f"a_500.00_{book['b'].pk}"})
    sql = " ".join(x["sql"].upper() for x in q.captured_queries)
    assert "COUNT(" not in sql and "OFFSET" not in sql


@pytest.mark.django_db
@time_machine.travel(NOON_EASTERN, tick=False)
def test_the_broker_sees_its_clients_entries_and_loses_them_when_the_grant_is_revoked(client, bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from accounts.models import ImporterGrant

    theirs = EntryFactory(organization=broker_org, importer=own_importer)
    other_client = ImporterFactory()
    hidden = EntryFactory(importer=other_client)  # no grant: not in the portfolio
    classify_entries(entry_ids=[theirs.pk, hidden.pk], as_of=AS_OF)
    client.force_login(bob)
    ids = [c.entry_id for c in client.get(reverse("entry_list")).context["page"].rows]
    assert ids == [theirs.pk] and hidden.pk not in ids
    assert client.get(reverse("entry_detail", args=[hidden.pk])).status_code == 404
    ImporterGrant.objects.filter(organization=broker_org).update(revoked_at=timezone.now())
    assert client.get(reverse("entry_detail", args=[theirs.pk])).status_code == 404


@pytest.mark.django_db
@time_machine.travel(NOON_EASTERN, tick=False)
def test_the_detail_page_shows_lines_timeline_and_reasons_with_rule_and_source(client, alice, book) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.get(reverse("entry_detail", args=[book["a"].pk]))
    html = r.content.decode()
    assert r.status_code == 200
    assert "3923900080" in html and "9903012500" in html
    assert "2026-11-30" in html  # projected liquidation
    assert "Projected liquidation" in html and "Protest deadline" in html and "Court of International Trade deadline" in html
    assert "unliquidated" in html and "R12" in html and "CSMS #67923154" in html
    assert "Estimate" in html


@pytest.mark.django_db
@time_machine.travel(NOON_EASTERN, tick=False)
def test_an_editor_sets_facts_and_the_entry_is_reclassified(client, alice, book) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    url = reverse("entry_detail", args=[book["b"].pk])
    r = client.post(url, {"drawback": "on", "protest_status": "none", "importer_is_corporate": "true"})
    assert r.status_code == 302
    c = Classification.objects.get(entry=book["b"])
    assert (c.path, c.reasons[0]) == ("protest", "drawback")
    assert AuditLog.objects.filter(action="entry.fact_set", user=alice).exists()


@pytest.mark.django_db
def test_a_viewer_reads_but_cannot_set_facts(client, vera, book) -> None:  # type: ignore[no-untyped-def]
    client.force_login(vera)
    url = reverse("entry_detail", args=[book["b"].pk])
    r = client.get(url)
    assert r.status_code == 200 and "Save facts" not in r.content.decode()
    assert client.post(url, {"drawback": "on", "protest_status": "none", "importer_is_corporate": "true"}).status_code == 403
    assert Classification.objects.get(entry=book["b"]).path == "cape_phase1"


@pytest.mark.django_db
def test_the_entries_link_is_in_the_main_navigation(client, alice, book) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    assert f'href="{reverse("entry_list")}"' in client.get(reverse("dashboard")).content.decode()


# ---------------------------------------------------------------- API
@pytest.mark.django_db
@time_machine.travel(NOON_EASTERN, tick=False)
def test_the_api_lists_entries_with_filters_and_a_cursor(client, alice, book) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.get("/api/entries/", {"path": "cape_phase1", "page_size": 2})
    assert r.status_code == 200
    data = r.json()
    assert [x["id"] for x in data["results"]] == [book["u"].pk, book["b"].pk]
    assert data["results"][0]["classification"]["reasons"][:2] == ["within_80_days", "urgent"]
    assert data["results"][0]["importer_number"] == "93-417726100"  # EIN form: shown (only SSN forms are masked)
    nxt = client.get(data["next"]).json()
    assert [x["id"] for x in nxt["results"]] == [book["a"].pk] and nxt["next"] is None
    assert client.get("/api/entries/", {"path": "nowhere"}).status_code == 400
    assert client.get("/api/entries/", {"importer": "999999"}).status_code == 400


@pytest.mark.django_db
def test_the_api_shows_one_entry_with_lines_and_explained_reasons(client, alice, charlie, book) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    data = client.get(f"/api/entries/{book['a'].pk}/").json()
    assert data["entry_number"] == book["a"].entry_number
    assert len(data["lines"]) == 2
    c = data["classification"]
    assert c["path"] == "cape_phase1" and c["projected_liquidation_date"] == "2026-11-30"
    assert c["reasons_explained"][0]["rule"] == "R12"
    client.force_login(charlie)
    assert client.get(f"/api/entries/{book['a'].pk}/").status_code == 404


@pytest.mark.django_db
def test_the_api_summarises_by_path(client, alice, book) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    data = client.get("/api/classifications/").json()
    by_path = {p["path"]: p for p in data["paths"]}
    assert data["ruleset"] == "2026.12"
    assert by_path["cape_phase1"]["count"] == 3 and by_path["cape_phase1"]["ieepa_duty"] == "1775.00"
    assert set(by_path) == {"cape_phase1", "cape_phase2", "protest", "cit", "wait", "filed", "not_eligible", "needs_review"}


@pytest.mark.django_db
@time_machine.travel(NOON_EASTERN, tick=False)
def test_an_uncertain_interest_estimate_says_so_on_the_page_and_in_the_api(client, alice, book) -> None:  # type: ignore[no-untyped-def]
    note = "estimate; rate for 2027-Q1 not yet published, carried forward"
    client.force_login(alice)
    html = client.get(reverse("entry_detail", args=[book["a"].pk])).content.decode()
    c = Classification.objects.get(entry=book["a"])
    shown = f'${c.estimated_interest:,.2f} as of 2026-11-22 <span class="badge warn" data-testid="interest-uncertain">({note})</span>'
    assert shown in html
    data = client.get(f"/api/entries/{book['a'].pk}/").json()["classification"]
    assert data["interest_uncertain"] is True and data["interest_note"] == note
    assert data["estimated_interest"] == f"{c.estimated_interest:.2f}"
    # An entry with no estimate shows no note.
    html = client.get(reverse("entry_detail", args=[book["d"].pk])).content.decode()
    assert 'data-testid="interest-uncertain"' not in html
    assert client.get(f"/api/entries/{book['d'].pk}/").json()["classification"]["interest_uncertain"] is False


# ---------------------------------------------------------------- following the money, per entry
def _accepted_with_refunds(org, importer, user):  # type: ignore[no-untyped-def]
    from ach.models import AchEnrollment
    from cape.declarations import declaration_build, declaration_export, declaration_import_claim_details
    from cape.refunds import refund_report_import
    from tests.cape.factories import eligible_entry

    AchEnrollment.objects.create(importer=importer, status=AchEnrollment.Status.ACTIVE)
    a, b = eligible_entry(importer), eligible_entry(importer)
    d = declaration_build(organization=org, user=user).declarations[0]
    declaration_export(declaration=d, user=user)
    claims = (f'ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\n="{a.entry_number}",="100000241223",Entry Summary Updated,\n'
              f'="{b.entry_number}",="100000241223",Failed,INVALID HTS\n')
    declaration_import_claim_details(declaration=d, data=claims.encode(), accepted_on=date(2026, 5, 1), user=user)
    head = "Importer Number,Entry Number,Secondary Status,Secondary Status Date,Principal Amount,Interest Amount,Refund Amount,Refund Number"
    rev603 = "\r\n".join([
        head,
        f'="93-417726100",="{a.entry_number}",Sent to Treasury,06/20/2026,"$1,200.00",$30.00,"$1,230.00",R-1',
        f'="93-417726100",="{a.entry_number}",Treasury Issued,07/01/2026,"$1,200.00",$30.00,"$1,230.00",R-1',
    ]) + "\r\n"
    refund_report_import(organization=org, data=rev603.encode(), report="rev603", filename="rev603.csv", user=user)
    rev615 = ("Entry Number,Claim Number,Refund Status,Refund Status Date,Refund Principal Amount,Refund Interest Amount\r\n"
              f'="{a.entry_number}",="100000241223",Treasury Issued,07/02/2026,$600.00,$12.00\r\n')
    refund_report_import(organization=org, data=rev615.encode(), report="rev615", filename="rev615.csv", user=user)
    return d, a, b


@pytest.mark.django_db
def test_the_detail_page_shows_expected_dates_and_refund_events_of_an_accepted_entry(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    d, a, b = _accepted_with_refunds(importer_org, own_importer, alice)
    client.force_login(alice)
    html = client.get(reverse("entry_detail", args=[a.pk])).content.decode()
    assert f'href="{reverse("cape_declaration", args=[d.pk])}"' in html and "100000241223" in html
    assert '<dd data-testid="expected-liquidation">2026-06-15 ' in html  # acceptance 2026-05-01 + 45 days
    assert '<dd data-testid="refund-window">2026-06-30 – 2026-07-30 ' in html  # + 60 to + 90 days
    rows = html.split('data-testid="refund-events"')[1].split("</table>")[0].split("<tr>")[2:]
    assert len(rows) == 3
    assert "2026-06-20" in rows[0] and "Sent to Treasury" in rows[0] and "$1,230.00" in rows[0] and "REV603" in rows[0]
    assert "2026-07-01" in rows[1] and "Treasury issued" in rows[1] and "$1,200.00" in rows[1] and "$30.00" in rows[1]
    assert "2026-07-02" in rows[2] and "$612.00" in rows[2] and "$600.00" in rows[2] and "$12.00" in rows[2] and "REV615" in rows[2]
    # The entry CBP rejected on the same declaration is not "on an accepted declaration".
    html = client.get(reverse("entry_detail", args=[b.pk])).content.decode()
    assert "Not on an accepted CAPE declaration." in html and 'data-testid="expected-liquidation"' not in html
    assert 'data-testid="refund-events"' not in html


@pytest.mark.django_db
def test_the_api_gives_the_expected_dates_and_refund_events_of_an_entry(client, alice, charlie, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    d, a, b = _accepted_with_refunds(importer_org, own_importer, alice)
    client.force_login(alice)
    refunds = client.get(f"/api/entries/{a.pk}/").json()["refunds"]
    assert {k: v for k, v in refunds.items() if k != "events"} == {
        "declaration_id": d.pk, "declaration_name": d.name, "claim_number": "100000241223", "accepted_on": "2026-05-01",
        "expected_liquidation": "2026-06-15", "refund_window_from": "2026-06-30", "refund_window_to": "2026-07-30"}
    assert [(e["kind"], e["event_date"], e["amount"], e["principal"], e["interest"], e["source"]) for e in refunds["events"]] == [
        ("sent_to_treasury", "2026-06-20", "1230.00", "1200.00", "30.00", "rev603"),
        ("treasury_issued", "2026-07-01", "1230.00", "1200.00", "30.00", "rev603"),
        ("treasury_issued", "2026-07-02", "612.00", "600.00", "12.00", "rev615"),
    ]
    assert refunds["events"][0]["kind_label"] == "Sent to Treasury" and refunds["events"][0]["declaration_id"] == d.pk
    none = client.get(f"/api/entries/{b.pk}/").json()["refunds"]
    assert none == {"declaration_id": None, "declaration_name": None, "claim_number": None, "accepted_on": None,
                    "expected_liquidation": None, "refund_window_from": None, "refund_window_to": None, "events": []}
    client.force_login(charlie)
    assert client.get(f"/api/entries/{a.pk}/").status_code == 404
    assert client.get(reverse("entry_detail", args=[a.pk])).status_code == 404
