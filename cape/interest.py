"""Interest on refunded duties: an ESTIMATE (19 U.S.C. 1505(c)).

Interest runs from the date the duties were deposited (the entry summary date; the entry date when
that is missing) to the date of liquidation or reliquidation, at the IRS overpayment rates of
26 U.S.C. 6621 for each quarter, compounded daily (19 U.S.C. 1505(c); 26 U.S.C. 6622).
The end date is not known in advance, so it is estimated: an entry not yet liquidated is expected to
liquidate about 45 days after CAPE acceptance (as_of + 45 days); a liquidated one is reliquidated
soon after acceptance (as_of + 7 days) (CBP CAPE guidance, README §6).

Rates live in ``cape/data/overpayment_rates.csv`` (quarter start, corporate and non-corporate
percent, source, confidence). Quarters after the last row reuse the last known rate; quarters whose
rate we could not source are marked ``uncertain`` (carried forward) in the file. Either makes the
estimate uncertain: it names those quarters (``InterestEstimate.note``), the Classification stores
the flag and the note, and the entry page and API show them beside the amount.
Daily rate = annual rate / days in the year (365 or 366), as the IRS compounds (Rev. Proc. 95-17).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache
from pathlib import Path

RATES_FILE = Path(__file__).resolve().parent / "data" / "overpayment_rates.csv"
NOT_LIQUIDATED_DAYS = 45
LIQUIDATED_DAYS = 7
CENT = Decimal("0.01")
LABEL = "Estimate: 19 U.S.C. 1505(c) interest at IRS overpayment rates, compounded daily; CBP computes the actual amount."


@dataclass(frozen=True)
class QuarterRate:
    start: date
    corporate: Decimal  # percent per year
    non_corporate: Decimal
    source: str
    confidence: str  # "published" or "uncertain"


@lru_cache(maxsize=4)
def load_rates(path: str = str(RATES_FILE)) -> tuple[QuarterRate, ...]:
    rows: list[QuarterRate] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(line for line in fh if not line.startswith("#")), start=2):
            try:
                rows.append(
                    QuarterRate(
                        start=date.fromisoformat(row["quarter_start"].strip()),
                        corporate=Decimal(row["corporate_pct"].strip()),
                        non_corporate=Decimal(row["non_corporate_pct"].strip()),
                        source=row["source"].strip(),
                        confidence=row["confidence"].strip(),
                    )
                )
            except (KeyError, ValueError, ArithmeticError) as exc:
                raise ValueError(f"{path} row {i}: {exc}") from None
    rows.sort(key=lambda r: r.start)
    if not rows:
        raise ValueError(f"{path}: no rates")
    return tuple(rows)


def _quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def _next_quarter(d: date) -> date:
    q = _quarter_start(d)
    return date(q.year + 1, 1, 1) if q.month == 10 else date(q.year, q.month + 3, 1)


def rate_for(d: date, *, corporate: bool) -> QuarterRate:
    rates = load_rates()
    chosen = rates[0]
    for r in rates:
        if r.start <= d:
            chosen = r
        else:
            break
    return chosen


def quarter_label(d: date) -> str:
    """``2026-Q3`` for any day of that quarter."""
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def _runs(labels: tuple[str, ...]) -> list[str]:
    """Consecutive quarters collapsed: ("2026-Q2", "2026-Q3", "2026-Q4") -> ["2026-Q2 to 2026-Q4"]."""
    def index(label: str) -> int:
        year, q = label.split("-Q")
        return int(year) * 4 + int(q) - 1

    runs: list[list[str]] = []
    for label in labels:
        if runs and index(label) == index(runs[-1][-1]) + 1:
            runs[-1].append(label)
        else:
            runs.append([label])
    return [r[0] if len(r) == 1 else f"{r[0]} to {r[-1]}" for r in runs]


@lru_cache(maxsize=1024)
def uncertainty_note(quarters: tuple[str, ...]) -> str:
    """What the estimate says beside its amount when some quarter's rate is carried forward."""
    if not quarters:
        return ""
    parts = _runs(quarters)
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    plural = len(quarters) > 1
    return f"estimate; rate{'s' if plural else ''} for {text} not yet published, carried forward"


@lru_cache(maxsize=65536)
def growth_factor(start: date, end: date, corporate: bool) -> tuple[Decimal, tuple[str, ...]]:
    """(1 + r/N)^days over each quarter between start and end; and the quarters (``2026-Q3``) whose
    rate is not published (marked uncertain in the file, or after its last row), in order."""
    uncertain: list[str] = []
    with localcontext() as ctx:
        ctx.prec = 34
        factor = Decimal(1)
        d = start
        last = load_rates()[-1]
        while d < end:
            # Segments end at a quarter or a year boundary (the daily divisor depends on the year).
            seg_end = min(end, _next_quarter(d))
            rate = rate_for(d, corporate=corporate)
            pct = rate.corporate if corporate else rate.non_corporate
            if (rate.confidence != "published" or d >= _next_quarter(last.start)) and quarter_label(d) not in uncertain:
                uncertain.append(quarter_label(d))
            year_days = 366 if (d.year % 4 == 0 and (d.year % 100 != 0 or d.year % 400 == 0)) else 365
            days = (seg_end - d).days
            factor *= (1 + pct / 100 / year_days) ** days
            d = seg_end
        return factor, tuple(uncertain)


@dataclass(frozen=True)
class InterestEstimate:
    amount: Decimal
    start: date
    end: date
    corporate: bool
    uncertain_quarters: tuple[str, ...] = ()
    label: str = LABEL

    @property
    def uncertain(self) -> bool:
        """Some quarter's rate is carried forward, not published: the amount may change."""
        return bool(self.uncertain_quarters)

    @property
    def note(self) -> str:
        return uncertainty_note(self.uncertain_quarters)


def estimated_end(*, as_of: date, liquidated: bool) -> date:
    return as_of + timedelta(days=LIQUIDATED_DAYS if liquidated else NOT_LIQUIDATED_DAYS)


@dataclass(frozen=True, slots=True)
class InterestTerms:
    """What an estimate multiplies the principal by, for one deposit date, end date and kind of
    importer: the same for every entry that shares them (a classification run computes it once each)."""

    start: date
    end: date
    corporate: bool
    growth: Decimal | None  # factor - 1; None when the estimated end is not after the deposit
    uncertain_quarters: tuple[str, ...] = ()

    def amount(self, principal: Decimal) -> Decimal:
        if self.growth is None:
            return Decimal("0.00")
        return (principal * self.growth).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def note(self) -> str:
        return uncertainty_note(self.uncertain_quarters)


def interest_terms(*, deposit_date: date, as_of: date, liquidated: bool, corporate: bool) -> InterestTerms:
    end = estimated_end(as_of=as_of, liquidated=liquidated)
    if end <= deposit_date:
        return InterestTerms(deposit_date, end, corporate, None)
    factor, uncertain = growth_factor(deposit_date, end, corporate)
    return InterestTerms(deposit_date, end, corporate, factor - 1, uncertain)


def estimate_interest(
    *, principal: Decimal, deposit_date: date | None, as_of: date, liquidated: bool, corporate: bool
) -> InterestEstimate | None:
    """Estimated 1505(c) interest on ``principal`` (the IEEPA duty) as of ``as_of``; None without a date."""
    if deposit_date is None or principal <= 0:
        return None
    terms = interest_terms(deposit_date=deposit_date, as_of=as_of, liquidated=liquidated, corporate=corporate)
    return InterestEstimate(terms.amount(principal), deposit_date, terms.end, corporate, terms.uncertain_quarters)
