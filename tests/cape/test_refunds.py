"""Following the money: expected dates, REV-603 / REV-615 imports, received against expected."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.models import AuditLog
from accounts.services import ServiceError
from ach.models import AchEnrollment, AchRejection
from cape.declarations import declaration_build, declaration_export, declaration_import_claim_details
from cape.models import RefundEvent
from cape.refunds import expected_dates, refund_overview, refund_report_import, refund_summary, refund_timeline
from tests.cape.factories import eligible_entry

pytestmark = pytest.mark.django_db


def test_expected_dates_follow_acceptance() -> None:
    exp = expected_dates(date(2026, 5, 1))
    assert exp is not None
    assert (exp.liquidation, exp.refund_from, exp.refund_to) == (date(2026, 6, 15), date(2026, 6, 30), date(2026, 7, 30))
    assert expected_dates(None) is None


def _accepted(org, importer, user):  # type: ignore[no-untyped-def]
    a, b = eligible_entry(importer), eligible_entry(importer)
    d = declaration_build(organization=org, user=user).declarations[0]
    declaration_export(declaration=d, user=user)
    rows = "\n".join(f'="{e.entry_number}",="100000241223",Entry Summary Updated,' for e in (a, b))
    declaration_import_claim_details(declaration=d, data=f"ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\n{rows}\n".encode(),
                                     accepted_on=date(2026, 5, 1), user=user)
    return d, a, b


def _rev603(rows: list[str]) -> bytes:
    head = "Importer Number,Entry Number,Secondary Status,Secondary Status Date,Principal Amount,Interest Amount,Refund Amount,Refund Number"
    return ("\r\n".join([head, *rows]) + "\r\n").encode()


def test_rev603_marks_each_status_and_a_returned_refund_raises_an_ach_problem(importer_org, own_importer, alice) -> None:
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    d, a, b = _accepted(importer_org, own_importer, alice)
    data = _rev603([
        f'="93-417726100",="{a.entry_number}",Sent to Treasury,06/20/2026,"$1,200.00",$30.00,"$1,230.00",R-1',
        f'="93-417726100",="{a.entry_number}",Treasury Issued,07/01/2026,"$1,200.00",$30.00,"$1,230.00",R-1',
        f'="93-417726100",="{b.entry_number}",Funds Diverted,07/01/2026,,,$200.00,R-2',
        f'="93-417726100",="{b.entry_number}",Check/ACH Returned,07/03/2026,"$1,000.00",$10.00,"$1,010.00",R-3',
        '="93-417726100",="60576069342",Treasury Issued,07/01/2026,,,$5.00,R-9',
        f'="93-417726100",="{a.entry_number}",Refund Pondered,07/01/2026,,,$5.00,R-10',
    ])
    result = refund_report_import(organization=importer_org, data=data, report="rev603", filename="rev603.csv", user=alice)
    assert result.created == 5 and result.returned == 1
    assert result.by_kind == {"sent_to_treasury": 1, "treasury_issued": 2, "funds_diverted": 1, "returned": 1}
    # An entry we do not hold is reported; its money is kept against the importer named on the row.
    assert [(u["entry_number"], u["reason"]) for u in result.unknown] == [("60576069342", "entry not loaded here; recorded against the importer")]
    assert RefundEvent.objects.get(reference="R-9").entry is None
    assert [(p["row"], p["column"]) for p in result.problems] == [(7, "Secondary Status")]
    issued = RefundEvent.objects.get(kind="treasury_issued", reference="R-1")
    assert (issued.principal, issued.interest, issued.amount, issued.declaration_id) == (Decimal("1200.00"), Decimal("30.00"), Decimal("1230.00"), d.pk)
    rejection = AchRejection.objects.get(importer=own_importer)
    assert rejection.source == "rev603" and rejection.amount == Decimal("1010.00") and rejection.reference == "R-3"
    assert AchEnrollment.objects.get(importer=own_importer).status == AchEnrollment.Status.REJECTED
    assert AuditLog.objects.filter(action="refund_report.import").exists()
    # The same report again adds nothing.
    again = refund_report_import(organization=importer_org, data=data, report="rev603", user=alice)
    assert (again.created, again.duplicates) == (0, 5) and RefundEvent.objects.count() == 5
    s = refund_summary(importer_org, own_importer)
    assert s.expected_principal == Decimal("2400.00")
    assert (s.received_principal, s.received_interest, s.diverted, s.returned) == (Decimal("1205.00"), Decimal("30.00"), Decimal("200.00"), Decimal("1010.00"))
    assert s.outstanding == Decimal("995.00")
    assert s.next_window is not None and s.next_window.refund_to == date(2026, 7, 30)
    assert [r.importer for r in refund_overview(importer_org)] == [own_importer]
    kinds = [t.kind for t in refund_timeline(importer_org, own_importer)]
    assert kinds.index("accepted") < kinds.index("expected_liquidation") < kinds.index("sent_to_treasury") < kinds.index("returned")


def test_rev615_entry_level_refunds_link_to_the_declaration_by_claim_number(importer_org, own_importer, alice) -> None:
    d, a, _ = _accepted(importer_org, own_importer, alice)
    data = ("Entry Number,Claim Number,Refund Status,Refund Status Date,Refund Principal Amount,Refund Interest Amount\n"
            f'="{a.entry_number}",="100000241223",Treasury Issued,07/02/2026,$600.00,$12.00\n').encode()
    result = refund_report_import(organization=importer_org, data=data, report="rev615", user=alice)
    assert result.created == 1
    e = RefundEvent.objects.get()
    assert (e.declaration_id, e.entry_id, e.amount, e.source) == (d.pk, a.pk, Decimal("612.00"), "rev615")


def test_another_organisations_entries_are_unknown_here(importer_org, own_importer, alice, charlie) -> None:
    from accounts.models import Organization

    _, a, _ = _accepted(importer_org, own_importer, alice)
    outsider = Organization.objects.get(slug="outsider")
    result = refund_report_import(organization=outsider, data=_rev603([f'="93-417726100",="{a.entry_number}",Treasury Issued,07/01/2026,,,$5.00,R1']),
                                  report="rev603")
    assert result.created == 0 and len(result.unknown) == 1 and not RefundEvent.objects.exists()


def test_an_unreadable_report_is_refused(importer_org) -> None:
    with pytest.raises(ServiceError):
        refund_report_import(organization=importer_org, data=b"a,b\n1,2\n", report="rev603")
    with pytest.raises(ServiceError):
        refund_report_import(organization=importer_org, data=b"a,b\n1,2\n", report="rev999")
