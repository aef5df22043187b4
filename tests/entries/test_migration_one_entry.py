"""Migrations entries 0008/0009 and cape 0014 (issue 18) on a database that holds the old shape: two
organisations' copies of one entry number become one entry, the copy from the latest ES-003 winning field by
field, facts people set and the CAPE history of both copies united, every difference written to the audit log of
each organisation that held a copy. Nothing is lost: lines of the kept copy, declaration items, refund events
and classification history all survive; and the migrations reverse."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("entries", "0007_protest_set_by_user"), ("cape", "0013_h_browse_classification_sort_indexes"),
          ("accounts", "0006_merge_h_http_h_pages")]


def _migrate(targets):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    return _migrate(executor.loader.graph.leaf_nodes())


def test_copies_of_one_entry_merge_into_one_and_nothing_is_lost() -> None:
    apps = _migrate(BEFORE)
    Org = apps.get_model("accounts", "Organization")
    Importer = apps.get_model("accounts", "Importer")
    Upload = apps.get_model("entries", "Upload")
    Entry = apps.get_model("entries", "Entry")
    Line = apps.get_model("entries", "TariffLine")
    Classification = apps.get_model("cape", "Classification")
    Change = apps.get_model("cape", "ClassificationChange")
    Declaration = apps.get_model("cape", "Declaration")
    Item = apps.get_model("cape", "DeclarationEntry")
    Refund = apps.get_model("cape", "RefundEvent")
    Audit = apps.get_model("accounts", "AuditLog")

    heron = Org.objects.create(name="Blue Heron", slug="m-heron", kind="importer")
    harbor = Org.objects.create(name="Harbor", slug="m-harbor", kind="broker")
    imp = Importer.objects.create(ir_number="93-417726100", name="Blue Heron Inc", owner=heron)
    now = timezone.now()
    old_upload = Upload.objects.create(organization=harbor, original_name="old.csv", status="done", created_at=now - timedelta(days=9))
    new_upload = Upload.objects.create(organization=heron, original_name="new.csv", status="done", created_at=now)
    number, alone = "3BZ55001204", "3BZ55001212"
    broker_copy = Entry.objects.create(
        organization=harbor, importer=imp, entry_number=number, entry_type="01", liquidation_status="unliquidated",
        drawback=True, protest_status="open", protest_number="270426100001", protest_set_by_user=True,
        ieepa_duty=Decimal("300.00"), total_duty=Decimal("300.00"), last_upload=old_upload, updated_at=now - timedelta(days=9))
    own_copy = Entry.objects.create(
        organization=heron, importer=imp, entry_number=number, entry_type="01", liquidation_status="liquidated",
        liquidation_date=date(2026, 10, 1), ieepa_duty=Decimal("450.00"), total_duty=Decimal("500.00"),
        last_upload=new_upload, updated_at=now)
    single = Entry.objects.create(organization=heron, importer=imp, entry_number=alone, entry_type="01",
                                  ieepa_duty=Decimal("10.00"), total_duty=Decimal("10.00"))
    Line.objects.create(entry=broker_copy, line_number=1, ordinal=1, hts="9903012500", duty=Decimal("300.00"), is_ieepa=True)
    Line.objects.create(entry=own_copy, line_number=1, ordinal=1, hts="9903012500", duty=Decimal("450.00"), is_ieepa=True)
    Line.objects.create(entry=own_copy, line_number=1, ordinal=2, hts="8516797000", duty=Decimal("50.00"))
    for e, org in ((broker_copy, harbor), (own_copy, heron), (single, heron)):
        Classification.objects.create(entry=e, organization=org, importer=imp, path="cape_phase1", reasons=["unliquidated"],
                                      ruleset="2026.11", as_of=date(2026, 11, 1))
        Change.objects.create(entry=e, organization=org, new_path="cape_phase1", ruleset="2026.11", as_of=date(2026, 11, 1))
    rejected = Declaration.objects.create(organization=harbor, importer=imp, name="Harbor file", status="rejected")
    Item.objects.create(declaration=rejected, entry=broker_copy, position=1, outcome="rejected",
                        error_text="HTS RELATIONSHIP MISMATCH")
    Refund.objects.create(organization=harbor, importer=imp, entry=broker_copy, kind="treasury_issued", amount=Decimal("5.00"))
    Audit.objects.create(organization=harbor, action="entry.fact_set", object_type="entries.entry",
                         object_id=str(broker_copy.pk), detail={"fact": "drawback", "old": False, "new": True})

    apps = _latest()
    Entry = apps.get_model("entries", "Entry")
    merged = Entry.objects.get(entry_number=number)
    assert Entry.objects.count() == 2 and Entry.objects.filter(entry_number=alone).exists()
    # The latest report's copy wins field by field; facts people set are united.
    assert merged.pk == own_copy.pk
    assert (merged.liquidation_status, merged.liquidation_date, merged.ieepa_duty) == ("liquidated", date(2026, 10, 1), Decimal("450.00"))
    assert merged.drawback is True
    assert (merged.protest_status, merged.protest_number, merged.protest_set_by_user) == ("open", "270426100001", True)
    lines = apps.get_model("entries", "TariffLine").objects.filter(entry=merged)
    assert sorted(lines.values_list("ordinal", "duty")) == [(1, Decimal("450.00")), (2, Decimal("50.00"))]
    assert not apps.get_model("entries", "TariffLine").objects.filter(entry_id=broker_copy.pk).exists()
    # The CAPE history, refunds and classification history of both copies are the merged entry's.
    item = apps.get_model("cape", "DeclarationEntry").objects.get(declaration_id=rejected.pk)
    assert (item.entry_id, item.error_text) == (merged.pk, "HTS RELATIONSHIP MISMATCH")
    assert apps.get_model("cape", "RefundEvent").objects.get().entry_id == merged.pk
    assert apps.get_model("cape", "ClassificationChange").objects.filter(entry=merged).count() == 2
    # Its stored result is dropped (its facts changed): the worker's recovery classifies it again.
    assert not apps.get_model("cape", "Classification").objects.filter(entry=merged).exists()
    assert apps.get_model("cape", "Classification").objects.filter(entry_id=single.pk).exists()
    # Audited in each organisation that held a copy, with every difference; older audit rows follow the entry.
    Audit = apps.get_model("accounts", "AuditLog")
    logs = Audit.objects.filter(action="entry.merged", object_id=str(merged.pk))
    assert sorted(logs.values_list("organization_id", flat=True)) == sorted([heron.pk, harbor.pk])
    conflicts = logs.first().detail["conflicts"]
    assert {"liquidation_status", "ieepa_duty", "drawback", "protest_status"} <= set(conflicts)
    assert conflicts["liquidation_status"] == {str(harbor.pk): "unliquidated", str(heron.pk): "liquidated"}
    assert Audit.objects.get(action="entry.fact_set").object_id == str(merged.pk)

    # Back to the old shape: each entry gets its importer's organisation again.
    apps = _migrate(BEFORE)
    assert set(apps.get_model("entries", "Entry").objects.values_list("entry_number", "organization_id")) == {
        (number, heron.pk), (alone, heron.pk)}
    _latest()
