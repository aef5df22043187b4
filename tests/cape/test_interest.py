"""Interest estimate under 19 U.S.C. 1505(c): quarterly IRS overpayment rates, daily compounding."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

from cape.interest import RATES_FILE, estimate_interest, estimated_end, growth_factor, load_rates, uncertainty_note


def test_the_rates_file_is_dated_sourced_and_labelled() -> None:
    rates = load_rates()
    assert rates[0].start == date(2025, 1, 1)
    assert all(r.source and r.confidence in ("published", "uncertain") for r in rates)
    q = {r.start: r for r in rates}
    assert (q[date(2025, 4, 1)].corporate, q[date(2025, 4, 1)].non_corporate) == (6, 7)  # README §7
    assert q[date(2026, 1, 1)].confidence == "published" and "2025-22" in q[date(2026, 1, 1)].source
    with open(RATES_FILE, encoding="utf-8") as fh:
        header = next(csv.reader(line for line in fh if not line.startswith("#")))
    assert header == ["quarter_start", "corporate_pct", "non_corporate_pct", "source", "confidence"]


def test_the_end_date_is_as_of_plus_45_or_plus_7() -> None:
    assert estimated_end(as_of=date(2026, 11, 22), liquidated=False) == date(2027, 1, 6)
    assert estimated_end(as_of=date(2026, 11, 22), liquidated=True) == date(2026, 11, 29)


def test_daily_compounding_over_one_year_at_6_percent() -> None:
    factor, uncertain = growth_factor(date(2025, 1, 1), date(2026, 1, 1), True)
    expected = (1 + Decimal("0.06") / 365) ** 365
    assert abs(factor - expected) < Decimal("1e-20")
    assert not uncertain  # every 2025 quarter is published


def test_the_estimate_for_a_corporation_and_an_individual() -> None:
    corp = estimate_interest(principal=Decimal("1000.00"), deposit_date=date(2025, 1, 1), as_of=date(2025, 12, 25),
                             liquidated=True, corporate=True)
    person = estimate_interest(principal=Decimal("1000.00"), deposit_date=date(2025, 1, 1), as_of=date(2025, 12, 25),
                               liquidated=True, corporate=False)
    assert corp is not None and person is not None
    assert corp.amount == Decimal("61.83")  # 1000 * ((1 + .06/365)^365 - 1)
    assert person.amount == Decimal("72.50")
    assert "Estimate" in corp.label and corp.end == date(2026, 1, 1)


def test_quarters_without_a_sourced_rate_make_the_estimate_uncertain() -> None:
    est = estimate_interest(principal=Decimal("100"), deposit_date=date(2026, 1, 28), as_of=date(2026, 11, 22),
                            liquidated=False, corporate=True)
    assert est is not None and est.uncertain and est.amount > 0
    assert est.uncertain_quarters == ("2027-Q1",)  # 2026-Q2 to Q4 published since (ruleset 2026.12 data)
    assert est.note == "estimate; rate for 2027-Q1 not yet published, carried forward"


def test_an_estimate_inside_one_carried_forward_quarter_names_it() -> None:
    est = estimate_interest(principal=Decimal("1000"), deposit_date=date(2027, 1, 2), as_of=date(2027, 2, 1),
                            liquidated=True, corporate=False)
    assert est is not None and est.uncertain_quarters == ("2027-Q1",)
    assert est.note == "estimate; rate for 2027-Q1 not yet published, carried forward"


def test_the_2026_rates_are_published_with_their_sources() -> None:
    q = {r.start: r for r in load_rates()}
    assert (q[date(2026, 4, 1)].corporate, q[date(2026, 4, 1)].non_corporate) == (Decimal("5"), Decimal("6"))
    assert "Federal Register notice 2026-09871" in q[date(2026, 4, 1)].source
    assert (q[date(2026, 7, 1)].corporate, q[date(2026, 7, 1)].non_corporate) == (Decimal("6"), Decimal("7"))
    assert "Rev. Rul. 2026-10" in q[date(2026, 7, 1)].source and "Rev. Rul. 2026-15" in q[date(2026, 10, 1)].source
    for start in (date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1)):
        assert q[start].confidence == "published"
    assert q[date(2027, 1, 1)].confidence == "uncertain"
    # 1000 from 2026-04-01 to the estimate's end (2026-07-08): 91 days of Q2 at 5% then 7 days at 6%, compounded
    # daily: 1000 * ((1 + .05/365)^91 * (1 + .06/365)^7 - 1) = 13.71 (16.24 had Q2 stayed at 6%)
    est = estimate_interest(principal=Decimal("1000"), deposit_date=date(2026, 4, 1), as_of=date(2026, 7, 1),
                            liquidated=True, corporate=True)
    assert est is not None and est.end == date(2026, 7, 8)
    assert est.amount == Decimal("13.71") and not est.uncertain


def test_an_estimate_over_published_quarters_only_is_not_uncertain() -> None:
    est = estimate_interest(principal=Decimal("1000"), deposit_date=date(2025, 2, 1), as_of=date(2025, 6, 1),
                            liquidated=True, corporate=True)
    assert est is not None and not est.uncertain and est.uncertain_quarters == () and est.note == ""


def test_quarters_after_the_last_row_are_carried_forward_too() -> None:
    last = load_rates()[-1].start
    assert last == date(2027, 1, 1)
    est = estimate_interest(principal=Decimal("1000"), deposit_date=date(2027, 3, 1), as_of=date(2027, 7, 20),
                            liquidated=True, corporate=True)
    assert est is not None and est.uncertain_quarters == ("2027-Q1", "2027-Q2", "2027-Q3")
    assert est.note == "estimate; rates for 2027-Q1 to 2027-Q3 not yet published, carried forward"


def test_the_note_lists_quarters_that_are_not_consecutive() -> None:
    assert uncertainty_note(()) == ""
    assert uncertainty_note(("2026-Q2", "2026-Q4")) == "estimate; rates for 2026-Q2 and 2026-Q4 not yet published, carried forward"
    assert uncertainty_note(("2026-Q1", "2026-Q2", "2026-Q4", "2027-Q2")) == (
        "estimate; rates for 2026-Q1 to 2026-Q2, 2026-Q4 and 2027-Q2 not yet published, carried forward")


def test_every_quarter_is_either_sourced_from_the_irs_or_marked_carried_forward() -> None:
    for r in load_rates():
        if r.confidence == "published":
            assert ("IRS" in r.source and ("Rev. Rul." in r.source or "IR-" in r.source)) or "Federal Register" in r.source, r
        else:
            assert r.confidence == "uncertain" and r.source.startswith("carried forward from"), r


def test_no_date_or_no_duty_means_no_estimate() -> None:
    assert estimate_interest(principal=Decimal("100"), deposit_date=None, as_of=date(2026, 1, 1), liquidated=False, corporate=True) is None
    assert estimate_interest(principal=Decimal("0"), deposit_date=date(2025, 5, 1), as_of=date(2026, 1, 1), liquidated=False, corporate=True) is None
