"""Readiness warnings of 2026.12: an importer number unused for entries for over 366 days (19 CFR 24.5(e))
and a 5106 address CBP may void (P.O. box, registered agent, business centre). Warnings, never a block."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.models import Form5106Record
from cape.classify import today_eastern
from portfolio.readiness import WARNING, importer_readiness
from tests.factories import EntryFactory

pytestmark = pytest.mark.django_db


def _record(importer, address: str) -> None:  # type: ignore[no-untyped-def]
    Form5106Record.objects.create(importer=importer, company_name="Blue Heron Housewares Inc", address=address,
                                  poc_email="ops@blueheron.example")


@pytest.mark.parametrize("days,warned", [(366, False), (367, True)])
def test_an_importer_number_unused_for_over_366_days_is_a_warning(importer_org, own_importer, days: int,
                                                                    warned: bool) -> None:
    EntryFactory(organization=importer_org, importer=own_importer, entry_date=today_eastern() - timedelta(days=days))
    step = next(s for s in importer_readiness(own_importer, organization=importer_org) if s.key == "importer_record")
    assert (step.state == WARNING) is warned
    assert step.is_ready  # a warning, not a block
    if warned:
        assert "19 CFR 24.5(e)" in step.next_step and "No entry since" in step.status


@pytest.mark.parametrize("address,warned", [
    ("P.O. Box 4410, Seattle WA 98104", True), ("PO BOX 12, Reno NV", True), ("Post Office Box 9", True),
    ("c/o Registered Agent Services LLC, 1209 Orange St, Wilmington DE", True),
    ("Suite 400, Harbor Business Center, Long Beach CA", True), ("Business Centre 3, Miami FL", True),
    ("1200 Harbor Way, Seattle WA 98104", False), ("12 Boxwood Lane, Portland OR", False),
])
def test_a_5106_address_cbp_may_void_is_a_warning(own_importer, address: str, warned: bool) -> None:
    _record(own_importer, address)
    step = next(s for s in importer_readiness(own_importer) if s.key == "importer_record")
    assert (step.state == WARNING) is warned, step.status
    if warned:
        assert "Federal Register notice of August 19, 2026" in step.next_step
    assert step.is_ready
