"""Ruleset 2026.12 (shared/domain/rules.md): the worked examples A-K (as_of 2026-11-22) and every line
changed since 2026.11, each at its boundaries."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from cape import rules
from cape.rules import EntryFacts, classify
from entries.samplegen import entry_number

AS_OF = date(2026, 11, 22)
GOOD = entry_number("ABC", 1)
DAY = timedelta(days=1)


def facts(**kw: object) -> EntryFacts:
    base: dict[str, object] = dict(
        entry_number=GOOD, entry_type="01", ieepa_duty=Decimal("100.00"), liquidation_status="unliquidated",
        entry_date=date(2026, 1, 20), entry_summary_date=date(2026, 1, 28),
    )
    base.update(kw)
    return EntryFacts(**base)  # type: ignore[arg-type]


def test_the_ruleset_is_2026_12() -> None:
    assert rules.RULESET == "2026.12" == classify(facts(), AS_OF).ruleset


# ---------------------------------------------------------------- worked examples A-K
def test_example_a() -> None:
    r = classify(facts(ieepa_duty=Decimal("1200")), AS_OF)
    assert (r.path, r.reasons) == ("cape_phase1", ("unliquidated",))
    assert r.projected_liquidation_date == date(2026, 11, 30)


def test_example_b() -> None:
    r = classify(facts(ieepa_duty=Decimal("500"), liquidation_status="liquidated", liquidation_date=date(2026, 10, 1)), AS_OF)
    assert (r.path, r.reasons, r.days_since_liquidation) == ("cape_phase1", ("within_80_days",), 52)
    assert r.cape_window_closes == date(2026, 12, 19)


def test_example_c() -> None:
    r = classify(facts(entry_type="11", ieepa_duty=Decimal("90"), liquidation_status="liquidated",
                       liquidation_date=date(2026, 8, 1)), AS_OF)
    assert (r.path, r.reasons, r.days_since_liquidation) == ("protest", ("cape_window_passed",), 113)
    assert r.protest_deadline == date(2027, 1, 28)


def test_example_d() -> None:
    r = classify(facts(ieepa_duty=Decimal("0.00")), AS_OF)
    assert (r.path, r.reasons) == ("not_eligible", ("no_ieepa_duty",))


def test_example_e() -> None:
    r = classify(facts(ieepa_duty=Decimal("700"), liquidation_status="liquidated", liquidation_date=date(2026, 3, 1),
                       entry_date=date(2025, 4, 20), entry_summary_date=date(2025, 4, 30)), AS_OF)
    assert (r.path, r.days_since_liquidation) == ("cit", 266)
    assert r.cit_deadline == date(2027, 4, 30) == r.deadline


def test_example_f_type_21_waits_with_claim_on_withdrawals_and_went_to_cape_before_july_7() -> None:
    f = facts(entry_type="21", ieepa_duty=Decimal("40"))
    r = classify(f, AS_OF)
    assert (r.path, r.reasons) == ("wait", ("excluded_type_21", "claim_on_withdrawals"))
    r = classify(f, date(2026, 6, 1))
    assert (r.path, r.reasons) == ("cape_phase1", ("unliquidated", "refund_after_liquidation"))


def test_example_g_type_32_withdrawal_still_goes_to_cape() -> None:
    r = classify(facts(entry_type="32", ieepa_duty=Decimal("60")), AS_OF)
    assert (r.path, r.reasons) == ("cape_phase1", ("unliquidated", "refund_after_liquidation"))


def test_example_h_final_liquidation_of_a_cit_plaintiff() -> None:
    r = classify(facts(ieepa_duty=Decimal("900"), liquidation_status="final", liquidation_date=date(2025, 12, 1),
                       cit_plaintiff=True), AS_OF)
    assert (r.path, r.reasons) == ("cit", ("final_liquidation", "counsel_review", "cape_phase3_possible"))
    assert r.deadline == r.cit_deadline == date(2028, 1, 28)


def test_example_i_surety_paid_needs_review() -> None:
    r = classify(facts(ieepa_duty=Decimal("300"), surety_paid=True), AS_OF)
    assert (r.path, r.reasons, r.rule) == ("needs_review", ("surety_paid",), "R13")


def test_example_j_reason_code_36_is_filed() -> None:
    r = classify(facts(ieepa_duty=Decimal("300"), liquidation_status="liquidated", liquidation_date=date(2026, 10, 1),
                       liquidation_reason_code=36), AS_OF)
    assert (r.path, r.reasons, r.rule, r.deadline) == ("filed", ("cape_liquidated_code36",), "R3", None)


def test_example_k_before_cape_opened_waits() -> None:
    r = classify(facts(ieepa_duty=Decimal("300")), date(2026, 4, 19))
    assert (r.path, r.reasons, r.rule) == ("wait", ("cape_not_open",), "R14")
    assert r.stable_until == date(2026, 4, 20)
    assert classify(facts(ieepa_duty=Decimal("300")), date(2026, 4, 20)).path == "cape_phase1"


# ---------------------------------------------------------------- R3 / R13 order
@pytest.mark.parametrize("code", [36, "36", "036", "36.0", " 36 "])
def test_reason_code_36_is_read_as_a_number(code: object) -> None:
    assert rules.normalize_reason_code(code) == 36
    r = classify(facts(liquidation_reason_code=rules.normalize_reason_code(code)), date(2025, 1, 1))  # any as_of
    assert r.reasons == ("cape_liquidated_code36",)


@pytest.mark.parametrize("code", ["", None, "35", "36.5", "x"])
def test_other_reason_codes_change_nothing(code: object) -> None:
    assert classify(facts(liquidation_reason_code=rules.normalize_reason_code(code)), AS_OF).path == "cape_phase1"


def test_code_36_and_acceptance_come_before_surety_paid_which_comes_before_missing_liquidation_data() -> None:
    assert classify(facts(surety_paid=True, liquidation_reason_code=36), AS_OF).reasons == ("cape_liquidated_code36",)
    assert classify(facts(surety_paid=True, cape_accepted=True), AS_OF).reasons == ("cape_accepted",)
    r = classify(facts(surety_paid=True, liquidation_status="garbage"), AS_OF)
    assert r.reasons == ("surety_paid",)
    assert classify(facts(surety_paid=True, ieepa_duty=Decimal("0")), AS_OF).path == "not_eligible"


# ---------------------------------------------------------------- R6 court-ordered phase
def test_cape_phase3_possible_from_the_phase_start_for_plaintiffs_only() -> None:
    start = rules.COURT_ORDERED_PHASE.starts
    assert start == date(2026, 10, 6)
    f = facts(liquidation_status="final", liquidation_date=date(2025, 12, 1), cit_plaintiff=True)
    assert "cape_phase3_possible" not in classify(f, start - DAY).reasons
    assert classify(f, start - DAY).stable_until == start
    assert "cape_phase3_possible" in classify(f, start).reasons
    assert "cape_phase3_possible" not in classify(facts(liquidation_status="final", liquidation_date=date(2025, 12, 1)),
                                                  start).reasons


def test_the_court_ordered_phase_start_is_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "phase.json"
    p.write_text('{"starts": "2026-11-01", "certain": true, "source": "CIT order"}', encoding="utf-8")
    assert rules.load_court_ordered_phase(p).starts == date(2026, 11, 1)
    assert rules.COURT_ORDERED_PHASE_FILE.name == "court_ordered_phase.json"


def test_a_final_status_with_a_future_date_is_not_liquidated() -> None:
    r = classify(facts(liquidation_status="final", liquidation_date=AS_OF + DAY), AS_OF)
    assert (r.path, r.reasons, r.liquidated) == ("cape_phase1", ("unliquidated",), False)
    assert r.projected_liquidation_date is None


# ---------------------------------------------------------------- R7 warehouse entries 21/22
@pytest.mark.parametrize("entry_type", ["21", "22"])
def test_warehouse_entries_are_excluded_from_july_7(entry_type: str) -> None:
    f = facts(entry_type=entry_type)
    before = classify(f, date(2026, 7, 6))
    assert (before.path, before.reasons) == ("cape_phase1", ("unliquidated", "refund_after_liquidation"))
    assert before.stable_until == date(2026, 7, 7)
    on = classify(f, date(2026, 7, 7))
    assert (on.path, on.reasons) == ("wait", (f"excluded_type_{entry_type}", "claim_on_withdrawals"))
    liq = classify(facts(entry_type=entry_type, liquidation_status="liquidated", liquidation_date=AS_OF - 10 * DAY), AS_OF)
    assert liq.path == "protest"


# ---------------------------------------------------------------- R12 notes
@pytest.mark.parametrize("entry_type", ["03", "07", "7"])
def test_adcvd_types_03_and_07_check_instructions(entry_type: str) -> None:
    assert classify(facts(entry_type=entry_type), AS_OF).reasons == ("unliquidated", "adcvd_check_instructions")


# ---------------------------------------------------------------- exact dates by status
@pytest.mark.parametrize("status", ["unliquidated", "suspended", "extended", "under_review"])
def test_a_not_liquidated_status_ignores_the_reported_liquidation_date(status: str) -> None:
    r = classify(facts(liquidation_status=status, liquidation_date=AS_OF - 100 * DAY), AS_OF)
    assert r.path == "cape_phase1" and r.liquidated is False
    assert r.cape_window_closes is None and r.days_since_liquidation is None
    assert r.projected_liquidation_date == date(2026, 11, 30)
    assert r.protest_deadline == date(2027, 5, 29) and r.protest_deadline_projected


def test_a_liquidated_entry_has_no_projected_liquidation() -> None:
    r = classify(facts(liquidation_status="liquidated", liquidation_date=AS_OF - 10 * DAY), AS_OF)
    assert r.projected_liquidation_date is None and not r.protest_deadline_projected


def test_a_future_liquidation_date_gives_known_dates_not_projected_ones() -> None:
    r = classify(facts(liquidation_status="liquidated", liquidation_date=AS_OF + 5 * DAY), AS_OF)
    assert r.projected_liquidation_date is None
    assert r.cape_window_closes == AS_OF + 84 * DAY and r.protest_deadline == AS_OF + 185 * DAY
    assert not r.protest_deadline_projected


def test_an_unknown_status_has_only_the_cit_deadline() -> None:
    r = classify(facts(liquidation_status="garbage", liquidation_date=AS_OF - 10 * DAY), AS_OF)
    assert r.path == "needs_review"
    assert (r.projected_liquidation_date, r.cape_window_closes, r.protest_deadline, r.days_since_liquidation) == (
        None, None, None, None)
    assert r.cit_deadline == date(2028, 1, 28)


def test_liquidated_without_a_date_has_no_dates_but_the_cit_deadline() -> None:
    r = classify(facts(liquidation_status="liquidated", liquidation_date=None), AS_OF)
    assert (r.projected_liquidation_date, r.cape_window_closes, r.protest_deadline) == (None, None, None)
    assert r.cit_deadline is not None


# ---------------------------------------------------------------- urgency by path
def _protest_due_in(days: int, **kw: object) -> EntryFacts:
    return facts(protest_status="open", liquidation_status="liquidated", liquidation_date=AS_OF + (days - 180) * DAY, **kw)


@pytest.mark.parametrize("days_left,urgent", [(15, False), (14, True), (0, True)])
def test_cape_is_urgent_14_days_ahead(days_left: int, urgent: bool) -> None:
    r = classify(facts(liquidation_status="liquidated", liquidation_date=AS_OF + (days_left - 79) * DAY), AS_OF)
    assert r.path == "cape_phase1" and r.urgent is urgent


@pytest.mark.parametrize("days_left,urgent", [(31, False), (30, True)])
def test_protest_is_urgent_30_days_ahead(days_left: int, urgent: bool) -> None:
    assert classify(_protest_due_in(days_left), AS_OF).urgent is urgent


@pytest.mark.parametrize("days_left,urgent", [(91, False), (90, True), (0, True)])
def test_cit_is_urgent_90_days_ahead(days_left: int, urgent: bool) -> None:
    summary = rules.add_years(AS_OF + days_left * DAY, -2)
    r = classify(facts(liquidation_status="liquidated", liquidation_date=date(2025, 6, 1), entry_date=summary,
                       entry_summary_date=summary), AS_OF)
    assert r.path == "cit" and r.deadline == AS_OF + days_left * DAY and r.urgent is urgent


def test_a_projected_protest_deadline_is_never_urgent_nor_passed() -> None:
    # Unliquidated under protest: the protest deadline is projected (entry date + 494).
    soon = classify(facts(protest_status="open", entry_date=AS_OF - 480 * DAY, entry_summary_date=None), AS_OF)
    assert soon.path == "protest" and soon.protest_deadline_projected and soon.deadline == AS_OF + 14 * DAY
    assert not soon.urgent and "urgent" not in soon.reasons
    gone = classify(facts(protest_status="open", entry_date=AS_OF - 500 * DAY, entry_summary_date=None), AS_OF)
    assert not gone.deadline_passed and "deadline_passed" not in gone.reasons


# ---------------------------------------------------------------- spellings
@pytest.mark.parametrize("raw,code", [("Pending", "open"), ("FILED", "open"), ("Allowed", "approved"),
                                      ("granted", "approved"), ("", "none"), ("Denied", "denied")])
def test_protest_status_spellings(raw: str, code: str) -> None:
    assert rules.normalize_protest_status(raw) == code


def test_a_pending_protest_holds_the_entry() -> None:
    assert classify(facts(protest_status="Pending"), AS_OF).path == "protest"
    assert classify(facts(protest_status="Granted", liquidation_status="liquidated",
                          liquidation_date=AS_OF - 5 * DAY), AS_OF).path == "cape_phase1"


# ---------------------------------------------------------------- FTZ type 06
def test_ftz_entries_get_psc_blocked_instead_of_psc_then_refile() -> None:
    r = classify(facts(entry_type="06", cape_rejections=("INVALID HTS",)), AS_OF)
    assert r.reasons == ("unliquidated", "cape_rejected:INVALID HTS", "psc_blocked_ftz")
    r = classify(facts(entry_type="01", cape_rejections=("INVALID HTS",)), AS_OF)
    assert r.reasons[-1] == "psc_then_refile"


# ---------------------------------------------------------------- explanations
def test_no_explanation_or_source_cites_our_own_files() -> None:
    codes = list(rules.REASONS) + ["cape_rejected:INVALID HTS"]
    for code in codes:
        rule, source, text = rules.explain(code)
        for word in ("README", "rules.md", "seed", ".py", "§"):
            assert word not in source and word not in text, (code, word)
        assert source, code


def test_every_reason_code_names_a_public_source() -> None:
    public = ("CSMS #", "U.S.C.", "CFR", "ACE", "CIT", "Form 7501", "guidance")
    for code, (_, source, _) in rules.REASONS.items():
        assert any(p in source for p in public), code
