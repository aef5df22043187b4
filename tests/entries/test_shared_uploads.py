"""One entry per entry number (issue 18), through the real upload path on both ingestion paths (the fast
PostgreSQL COPY path and the row path elsewhere): uploads stay each organisation's own (who loaded which file,
its rows, its error report) and merge into the importer's one set of entries. A broker's report and the
importer's own report of the same entry are one entry; the later report's values win field by field; the same
report again changes nothing whoever loads it; "what changed since the previous report" spans organisations;
an entry recorded for an importer the uploader does not serve is refused by name and nothing of it is written."""

from __future__ import annotations

from datetime import date

import pytest

from accounts.services import grant_revoke
from cape.selectors import entries_for
from entries.models import Entry, TariffLine, Upload
from tests.entries.conftest import entry_rows
from tests.factories import ImporterFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

A, B, C = "00261103162", "60576069342", "00261111157"


def test_the_importer_and_its_broker_load_into_one_set_of_entries(write_es003, importer_org, alice, broker_org, bob,
                                                                    own_importer, ingest) -> None:  # type: ignore[no-untyped-def]
    first = ingest(write_es003(entry_rows(A) + entry_rows(B), name="heron-week1.csv"), organization=importer_org, user=alice)
    assert first.summary["entries_created"] == 2
    # The broker loads the same report: nothing new, nothing changed, and its upload is its own.
    again = ingest(write_es003(entry_rows(A) + entry_rows(B), name="harbor-week1.csv"), organization=broker_org, user=bob)
    assert (again.summary["entries_created"], again.summary["entries_updated"], again.summary["entries_unchanged"]) == (0, 0, 2)
    assert Entry.objects.count() == 2 and TariffLine.objects.count() == 4
    assert Upload.objects.get(pk=again.pk).organization == broker_org and again.uploaded_by == bob
    # The broker's newer report: the later values win, and "what changed" compares with the importer's report.
    week2 = entry_rows(A, **{"Liquidation Status": "Liquidated", "Liquidation Date": date(2026, 11, 20)}) + entry_rows(C)
    newer = ingest(write_es003(week2, name="harbor-week2.csv"), organization=broker_org, user=bob)
    c = newer.summary["changes"]
    assert c["newly_liquidated"] == [A] and c["new_entries"] == [C]
    a = Entry.objects.get(entry_number=A)
    assert (a.liquidation_status, a.last_upload_id, a.importer_id) == ("liquidated", newer.pk, own_importer.pk)
    # Both organisations see the same three entries, with the same facts.
    shared = set(Entry.objects.values_list("pk", flat=True))
    assert set(entries_for(importer_org).values_list("pk", flat=True)) == shared
    assert set(entries_for(broker_org).values_list("pk", flat=True)) == shared
    # The importer's older report, uploaded again, is newer by upload: it sets the entry back, one report whole.
    back = ingest(write_es003(entry_rows(A), name="heron-week1-again.csv"), organization=importer_org, user=alice)
    assert back.summary["changes"]["status_changes"] == [{"entry_number": A, "from": "liquidated", "to": "unliquidated"}]
    assert Entry.objects.filter(entry_number=A).count() == 1


def test_an_entry_of_an_importer_the_uploader_does_not_serve_is_refused_and_left_as_it_was(
        write_es003, importer_org, alice, broker_org, bob, own_importer, ingest) -> None:  # type: ignore[no-untyped-def]
    ingest(write_es003(entry_rows(A), name="heron.csv"), organization=importer_org, user=alice)
    before = Entry.objects.values().get(entry_number=A)
    lines_before = list(TariffLine.objects.filter(entry__entry_number=A).values_list("hts", "duty"))
    # Another broker's client reports the same entry number (a typo, or a takeover attempt).
    other = OrganizationFactory(name="Gull Imports", slug="gull")
    ImporterFactory(owner=other, ir_number="44-444444400", name="Gull Imports LLC")
    rows = entry_rows(A, ieepa_duty="999.00", **{"Importer Number": "44-444444400", "Importer Name": "Gull Imports LLC",
                                                 "Liquidation Status": "Liquidated", "Liquidation Date": date(2026, 11, 1)})
    rows += entry_rows(B, **{"Importer Number": "44-444444400", "Importer Name": "Gull Imports LLC"})
    upload = ingest(write_es003(rows, name="gull.csv"), organization=other)
    assert upload.status == "done"
    assert upload.summary["entries_refused"] == 1 and upload.summary["refused_entries"] == [A]
    assert any("1 entry was not loaded" in w and "002-6110316-2" in w for w in upload.warnings), upload.warnings
    assert upload.summary["entries_created"] == 1  # B, its own
    assert Entry.objects.values().get(entry_number=A) == before
    assert list(TariffLine.objects.filter(entry__entry_number=A).values_list("hts", "duty")) == lines_before
    # Blue Heron's broker may load Blue Heron's entries only while it has the grant.
    from accounts.models import ImporterGrant

    grant_revoke(grant=ImporterGrant.objects.get(importer=own_importer, organization=broker_org))
    refused = ingest(write_es003(entry_rows(A, ieepa_duty="5.00"), name="harbor-late.csv"), organization=broker_org, user=bob)
    assert Entry.objects.values().get(entry_number=A) == before
    assert refused.summary["entries_created"] == 0 and not entries_for(broker_org).exists()
