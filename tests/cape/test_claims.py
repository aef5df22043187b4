"""Parsers for CBP's CAPE Claim Details and REV-603 / REV-615 refund reports (no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cape.claims import (
    ReportFileError,
    needs_psc,
    parse_claim_details,
    parse_money,
    parse_refund_report,
    unwrap,
)


def test_guards_and_money() -> None:
    assert unwrap('="100000241223"') == "100000241223"
    assert parse_money("$2,567.49") == Decimal("2567.49")
    assert parse_money("(12.00)") == Decimal("-12.00")
    assert parse_money("FREE") == Decimal("0.00") and parse_money("") is None
    assert needs_psc("hts relationship/sequence mismatch") and not needs_psc("PROTEST ON ENTRY")


def test_it_reads_the_shape_of_shared_samples_cape_claim_details() -> None:
    data = (b"ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\n"
            b'="3BZ55001204",="100000241223",Entry Summary Updated,\n'
            b'="3BZ55001212",="100000241223",Failed,HTS RELATIONSHIP MISMATCH\n')
    parsed = parse_claim_details(data, "sample.csv")
    assert parsed.problems == []
    assert [(r.entry_number, r.claim_number, r.outcome, r.error) for r in parsed.rows] == [
        ("3BZ55001204", "100000241223", "accepted", ""),
        ("3BZ55001212", "100000241223", "rejected", "HTS RELATIONSHIP MISMATCH"),
    ]


def test_bad_rows_are_reported_with_row_column_value_and_reason_and_good_rows_kept() -> None:
    data = ("\ufeffENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\r\n"
            '="60576069342",="100000241223",Failed,INVALID HTS\r\n'
            '="60576069343",="100000241223",Failed,INVALID HTS\r\n'
            '="00261103162",="100000241223",Thinking about it,\r\n'
            '="00261111157",="1000A",Entry Summary Updated,\r\n').encode("utf-8")
    parsed = parse_claim_details(data, "claims.csv")
    assert [r.entry_number for r in parsed.rows] == ["60576069342"]
    assert [(p.row, p.column) for p in parsed.problems] == [(3, "ENTRY_NUMBER"), (4, "STATUS"), (5, "CLAIM_NUMBER")]
    assert parsed.problems[0].file == "claims.csv" and parsed.problems[0].value == "60576069343"


def test_a_file_without_the_header_is_refused_with_the_columns_needed() -> None:
    with pytest.raises(ReportFileError, match="ENTRY_NUMBER"):
        parse_claim_details(b"foo,bar\n1,2\n", "x.csv")
    with pytest.raises(ReportFileError, match="empty"):
        parse_claim_details(b"", "x.csv")


def test_rev603_rows_become_refund_events_with_principal_and_interest() -> None:
    data = (b"Trade Refund Report (REV-603)\nRun date 11/22/2026\n"
            b"Importer Number,Entry Number,Secondary Status,Secondary Status Date,Principal Amount,Interest Amount,Refund Amount,Refund Number\n"
            b'="93-417726100",="60576069342",Sent to Treasury,10/01/2026,"$1,200.00",$35.10,"$1,235.10",R1\n'
            b'="93-417726100",="60576069342",Treasury Issued,10/15/2026,"$1,200.00",$35.10,"$1,235.10",R1\n'
            b'="93-417726100",="00261103162",Funds Diverted,10/16/2026,,,$50.00,R2\n'
            b'="93-417726100",="00261111157",Check/ACH Returned,10/20/2026,$300.00,$0.00,,R3\n'
            b'="93-417726100",="00261111157",Lost in the mail,10/20/2026,,,$1.00,R4\n'
            b'="93-417726100",="00261111157",Treasury Issued,13/45/2026,,,$1.00,R5\n')
    parsed = parse_refund_report(data, "rev603", "rev603.csv")
    assert [(r.kind, r.event_date, r.principal, r.interest, r.amount) for r in parsed.rows] == [
        ("sent_to_treasury", date(2026, 10, 1), Decimal("1200.00"), Decimal("35.10"), Decimal("1235.10")),
        ("treasury_issued", date(2026, 10, 15), Decimal("1200.00"), Decimal("35.10"), Decimal("1235.10")),
        ("funds_diverted", date(2026, 10, 16), None, None, Decimal("50.00")),
        ("returned", date(2026, 10, 20), Decimal("300.00"), Decimal("0.00"), Decimal("300.00")),
    ]
    assert [(p.row, p.column, p.value) for p in parsed.problems] == [(8, "Secondary Status", "Lost in the mail"),
                                                                     (9, "Secondary Status Date", "13/45/2026")]


def test_rev615_without_a_status_column_is_read_as_sent_to_treasury_and_says_so() -> None:
    data = (b"Entry Number,Claim Number,Refund Principal Amount,Refund Interest Amount\n"
            b'="60576069342",="100000241223",$100.00,$2.50\n')
    parsed = parse_refund_report(data, "rev615", "rev615.csv")
    assert [(r.kind, r.claim_number, r.amount) for r in parsed.rows] == [("sent_to_treasury", "100000241223", Decimal("102.50"))]
    assert parsed.notes and "Sent to Treasury" in parsed.notes[0]


def test_a_refund_report_without_amounts_is_refused() -> None:
    with pytest.raises(ReportFileError, match="amount"):
        parse_refund_report(b"Entry Number,Secondary Status\n60576069342,Treasury Issued\n", "rev603", "x.csv")
