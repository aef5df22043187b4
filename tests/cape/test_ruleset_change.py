"""A new ruleset (2026.12) over results stored under the previous one: stored results keep their ruleset
until reclassified, the nightly run stores 2026.12 results with the change in each entry's history, and the
dashboard tells each member once how many entries changed path and why, with a link to the list."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.models import Membership
from cape import rules
from cape.classify import classify_entries, classify_organization
from cape.models import Classification, ClassificationChange
from cape.selectors import classifications_for, entries_for
from tests.factories import EntryFactory

AS_OF = date(2026, 11, 22)
pytestmark = pytest.mark.django_db


@pytest.fixture
def book(importer_org, own_importer):  # type: ignore[no-untyped-def]
    """Two entries classified under "2026.11": a warehouse entry type 21 (cape_phase1 then, wait now) and a
    type 01 entry whose path 2026.12 does not change."""
    warehouse = EntryFactory(organization=importer_org, importer=own_importer, entry_type="21", ieepa_duty=Decimal("40.00"))
    plain = EntryFactory(organization=importer_org, importer=own_importer, ieepa_duty=Decimal("300.00"))
    classify_entries(organization=importer_org, as_of=date(2026, 6, 1))
    # As 2026.11 stored them: the same path and reasons then, nothing due before the ruleset changes.
    classifications_for(importer_org).update(ruleset="2026.11", stable_until=None)
    ClassificationChange.objects.filter(entry__in=entries_for(importer_org)).update(ruleset="2026.11")
    return warehouse, plain


def test_stored_results_keep_their_ruleset_until_the_next_run(book) -> None:  # type: ignore[no-untyped-def]
    warehouse, plain = book
    stored = Classification.objects.get(entry=warehouse)
    assert (stored.ruleset, stored.path) == ("2026.11", "cape_phase1")


def test_the_nightly_run_stores_2026_12_results_with_the_change_in_the_history(importer_org, book) -> None:  # type: ignore[no-untyped-def]
    warehouse, plain = book
    before = sorted(ClassificationChange.objects.filter(entry__in=entries_for(importer_org)).values_list("pk", "ruleset", "new_path"))
    result = classify_organization(organization=importer_org, as_of=AS_OF)
    assert result.touched == 2
    assert set(Classification.objects.values_list("ruleset", flat=True)) == {"2026.12"}
    assert Classification.objects.get(entry=warehouse).path == "wait"
    # The history of 2026.11 stays as it was; the change is a new row under 2026.12.
    assert sorted(ClassificationChange.objects.filter(pk__in=[b[0] for b in before]).values_list("pk", "ruleset", "new_path")) == before
    change = ClassificationChange.objects.filter(entry=warehouse).exclude(pk__in=[b[0] for b in before]).get()
    assert (change.old_ruleset, change.ruleset, change.old_path, change.new_path) == ("2026.11", "2026.12", "cape_phase1", "wait")
    assert change.old_reasons == ["unliquidated", "refund_after_liquidation", "no_ach_refund"]
    assert change.summary == "ruleset 2026.12: cape_phase1 → wait, excluded_type_21"
    # Same path and reasons under 2026.12: a new result, no history row.
    assert ClassificationChange.objects.filter(entry=plain).count() == 1


def test_the_entry_page_shows_the_change(client, alice, importer_org, book) -> None:  # type: ignore[no-untyped-def]
    warehouse, _ = book
    classify_organization(organization=importer_org, as_of=AS_OF)
    client.force_login(alice)
    html = client.get(f"/entries/{warehouse.pk}/").content.decode()
    assert "ruleset 2026.12: cape_phase1 → wait, excluded_type_21" in html


def test_the_dashboard_tells_each_member_once_with_a_link_to_the_list(client, alice, importer_org, book) -> None:  # type: ignore[no-untyped-def]
    warehouse, plain = book
    client.force_login(alice)
    assert 'data-testid="ruleset-notice"' not in client.get("/dashboard/").content.decode()  # nothing changed yet
    classify_organization(organization=importer_org, as_of=AS_OF)
    html = client.get("/dashboard/").content.decode()
    assert 'data-testid="ruleset-notice"' in html
    assert "1 entry changed path" in html and "cape_phase1 → wait (excluded_type_21)" in html
    assert "/entries/?ruleset_changed=2026.12" in html
    assert Membership.objects.get(user=alice).ruleset_notice_seen == rules.RULESET
    assert 'data-testid="ruleset-notice"' not in client.get("/dashboard/").content.decode()  # once
    listed = client.get("/entries/?ruleset_changed=2026.12").content.decode()
    assert warehouse.entry_number_display in listed and plain.entry_number_display not in listed


def test_the_broker_sees_the_notice_for_its_clients_entries_and_the_outsider_nothing(client, bob, charlie, broker_org,
                                                                                       own_importer) -> None:  # type: ignore[no-untyped-def]
    e = EntryFactory(organization=broker_org, importer=own_importer, entry_type="22")
    classify_entries(organization=broker_org, as_of=date(2026, 6, 1))
    Classification.objects.filter(entry=e).update(ruleset="2026.11", stable_until=None)
    classify_organization(organization=broker_org, as_of=AS_OF)
    client.force_login(charlie)
    assert 'data-testid="ruleset-notice"' not in client.get("/dashboard/").content.decode()
    assert e.entry_number_display not in client.get("/entries/?ruleset_changed=2026.12").content.decode()
    client.force_login(bob)
    html = client.get("/dashboard/").content.decode()
    assert "1 entry changed path" in html and "excluded_type_22" in html


# ---------------------------------------------------------------- the 2026.12 facts through the stored path
def test_stored_facts_reach_the_engine(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    surety = EntryFactory(organization=importer_org, importer=own_importer, surety_paid=True)
    code36 = EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="liquidated",
                          liquidation_date=date(2026, 10, 1), liquidation_reason_code=36)
    final = EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="final",
                         liquidation_date=date(2025, 12, 1))
    own_importer.cit_plaintiff = True
    own_importer.paper_check_waiver_granted = True
    own_importer.save()
    classify_entries(organization=importer_org, as_of=AS_OF)
    got = {c.entry_id: c.reasons for c in Classification.objects.all()}
    assert got[surety.pk] == ["surety_paid"]  # and no no_ach_refund: the waiver is a refund route
    assert got[code36.pk] == ["cape_liquidated_code36"]
    assert got[final.pk] == ["final_liquidation", "counsel_review", "cape_phase3_possible"]


@pytest.mark.django_db(transaction=True)
def test_the_migrations_keep_existing_rows() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("accounts", "0003_organization_email_domains"), ("entries", "0005_optional_es003_columns"),
              ("cape", "0009_classification_urgent_deadline_index")]
    after = [("accounts", "0004_h_rules_importer_facts_ruleset_notice"), ("entries", "0006_h_rules_surety_paid_reason_code"),
             ("cape", "0010_h_rules_change_old_ruleset")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Org = apps.get_model("accounts", "Organization")
    Importer = apps.get_model("accounts", "Importer")
    Entry = apps.get_model("entries", "Entry")
    Change = apps.get_model("cape", "ClassificationChange")
    org = Org.objects.create(name="Old", slug="old")
    imp = Importer.objects.create(ir_number="11-111111100", name="Old Importer", owner=org)
    e = Entry.objects.create(organization=org, importer=imp, entry_number="ABC00000010", entry_type="01", drawback=True)
    Change.objects.create(entry=e, organization=org, new_path="wait", ruleset="2026.11", as_of=date(2026, 11, 1))
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    apps = executor.loader.project_state(after).apps
    e2 = apps.get_model("entries", "Entry").objects.get(pk=e.pk)
    assert (e2.entry_number, e2.drawback, e2.surety_paid, e2.liquidation_reason_code) == ("ABC00000010", True, False, None)
    i2 = apps.get_model("accounts", "Importer").objects.get(pk=imp.pk)
    assert (i2.name, i2.cit_plaintiff, i2.paper_check_waiver_granted, i2.cit_case_note) == ("Old Importer", False, False, "")
    c2 = apps.get_model("cape", "ClassificationChange").objects.get(entry_id=e.pk)
    assert (c2.ruleset, c2.new_path, c2.old_ruleset) == ("2026.11", "wait", "")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
