"""Protest-path entries classified by the real engine (liquidated 80-180 days ago: rule R9)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cape.classify import classify_entries, today_eastern
from tests.factories import EntryFactory, TariffLineFactory


def protest_entry(importer: Any, organization: Any, *, days_ago: int = 100, duties: tuple[str, ...] = ("100.00", "50.00"),
                  port: str = "2704", **kwargs: Any) -> Any:
    """An entry of ``importer`` liquidated ``days_ago`` days ago with one IEEPA line per duty (each on its own
    entry-summary line, after its commodity row) and a Section 301 row that is not IEEPA."""
    today = today_eastern()
    total = sum((Decimal(d) for d in duties), Decimal("0.00"))
    entry = EntryFactory(organization=organization, importer=importer, liquidation_status="liquidated",
                         liquidation_date=today - timedelta(days=days_ago), ieepa_duty=total, total_duty=total + 30,
                         port_code=port, entry_summary_date=date(2025, 6, 2), entry_date=date(2025, 5, 28), **kwargs)
    for n, duty in enumerate(duties, start=1):
        TariffLineFactory(entry=entry, line_number=n, ordinal=1, hts="3923900080", duty=Decimal("0.00"), is_ieepa=False)
        TariffLineFactory(entry=entry, line_number=n, ordinal=2, hts="9903012500", duty=Decimal(duty), is_ieepa=True)
    TariffLineFactory(entry=entry, line_number=1, ordinal=3, hts="9903881500", duty=Decimal("30.00"), is_ieepa=False)
    return entry


def classify(organization: Any) -> None:
    classify_entries(organization=organization, as_of=today_eastern())
