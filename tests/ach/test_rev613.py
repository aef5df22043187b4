"""REV-613 ACH Rejected Refunds import: good rows become rejections, bad rows are reported with row,
column, value and reason, ="..." guards are read, unknown importers are refused, nothing is lost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditLog
from ach.models import AchEnrollment, AchRejection
from ach.reports import parse_rev613
from ach.services import rev613_import

pytestmark = pytest.mark.django_db

HEADER = "Importer Number,Importer Name,Entry Number,Refund Amount,Rejection Reason,Refund Reference Number,Rejected Date"


def _csv(*rows: str, title: bool = True) -> bytes:
    lines = (["REV-613 ACH Rejected Refunds", "Run date: 05/15/2026", ""] if title else []) + [HEADER, *rows]
    return ("\r\n".join(lines) + "\r\n").encode()


GOOD = _csv(
    '="93-417726100",Blue Heron Housewares Inc,="00261103162","$1,234.50",R03 No account/unable to locate account,="RF000111",05/01/2026',
    '="93417726100",Blue Heron Housewares Inc,,(250.00),R02 Account closed,="RF000112",2026-05-02',
)


def test_the_parser_reads_guards_amounts_and_dates_after_title_lines() -> None:
    parsed = parse_rev613(GOOD)
    assert parsed.errors == [] and parsed.rows_read == 2
    first, second = parsed.rows
    assert (first.row, first.importer_number, first.entry_number, first.amount, first.reference, first.rejected_on) == (
        5, "93-417726100", "00261103162", Decimal("1234.50"), "RF000111", date(2026, 5, 1))
    assert (second.importer_number, second.amount, second.rejected_on) == ("93-417726100", Decimal("250.00"), date(2026, 5, 2))


def test_good_rows_become_rejections_and_the_ach_becomes_rejected(own_importer, alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    result = rev613_import(organization=importer_org, content=GOOD, user=alice)
    assert result.errors == [] and len(result.created) == 2 and result.duplicates == 0
    assert AchEnrollment.objects.get(importer=own_importer).status == AchEnrollment.Status.REJECTED
    assert sorted(AchRejection.objects.values_list("reference", "amount", "source")) == [
        ("RF000111", Decimal("1234.50"), "rev613"), ("RF000112", Decimal("250.00"), "rev613")]
    assert AuditLog.objects.get(action="ach.rev613_import").detail["created"] == 2
    again = rev613_import(organization=importer_org, content=GOOD, user=alice)
    assert again.duplicates == 2 and not again.created and AchRejection.objects.count() == 2


def test_bad_rows_are_reported_and_good_rows_kept(own_importer, importer_org) -> None:  # type: ignore[no-untyped-def]
    content = _csv(
        '="93-417726100",Blue Heron,,"$99.00",R03,="RF1",05/01/2026',
        '="12-3456789",Someone,,"$10.00",R03,="RF2",05/01/2026',  # EIN without suffix
        '="93-417726100",Blue Heron,,"ten dollars",R03,="RF3",05/01/2026',
        '="93-417726100",Blue Heron,,"$5.00",R03,="RF4",13/45/2026',
        '="93-417726100",Blue Heron,="BADENTRY",$7.00,R03,="RF5",05/03/2026',
        ",,,,,,",
        "Total,,,$121.00,,,",
    )
    result = rev613_import(organization=importer_org, content=content)
    assert {r.reference for r in result.created} == {"RF1", "RF5"}
    errors = {(e["row"], e["column"], e["value"]) : e["reason"] for e in result.errors}
    assert set(errors) == {(6, "Importer Number", "12-3456789"), (7, "Refund Amount", "ten dollars"), (8, "Rejected Date", "13/45/2026")}
    assert "suffix" in errors[(6, "Importer Number", "12-3456789")]
    assert "amount of money" in errors[(7, "Refund Amount", "ten dollars")]
    assert all(e["file"] == "REV-613.csv" for e in result.errors)
    assert result.warnings[0]["row"] == 9 and result.warnings[0]["value"] == "BADENTRY"
    assert AchRejection.objects.get(reference="RF5").entry_number == ""


def test_an_unknown_importer_is_refused_by_row(own_importer, importer_org, charlie) -> None:  # type: ignore[no-untyped-def]
    from accounts.models import Importer

    stranger = Importer.objects.get(ir_number="55-555555500")  # exists, but belongs to charlie's organisation
    content = _csv('="55-555555500",Outsider,,$10.00,R03,="X1",05/01/2026', '="93-417726100",Blue,,$1.00,R03,="X2",05/01/2026')
    result = rev613_import(organization=importer_org, content=content)
    assert [r.reference for r in result.created] == ["X2"]
    assert result.errors == [{"file": "REV-613.csv", "row": 5, "column": "Importer Number", "value": "55-555555500",
                              "reason": "this importer is not one of your organisation's importers (add it first)"}]
    assert not AchRejection.objects.filter(importer=stranger).exists()


def test_a_file_without_the_needed_columns_says_which(importer_org) -> None:  # type: ignore[no-untyped-def]
    result = rev613_import(organization=importer_org, content=b"Entry Number,Status\n00261103162,Failed\n")
    assert not result.created
    assert "importer number" in result.errors[0]["reason"] and "amount" in result.errors[0]["reason"]


def test_rows_without_a_reference_are_not_doubled_on_reimport(own_importer, importer_org) -> None:  # type: ignore[no-untyped-def]
    content = b'Importer Number,Amount,Reason,Date\n="93-417726100",$50.00,R03,05/01/2026\n'
    assert len(rev613_import(organization=importer_org, content=content).created) == 1
    assert rev613_import(organization=importer_org, content=content).duplicates == 1


def test_the_import_page_lists_rows_and_problems(client, bob, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    content = _csv('="93-417726100",Blue,,$1.00,R03,="P1",05/01/2026', '="93-417726100",Blue,,abc,R03,="P2",05/01/2026')
    response = client.post(reverse("ach_rev613"), {"file": SimpleUploadedFile("rev613.csv", content, "text/csv")})
    html = response.content.decode()
    assert response.status_code == 200
    assert "1 imported" in html and "abc" in html and "not an amount of money" in html and "rev613.csv" in html


def test_a_viewer_cannot_import(client, vera) -> None:  # type: ignore[no-untyped-def]
    client.force_login(vera)
    response = client.post(reverse("ach_rev613"), {"file": SimpleUploadedFile("r.csv", GOOD, "text/csv")})
    assert response.status_code == 403
    assert not AchRejection.objects.exists()


def test_two_real_rejections_with_the_same_entry_amount_and_date_stay_two(own_importer, importer_org) -> None:  # type: ignore[no-untyped-def]
    content = (b"Importer Number,Entry Number,Amount,Reason,Date\n"
               b'="93-417726100",="00261103162",$50.00,R03 No account,05/01/2026\n'
               b'="93-417726100",="00261103162",$50.00,R03 No account,05/01/2026\n'  # a second refund, same facts
               b'="93-417726100",="00261103162",$50.00,R02 Account closed,05/01/2026\n')  # differs only by reason
    first = rev613_import(organization=importer_org, content=content)
    assert len(first.created) == 3 and first.duplicates == 0
    refs = list(AchRejection.objects.order_by("pk").values_list("reference", flat=True))
    assert len(set(refs)) == 3 and all(r.startswith("REV613/") and len(r) <= 80 for r in refs)
    again = rev613_import(organization=importer_org, content=content)
    assert again.duplicates == 3 and not again.created and AchRejection.objects.count() == 3


def test_a_later_report_repeating_a_rejection_adds_only_the_new_one(own_importer, importer_org) -> None:  # type: ignore[no-untyped-def]
    header = b"Importer Number,Entry Number,Amount,Reason,Date\n"
    old = b'="93-417726100",="00261103162",$50.00,R03,05/01/2026\n'
    new = b'="93-417726100",="00261112239",$75.00,R03,05/08/2026\n'
    rev613_import(organization=importer_org, content=header + old)
    later = rev613_import(organization=importer_org, content=header + new + old)  # another order, one new row
    assert (len(later.created), later.duplicates) == (1, 1)
    assert sorted(AchRejection.objects.values_list("entry_number", flat=True)) == ["00261103162", "00261112239"]


def test_a_rejection_imported_with_the_old_reference_is_not_doubled(own_importer, importer_org) -> None:  # type: ignore[no-untyped-def]
    AchRejection.objects.create(importer=own_importer, source="rev613", reference="REV613/00261103162/50.00/2026-05-01",
                                amount=Decimal("50.00"), entry_number="00261103162", rejected_on=date(2026, 5, 1))
    content = b'Importer Number,Entry Number,Amount,Reason,Date\n="93-417726100",="00261103162",$50.00,R03,05/01/2026\n'
    result = rev613_import(organization=importer_org, content=content)
    assert (len(result.created), result.duplicates) == (0, 1) and AchRejection.objects.count() == 1
