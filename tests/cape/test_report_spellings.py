"""Claim Details / validation exports and REV-615 files in the spellings real exports take (issue #23, items 7-8).

One table of known header spellings per report (cape/data/cape_declarations.json); every spelling in it is read,
each by a file generated here with that header, through the same import service the pages and API call.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cape.claims import cape_data, parse_claim_details, parse_refund_report
from cape.declarations import declaration_build, declaration_export, declaration_import_claim_details
from cape.models import RefundEvent
from cape.refunds import refund_report_import
from tests.cape.factories import eligible_entry

ENTRY = "00261103162"
CLAIM_COLUMNS = cape_data()["claim_details"]["columns"]
STANDARD = {"entry_number": "ENTRY_NUMBER", "claim_number": "CLAIM_NUMBER", "status": "STATUS", "error": "ERROR_DESCRIPTION"}
VALUES = {"entry_number": f'="{ENTRY}"', "claim_number": '="100000241223"', "status": "Failed", "error": "HTS RELATIONSHIP MISMATCH"}


def _claim_file(field: str, spelling: str) -> bytes:
    header = [spelling if f == field else STANDARD[f] for f in STANDARD]
    return (",".join(header) + "\r\n" + ",".join(VALUES[f] for f in STANDARD) + "\r\n").encode()


@pytest.mark.parametrize(("field", "spelling"), [(f, s) for f, names in CLAIM_COLUMNS.items() for s in names])
def test_every_claim_details_header_spelling_in_the_table_is_read(field: str, spelling: str) -> None:
    parsed = parse_claim_details(_claim_file(field, spelling), "claims.csv")
    assert parsed.problems == []
    assert [(r.entry_number, r.claim_number, r.outcome, r.error) for r in parsed.rows] == [
        (ENTRY, "100000241223", "rejected", "HTS RELATIONSHIP MISMATCH")]


@pytest.mark.parametrize(("field", "spelling"), [("entry_number", "Entry Summary Number"), ("claim_number", "Cape Claim Number"),
                                                 ("status", "Filing Status"), ("error", "Error Detail"), ("error", "Rejection Reason")])
def test_the_spellings_of_issue_23_are_in_the_table_and_read_in_any_case(field: str, spelling: str) -> None:
    parsed = parse_claim_details(_claim_file(field, spelling.upper()), "claims.csv")
    assert [(r.claim_number, r.outcome, r.error) for r in parsed.rows] == [("100000241223", "rejected", "HTS RELATIONSHIP MISMATCH")]


@pytest.mark.django_db
def test_a_validation_export_with_other_spellings_sets_the_outcome_and_keeps_the_error(importer_org, own_importer, alice) -> None:
    a = eligible_entry(own_importer)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    declaration_export(declaration=d, user=alice)
    data = ("Entry Summary Number,Cape Claim Number,Filing Status,Rejection Reason\r\n"
            f'="{a.entry_number}",="100000241223",Failed,INVALID HTS\r\n').encode()
    declaration_import_claim_details(declaration=d, data=data, accepted_on=date(2026, 5, 1), user=alice)
    item = d.items.get(entry=a)
    assert (item.outcome, item.error_text) == ("rejected", "INVALID HTS")


# ----------------------------------------------------------------------------- REV-615 statuses with a suffix
def _rev615(status: str) -> bytes:
    return ("Entry Number,Claim Number,Refund Status,Refund Status Date,Refund Principal Amount,Refund Interest Amount\r\n"
            f'="{ENTRY}",="100000241223",{status},07/02/2026,$600.00,$12.00\r\n').encode()


@pytest.mark.parametrize(("status", "kind"), [
    ("Funds Diverted - applied to outstanding debt", "funds_diverted"),
    ("FUNDS DIVERTED: Treasury Offset Program", "funds_diverted"),
    ("Treasury Issued (ACH)", "treasury_issued"),
    ("Check/ACH Returned - account closed", "returned"),
    ("Sent to Treasury", "sent_to_treasury"),
])
def test_a_refund_status_is_matched_by_its_leading_words_and_kept_whole(status: str, kind: str) -> None:
    parsed = parse_refund_report(_rev615(status), "rev615", "rev615.csv")
    assert parsed.problems == []
    assert [(r.kind, r.status_raw) for r in parsed.rows] == [(kind, status)]


@pytest.mark.parametrize("status", ["Funds Diverted2", "Diverted", "Sent"])
def test_a_status_that_only_resembles_a_known_one_is_still_refused(status: str) -> None:
    parsed = parse_refund_report(_rev615(status), "rev615", "rev615.csv")
    assert parsed.rows == [] and [p.column for p in parsed.problems] == ["Refund Status"]


@pytest.mark.django_db
def test_a_diverted_refund_with_a_suffix_is_imported_with_its_full_text(importer_org, own_importer, alice) -> None:
    a = eligible_entry(own_importer)
    data = _rev615("Funds Diverted - applied to outstanding debt").replace(ENTRY.encode(), a.entry_number.encode())
    result = refund_report_import(organization=importer_org, data=data, report="rev615", user=alice)
    assert result.created == 1 and not result.problems
    event = RefundEvent.objects.get()
    assert (event.kind, event.status_text, event.amount) == ("funds_diverted", "Funds Diverted - applied to outstanding debt",
                                                             Decimal("612.00"))


@pytest.mark.django_db(transaction=True)
def test_the_status_text_migration_keeps_existing_refund_events() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("cape", "0009_classification_urgent_deadline_index")], [("cape", "0010_h_wild_refund_status_text")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    org = apps.get_model("accounts", "Organization").objects.create(name="Old Org", slug="old-org")
    importer = apps.get_model("accounts", "Importer").objects.create(ir_number="93-417726100", name="Blue Heron Housewares Inc")
    apps.get_model("cape", "RefundEvent").objects.create(organization_id=org.pk, importer_id=importer.pk, kind="funds_diverted",
                                                         amount=Decimal("612.00"), source="rev615")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    event = RefundEvent.objects.get()
    assert (event.kind, event.amount, event.status_text) == ("funds_diverted", Decimal("612.00"), "")
