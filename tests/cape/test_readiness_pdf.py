"""The PDF refund-readiness report, read back as text (pypdf): summary, totals by path, deadlines and
the readiness checklist carry the right figures."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from pypdf import PdfReader

from ach.models import AchEnrollment
from cape.classify import classify_entries
from portfolio.readiness import importer_readiness
from portfolio.readiness_pdf import readiness_pdf
from tests.factories import EntryFactory

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 22)
NOON_EASTERN = "2026-11-22 17:00:00+00:00"


def _text(data: bytes) -> str:
    """The report's words in reading order, whitespace collapsed; page footers dropped and words that
    the layout broke after a hyphen ("re-" / "declaring") joined again."""
    reader = PdfReader(io.BytesIO(data))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    text = re.sub(r"Page \d+ of \d+ ?", "", text)
    return re.sub(r"(?<=[a-z])- (?=[a-z])", "-", text)


def _section(text: str, start: str, end: str) -> str:
    assert start in text and end in text, (start, end)
    return text.split(start, 1)[1].split(end, 1)[0]


@pytest.fixture
def worked_examples(importer_org, own_importer):  # type: ignore[no-untyped-def]
    """rules.md worked examples A, B, C and D (as of 2026-11-22) for Alice's importer."""
    e = {
        "a": EntryFactory(organization=importer_org, importer=own_importer, ieepa_duty=Decimal("1200.00")),
        "b": EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="liquidated",
                          liquidation_date=date(2026, 10, 1), ieepa_duty=Decimal("500.00")),
        "c": EntryFactory(organization=importer_org, importer=own_importer, entry_type="11", liquidation_status="liquidated",
                          liquidation_date=date(2026, 8, 1), ieepa_duty=Decimal("90.00")),
        "d": EntryFactory(organization=importer_org, importer=own_importer, ieepa_duty=Decimal("0.00")),
    }
    classify_entries(organization=importer_org, as_of=AS_OF)
    return e


@time_machine.travel(NOON_EASTERN, tick=False)
def test_the_report_carries_summary_totals_deadlines_and_checklist(importer_org, own_importer, worked_examples) -> None:  # type: ignore[no-untyped-def]
    text = _text(readiness_pdf(importer_org, own_importer))
    assert text.startswith("Refund readiness report Blue Heron Housewares Inc")
    assert "Importer number (IR#) 93-417726100" in text and "prepared for Blue Heron Housewares" in text
    assert "as of November 22, 2026 (U.S. Eastern)" in text

    summary = _section(text, "Summary", "Totals by path")
    assert "Entries loaded 4" in summary
    assert "IEEPA duty paid $1,790.00" in summary
    assert "Eligible for CAPE now $1,700.00" in summary  # A $1,200 + B $500
    # The dashboard's checklist and count (portfolio.readiness), not a list of its own (issue #20: "7 of 7" beside 9).
    steps = importer_readiness(own_importer, organization=importer_org)
    assert len(steps) == 9
    assert f"Readiness checklist {sum(s.is_ready for s in steps)} of 9 steps done" in summary
    assert "nobody yet: no active ACH refund enrollment" in summary
    assert "Refunds expected (accepted in CAPE) $0.00" in summary and "Received (Treasury issued) $0.00" in summary

    totals = _section(text, "Totals by path", "Interest is an estimate")
    assert "CAPE Phase 1 2 $1,700.00" in totals
    assert "Protest 1 $90.00" in totals
    assert "Not eligible 1 $0.00" in totals
    assert "Court of International Trade 0 $0.00" in totals and "Needs review 0 $0.00" in totals

    deadlines = _section(text, "Deadlines", "The 40 nearest deadlines")
    b, c = worked_examples["b"], worked_examples["c"]
    assert f"{b.entry_number_display} CAPE Phase 1 12/19/2026 $500.00" in deadlines  # liquidated 10/01 + 79 days
    assert f"{c.entry_number_display} Protest 01/28/2027 $90.00" in deadlines  # liquidated 08/01 + 180 days
    assert deadlines.index(b.entry_number_display) < deadlines.index(c.entry_number_display)  # nearest first
    assert worked_examples["d"].entry_number_display not in deadlines

    listed = _section(text, "Readiness checklist", "Entry checks before filing")
    for step in steps:
        assert f"{step.state_label} {step.label} {step.status}" in listed, step
    checklist = _section(text, "Entry checks before filing", "CAPE declarations")
    assert "Done ES-003 data loaded with liquidation columns 4 entries; 0 without Liquidation Status/Date columns" in checklist
    assert "Done Every entry classified 0 not classified yet" in checklist
    assert "To do ACH refund route active (ACE ACH Refund Authorization) refunds go to nobody: enroll for ACH refunds in ACE" in checklist
    assert "Done 4811 notify party settled before filing none recorded (refund goes to the importer)" in checklist
    assert "Done Post-summary corrections filed before re-declaring 0 rejected entries wait for a PSC" in checklist
    assert "Done No open protest on CAPE entries 0 CAPE-path entries with an open protest" in checklist
    assert "To do Every CAPE-eligible entry on a declaration 2 of 2 eligible entries not yet declared" in checklist
    assert "No CAPE declarations yet." in text


@time_machine.travel(NOON_EASTERN, tick=False)
def test_an_active_ach_enrollment_ticks_the_checklist_and_names_the_recipient(importer_org, own_importer, worked_examples) -> None:  # type: ignore[no-untyped-def]
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    text = _text(readiness_pdf(importer_org, own_importer))
    steps = importer_readiness(own_importer, organization=importer_org)
    assert steps[[s.key for s in steps].index("ach")].is_ready
    assert f"Readiness checklist {sum(s.is_ready for s in steps)} of 9 steps done" in text
    assert "Done ACH refund route active (ACE ACH Refund Authorization) refunds go to" in text
    assert "nobody yet" not in text
