"""Properties of ruleset 2026.12 over generated entries (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cape import rules
from cape.rules import EntryFacts, classify
from entries.samplegen import entry_number

DAY0 = date(2025, 2, 1)
dates = st.integers(min_value=0, max_value=900).map(lambda n: DAY0 + timedelta(days=n))
statuses = st.sampled_from(["unliquidated", "liquidated", "suspended", "extended", "under_review", "final", "unknown",
                            "garbage", "", "Liquidated"])


@st.composite
def entry_facts(draw: st.DrawFn) -> EntryFacts:
    entry_date = draw(dates)
    return EntryFacts(
        entry_number=draw(st.one_of(st.integers(0, 9_999_999).map(lambda n: entry_number("ABC", n)),
                                    st.text("ABC0123456789-", max_size=12))),
        entry_type=draw(st.sampled_from(["01", "1", "02", "03", "06", "07", "08", "09", "11", "21", "22", "23", "31", "32",
                                         "38", "47"])),
        ieepa_duty=draw(st.decimals(min_value=-10, max_value=100000, places=2, allow_nan=False)),
        liquidation_status=draw(statuses),
        entry_date=entry_date,
        entry_summary_date=draw(st.one_of(st.none(), st.just(entry_date + timedelta(days=8)))),
        liquidation_date=draw(st.one_of(st.none(), dates)),
        recon_flag=draw(st.booleans()),
        type09_filed=draw(st.booleans()),
        protest_status=draw(st.sampled_from(["none", "open", "suspended", "denied", "approved", "Pending", "Granted"])),
        protest_number=draw(st.sampled_from(["", "2704-26-1"])),
        drawback=draw(st.booleans()),
        cape_accepted=draw(st.booleans()),
        cape_rejections=draw(st.sampled_from([(), ("INVALID HTS",), ("PROTEST ON ENTRY",)])),
        has_refund_route=draw(st.booleans()),
        surety_paid=draw(st.booleans()),
        liquidation_reason_code=draw(st.sampled_from([None, None, None, 36, 12])),
        cit_plaintiff=draw(st.booleans()),
    )


@settings(max_examples=400, deadline=None)
@given(entry_facts(), dates)
def test_every_entry_gets_exactly_one_known_path_from_one_rule(f: EntryFacts, as_of: date) -> None:
    r = classify(f, as_of)
    assert r.path in rules.PATHS
    assert r.rule in rules.RULES_BY_ID  # never the "no rule matched" fallback
    assert r.reasons and r.reasons[0] in rules.RULES_BY_ID[r.rule].reasons
    assert all(rules.explain(code)[0] != "?" for code in r.reasons)
    assert not (r.urgent and r.deadline_passed)


@settings(max_examples=200, deadline=None)
@given(entry_facts(), dates)
def test_results_are_deterministic(f: EntryFacts, as_of: date) -> None:
    assert classify(f, as_of) == classify(f, as_of)


@settings(max_examples=400, deadline=None)
@given(entry_facts(), dates, st.integers(min_value=1, max_value=800))
def test_moving_as_of_forward_never_moves_an_entry_from_protest_back_to_cape(f: EntryFacts, as_of: date, later: int) -> None:
    before = classify(f, as_of)
    after = classify(f, as_of + timedelta(days=later))
    if before.path == rules.Path.PROTEST:
        assert after.path not in rules.CAPE_PATHS


@settings(max_examples=300, deadline=None)
@given(entry_facts(), dates)
def test_nothing_changes_before_stable_until(f: EntryFacts, as_of: date) -> None:
    """What the nightly run relies on to skip entries: the result holds until stable_until."""
    r = classify(f, as_of)
    end = r.stable_until or as_of + timedelta(days=1000)
    step = max(1, (end - as_of).days // 25)
    d = as_of
    while d < end:
        assert classify(f, d).key == r.key, d
        d += timedelta(days=step)
    last = end - timedelta(days=1)
    if last >= as_of:
        assert classify(f, last).key == r.key


@given(st.integers(0, 9_999_999), st.sampled_from(["ABC", "3BZ", "B7Q", "002", "605"]))
def test_every_generated_entry_number_is_valid(serial: int, filer: str) -> None:
    assert rules.valid_entry_number(entry_number(filer, serial))


# ---------------------------------------------------------------- 2026.12 boundaries
# The day before and the day of each date of the ruleset: only that rule's outcome changes there.
@settings(max_examples=300, deadline=None)
@given(entry_facts())
def test_nothing_but_the_cape_opening_changes_between_april_19_and_20(f: EntryFacts) -> None:
    before, on = classify(f, rules.CAPE_OPENS - timedelta(days=1)), classify(f, rules.CAPE_OPENS)
    if before.rule == "R14":
        assert before.reasons[0] == "cape_not_open" and before.path == rules.Path.WAIT
        assert on.rule == "R12" and on.path == rules.Path.CAPE_PHASE1
    assert on.rule != "R14"


@settings(max_examples=300, deadline=None)
@given(entry_facts())
def test_warehouse_entries_leave_cape_on_july_7(f: EntryFacts) -> None:
    before = classify(f, rules.WAREHOUSE_EXCLUDED_FROM - timedelta(days=1))
    on = classify(f, rules.WAREHOUSE_EXCLUDED_FROM)
    warehouse = rules.normalize_entry_type(f.entry_type) in rules.WAREHOUSE_ENTRY_TYPES
    assert not any(r == "claim_on_withdrawals" for r in before.reasons)
    if warehouse and on.rule == "R7" and not f.drawback:
        assert on.reasons[1] == "claim_on_withdrawals"
    if not warehouse:
        assert "claim_on_withdrawals" not in on.reasons


@settings(max_examples=300, deadline=None)
@given(entry_facts())
def test_cape_phase3_possible_only_from_the_phase_start_and_only_for_plaintiffs(f: EntryFacts) -> None:
    start = rules.COURT_ORDERED_PHASE.starts
    before, on = classify(f, start - timedelta(days=1)), classify(f, start)
    assert "cape_phase3_possible" not in before.reasons
    if on.rule == "R6":
        assert ("cape_phase3_possible" in on.reasons) == f.cit_plaintiff
    else:
        assert "cape_phase3_possible" not in on.reasons


@settings(max_examples=500, deadline=None)
@given(entry_facts(), dates)
def test_urgency_starts_on_the_lead_times_last_day_and_not_the_day_before(f: EntryFacts, as_of: date) -> None:
    """urgent exactly when the path's firm deadline is 0..N days away (N = 14 CAPE, 30 protest, 90 CIT)."""
    r = classify(f, as_of)
    lead = {rules.Path.CAPE_PHASE1: 14, rules.Path.CAPE_PHASE2: 14, rules.Path.PROTEST: 30, rules.Path.CIT: 90}.get(r.path)
    firm = r.deadline is not None and lead is not None and not (r.path == rules.Path.PROTEST and r.protest_deadline_projected)
    if not firm:
        assert not r.urgent and not r.deadline_passed
        return
    assert r.deadline is not None and lead is not None
    left = (r.deadline - as_of).days
    assert r.urgent == (0 <= left <= lead)
    assert r.deadline_passed == (left < 0)
    # the lead time's last day (N days before) is urgent; the day before that is not, unless the path changes
    first = classify(f, r.deadline - timedelta(days=lead))
    if first.path == r.path and first.deadline == r.deadline:
        assert first.urgent
    earlier = classify(f, r.deadline - timedelta(days=lead + 1))
    if earlier.path == r.path and earlier.deadline == r.deadline:
        assert not earlier.urgent
    after = classify(f, r.deadline + timedelta(days=1))
    if after.path == r.path and after.deadline == r.deadline:
        assert after.deadline_passed and not after.urgent
