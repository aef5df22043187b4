"""Ruleset 2026.12 (shared/domain/rules.md): every rule, every boundary. The worked examples A-K and the
lines changed since 2026.11 are in test_rules_2026_12.py."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from cape import rules
from cape.rules import EntryFacts, classify
from entries.samplegen import entry_number

AS_OF = date(2026, 11, 22)
GOOD = entry_number("ABC", 1)


def facts(**kw: object) -> EntryFacts:
    base: dict[str, object] = dict(
        entry_number=GOOD, entry_type="01", ieepa_duty=Decimal("100.00"), liquidation_status="unliquidated",
        entry_date=date(2026, 1, 20), entry_summary_date=date(2026, 1, 28),
    )
    base.update(kw)
    return EntryFacts(**base)  # type: ignore[arg-type]


def liquidated_days_ago(days: int, **kw: object) -> EntryFacts:
    return facts(liquidation_status="liquidated", liquidation_date=AS_OF - timedelta(days=days), **kw)


# ---------------------------------------------------------------- worked examples (as_of 2026-11-22)
def test_example_a_unliquidated_goes_to_cape_phase1_with_projected_liquidation() -> None:
    r = classify(facts(ieepa_duty=Decimal("1200")), AS_OF)
    assert (r.path, r.reasons) == ("cape_phase1", ("unliquidated",))
    assert r.projected_liquidation_date == date(2026, 11, 30)
    assert r.protest_deadline == date(2027, 5, 29) and r.protest_deadline_projected  # entry date + 494


def test_example_b_liquidated_52_days_ago_is_within_80_days() -> None:
    r = classify(facts(ieepa_duty=Decimal("500"), liquidation_status="liquidated", liquidation_date=date(2026, 10, 1)), AS_OF)
    assert r.days_since_liquidation == 52
    assert (r.path, r.reasons) == ("cape_phase1", ("within_80_days",))
    assert r.cape_window_closes == date(2026, 12, 19) == r.deadline
    assert r.protest_deadline == date(2027, 3, 30) and not r.protest_deadline_projected
    assert r.projected_liquidation_date is None


def test_example_c_type_11_liquidated_113_days_ago_goes_to_protest() -> None:
    r = classify(facts(entry_type="11", ieepa_duty=Decimal("90"), liquidation_status="liquidated",
                       liquidation_date=date(2026, 8, 1)), AS_OF)
    assert r.days_since_liquidation == 113
    assert (r.path, r.reasons) == ("protest", ("cape_window_passed",))
    assert r.protest_deadline == date(2027, 1, 28) == r.deadline


def test_example_d_no_positive_ieepa_duty_is_not_eligible() -> None:
    # Only 9903.01.32 at $0 and 9903.88.15 (Section 301) at $300: ieepa_duty is 0 (entries/hts sums it).
    r = classify(facts(ieepa_duty=Decimal("0.00")), AS_OF)
    assert (r.path, r.reasons, r.deadline) == ("not_eligible", ("no_ieepa_duty",), None)


def test_example_e_liquidated_266_days_ago_goes_to_cit_with_the_conservative_deadline() -> None:
    r = classify(facts(ieepa_duty=Decimal("700"), liquidation_status="liquidated", liquidation_date=date(2026, 3, 1),
                       entry_date=date(2025, 4, 20), entry_summary_date=date(2025, 4, 30)), AS_OF)
    assert r.days_since_liquidation == 266
    assert (r.path, r.reasons) == ("cit", ("final_liquidation", "counsel_review"))
    assert r.cit_deadline == date(2027, 4, 30) == r.deadline


# ---------------------------------------------------------------- R1
@pytest.mark.parametrize("raw", ["ABC00000010", "abc-0000001-0", '="ABC00000010"', " ABC 0000001 0 ", "'ABC00000010", '"ABC00000010"'])
def test_r1_accepts_repairable_spellings(raw: str) -> None:
    assert GOOD == "ABC00000010"
    assert classify(facts(entry_number=raw), AS_OF).path == "cape_phase1"


def test_r1_repairs_excel_damage() -> None:
    assert classify(facts(entry_number="261103162"), AS_OF).path == "cape_phase1"
    assert classify(facts(entry_number="6.0576069342E10"), AS_OF).path == "cape_phase1"


@pytest.mark.parametrize("raw", ["ABC00000018", "ABC0000001", "ABC000000100", "", "AB#00000010"])
def test_r1_wrong_check_digit_or_shape_needs_review(raw: str) -> None:
    r = classify(facts(entry_number=raw, ieepa_duty=Decimal("0")), AS_OF)
    assert (r.path, r.reasons[0], r.rule) == ("needs_review", "bad_entry_number", "R1")


# ---------------------------------------------------------------- R2
@pytest.mark.parametrize("duty", ["0", "-5.00", "0.00"])
def test_r2_zero_or_negative_ieepa_duty_is_not_eligible(duty: str) -> None:
    assert classify(facts(ieepa_duty=Decimal(duty)), AS_OF).path == "not_eligible"


def test_r2_a_cent_is_eligible() -> None:
    assert classify(facts(ieepa_duty=Decimal("0.01")), AS_OF).path == "cape_phase1"


def test_not_eligible_entries_do_not_get_no_ach_refund() -> None:
    assert classify(facts(ieepa_duty=Decimal("0"), has_refund_route=False), AS_OF).reasons == ("no_ieepa_duty",)


# ---------------------------------------------------------------- R3 and CAPE history
def test_r3_accepted_is_filed_before_any_deadline_rule() -> None:
    r = classify(liquidated_days_ago(300, cape_accepted=True), AS_OF)
    assert (r.path, r.reasons, r.deadline) == ("filed", ("cape_accepted",), None)


@pytest.mark.parametrize("error", ["INVALID HTS", "HTS RELATIONSHIP MISMATCH", "HTS RELATIONSHIP/SEQUENCE MISMATCH"])
def test_rejections_fixed_by_a_psc_say_so(error: str) -> None:
    r = classify(facts(cape_rejections=(error,)), AS_OF)
    assert r.path == "cape_phase1"
    assert r.reasons == ("unliquidated", f"cape_rejected:{error}", "psc_then_refile")


def test_other_rejections_carry_the_cbp_text_without_psc_advice() -> None:
    r = classify(liquidated_days_ago(10, cape_rejections=("ENTRY ON DRAWBACK", "ENTRY ON DRAWBACK")), AS_OF)
    assert r.reasons == ("within_80_days", "cape_rejected:ENTRY ON DRAWBACK")


def test_a_rejection_followed_by_acceptance_is_not_refiled() -> None:
    r = classify(facts(cape_accepted=True, cape_rejections=("INVALID HTS",)), AS_OF)
    assert r.reasons == ("cape_accepted",)


# ---------------------------------------------------------------- R4 and status spellings
def test_the_ruleset_reads_status_codes_only() -> None:
    # ES-003 spellings are mapped on ingestion (entries.ingest.repairs.normalise_liquidation_status); a spelling that
    # reaches the ruleset as it is counts as unknown.
    assert classify(facts(liquidation_status="Liquidated", liquidation_date=AS_OF - timedelta(days=30)), AS_OF).rule == "R4"
    assert classify(facts(liquidation_status="liquidated", liquidation_date=AS_OF - timedelta(days=30)), AS_OF).rule != "R4"


def test_r4_unknown_status_needs_review() -> None:
    r = classify(facts(liquidation_status="Pending"), AS_OF)
    assert (r.path, r.reasons[0], r.rule) == ("needs_review", "liquidation_data_missing", "R4")


@pytest.mark.parametrize("status", ["liquidated", "final"])
def test_r4_liquidated_or_final_without_a_date_needs_review(status: str) -> None:
    r = classify(facts(liquidation_status=status, liquidation_date=None), AS_OF)
    assert (r.path, r.reasons[0]) == ("needs_review", "liquidation_data_missing")


@pytest.mark.parametrize("status", ["suspended", "extended", "under_review"])
def test_not_liquidated_statuses_go_to_cape_with_refund_after_liquidation(status: str) -> None:
    r = classify(facts(liquidation_status=status), AS_OF)
    assert (r.path, r.reasons) == ("cape_phase1", ("unliquidated", "refund_after_liquidation"))


# ---------------------------------------------------------------- R5 protests
@pytest.mark.parametrize("status", ["open", "suspended", "Open"])
def test_r5_open_or_suspended_protest_goes_to_protest(status: str) -> None:
    r = classify(liquidated_days_ago(100, protest_status=status), AS_OF)
    assert (r.path, r.reasons) == ("protest", ("protest_pending",))


def test_r5_a_protest_number_without_status_counts_as_open() -> None:
    r = classify(facts(protest_number="2704-26-100123"), AS_OF)
    assert (r.path, r.reasons) == ("protest", ("protest_pending",))


def test_r5_offers_withdrawal_while_the_cape_window_is_open() -> None:
    assert classify(liquidated_days_ago(79, protest_status="open"), AS_OF).reasons == (
        "protest_pending", "withdraw_protest_option")
    assert classify(liquidated_days_ago(80, protest_status="open"), AS_OF).reasons == ("protest_pending",)


def test_r5_beats_final_liquidation() -> None:
    assert classify(liquidated_days_ago(400, protest_status="suspended"), AS_OF).path == "protest"


@pytest.mark.parametrize("status", ["denied", "approved", "none"])
def test_closed_protests_do_not_hold_the_entry(status: str) -> None:
    assert classify(liquidated_days_ago(10, protest_status=status), AS_OF).path == "cape_phase1"
    assert classify(liquidated_days_ago(200, protest_status=status), AS_OF).path == "cit"


# ---------------------------------------------------------------- R6 / R9 / R12 day boundaries
@pytest.mark.parametrize(
    "days,path,reason",
    [(0, "cape_phase1", "within_80_days"), (79, "cape_phase1", "within_80_days"), (80, "protest", "cape_window_passed"),
     (180, "protest", "cape_window_passed"), (181, "cit", "final_liquidation")],
)
def test_day_boundaries_79_80_180_181(days: int, path: str, reason: str) -> None:
    r = classify(liquidated_days_ago(days), AS_OF)
    assert (r.path, r.reasons[0], r.days_since_liquidation) == (path, reason, days)


def test_the_cape_window_closes_on_day_79() -> None:
    r = classify(liquidated_days_ago(79), AS_OF)
    assert r.cape_window_closes == AS_OF and r.urgent and not r.deadline_passed


def test_r6_final_status_is_cit_whatever_the_days() -> None:
    r = classify(facts(liquidation_status="final", liquidation_date=AS_OF - timedelta(days=30)), AS_OF)
    assert (r.path, r.reasons) == ("cit", ("final_liquidation", "counsel_review"))


def test_a_liquidation_date_in_the_future_counts_as_not_liquidated() -> None:
    r = classify(facts(liquidation_status="liquidated", liquidation_date=AS_OF + timedelta(days=3)), AS_OF)
    assert (r.path, r.reasons, r.liquidated) == ("cape_phase1", ("unliquidated",), False)
    assert r.cape_window_closes == AS_OF + timedelta(days=82)
    assert r.protest_deadline == AS_OF + timedelta(days=183) and not r.protest_deadline_projected
    assert r.stable_until == AS_OF + timedelta(days=3)  # it liquidates then
    same_day = classify(facts(liquidation_status="liquidated", liquidation_date=AS_OF), AS_OF)
    assert same_day.reasons == ("within_80_days",) and same_day.liquidated


def test_a_future_liquidation_date_does_not_send_an_excluded_type_to_protest() -> None:
    r = classify(facts(entry_type="23", liquidation_status="liquidated", liquidation_date=AS_OF + timedelta(days=1)), AS_OF)
    assert r.path == "wait"


# ---------------------------------------------------------------- R7 exclusions
@pytest.mark.parametrize("entry_type", ["08", "09", "23", "47", "8", "9"])
def test_r7_excluded_types_wait_until_liquidated_then_protest(entry_type: str) -> None:
    code = f"excluded_type_{entry_type.zfill(2)}"
    r = classify(facts(entry_type=entry_type), AS_OF)
    assert (r.path, r.reasons) == ("wait", (code,))
    r = classify(liquidated_days_ago(30, entry_type=entry_type), AS_OF)
    assert (r.path, r.reasons, r.deadline) == ("protest", (code,), r.protest_deadline)


def test_r7_drawback() -> None:
    assert classify(facts(drawback=True), AS_OF).reasons == ("drawback",)
    assert classify(liquidated_days_ago(10, drawback=True), AS_OF).path == "protest"
    assert classify(liquidated_days_ago(200, drawback=True), AS_OF).path == "cit"  # R6 comes first


# ---------------------------------------------------------------- R8 / R10 / R11 reconciliation
def test_r8_recon_with_type_09_filed() -> None:
    assert classify(facts(recon_flag=True, type09_filed=True), AS_OF).reasons == ("recon_filed_future_phase",)
    assert classify(facts(recon_flag=True, type09_filed=True), AS_OF).path == "wait"
    assert classify(liquidated_days_ago(20, recon_flag=True, type09_filed=True), AS_OF).path == "protest"


def test_type_09_filed_without_recon_flag_changes_nothing() -> None:
    assert classify(facts(type09_filed=True), AS_OF).path == "cape_phase1"


@pytest.mark.parametrize("entry_type", ["01", "02", "06", "1", "2", "6"])
def test_r10_recon_lane_opens_on_2026_06_29(entry_type: str) -> None:
    f = facts(recon_flag=True, entry_type=entry_type)
    assert classify(f, date(2026, 6, 28)).reasons == ("recon_lane_unavailable",)
    assert classify(f, date(2026, 6, 28)).path == "wait"
    assert classify(f, date(2026, 6, 28)).stable_until == date(2026, 6, 29)
    r = classify(f, date(2026, 6, 29))
    assert (r.path, r.reasons) == ("cape_phase2", ("recon_lane",))


def test_r11_recon_lane_unavailable_for_other_types() -> None:
    r = classify(facts(recon_flag=True, entry_type="11"), AS_OF)
    assert (r.path, r.reasons) == ("wait", ("recon_lane_unavailable",))


def test_recon_entries_past_the_cape_window_go_to_protest() -> None:
    assert classify(liquidated_days_ago(100, recon_flag=True), AS_OF).path == "protest"
    r = classify(liquidated_days_ago(70, recon_flag=True), AS_OF)
    assert (r.path, r.deadline) == ("cape_phase2", r.cape_window_closes)


# ---------------------------------------------------------------- R12 notes
@pytest.mark.parametrize("entry_type", ["31", "32", "34", "38"])
def test_warehouse_withdrawal_types_refund_after_liquidation(entry_type: str) -> None:
    assert classify(facts(entry_type=entry_type), AS_OF).reasons == ("unliquidated", "refund_after_liquidation")


def test_type_03_asks_to_check_adcvd_instructions() -> None:
    assert classify(facts(entry_type="3"), AS_OF).reasons == ("unliquidated", "adcvd_check_instructions")
    assert classify(liquidated_days_ago(5, entry_type="03"), AS_OF).reasons == ("within_80_days", "adcvd_check_instructions")


# ---------------------------------------------------------------- urgency, ACH, derived dates
@pytest.mark.parametrize("days_left,urgent,passed", [(31, False, False), (30, True, False), (0, True, False), (-1, False, True)])
def test_protest_urgent_within_30_days_and_deadline_passed(days_left: int, urgent: bool, passed: bool) -> None:
    # protest path: deadline = liquidation + 180
    r = classify(facts(protest_status="open", liquidation_status="liquidated",
                       liquidation_date=AS_OF + timedelta(days=days_left - 180)), AS_OF)
    assert (r.urgent, r.deadline_passed) == (urgent, passed)
    assert ("urgent" in r.reasons, "deadline_passed" in r.reasons) == (urgent, passed)
    assert r.path == "protest"  # a passed deadline never changes the path


def test_cit_urgency_uses_the_cit_deadline() -> None:
    r = classify(liquidated_days_ago(300, entry_summary_date=AS_OF - timedelta(days=365 * 2 - 10)), AS_OF)
    assert r.path == "cit" and r.urgent and r.reasons[-1] == "urgent"


def test_no_ach_refund_is_added_last() -> None:
    r = classify(liquidated_days_ago(75, has_refund_route=False), AS_OF)
    assert r.reasons == ("within_80_days", "urgent", "no_ach_refund")


def test_cit_deadline_falls_back_to_entry_date_and_handles_29_february() -> None:
    assert classify(facts(entry_summary_date=None), AS_OF).cit_deadline == date(2028, 1, 20)
    assert rules.add_years(date(2024, 2, 29), 2) == date(2026, 2, 28)


def test_every_reason_code_any_rule_emits_is_explained() -> None:
    for rule in rules.RULES:
        for code in rule.reasons:
            assert code in rules.REASONS, code
            assert rules.REASONS[code][0] in (rule.id, rules.EXTRA, "R6")
    assert rules.explain("cape_rejected:INVALID HTS")[2].endswith("CBP said: INVALID HTS")
    assert [r.id for r in rules.RULES] == ["R1", "R2", "R3", "R13", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "R11",
                                           "R14", "R12"]
    assert all(r.source for r in rules.RULES)


@pytest.mark.parametrize("code", ["cape_rejected:INVALID HTS", "cape_rejected", "psc_then_refile", "psc_blocked_ftz"])
def test_cape_rejection_reasons_are_explained_as_extra_reasons_not_rule_r3(code: str) -> None:
    rule, source, text = rules.explain(code)
    assert rule == rules.EXTRA and rule != "R3"
    assert "CSMS #" in source and rules.RULES_BY_ID["R3"].source not in source


def test_the_cape_rejection_explanations_say_what_happened_and_what_to_do() -> None:
    rule, source, text = rules.explain("cape_rejected:HTS RELATIONSHIP MISMATCH")
    assert text == ("CBP rejected this entry on a CAPE declaration with the error shown. The rejection does not decide "
                    "the path: the entry is back on the path the rules give it today. CBP said: HTS RELATIONSHIP MISMATCH")
    assert source == "CBP's error text from the ACE CAPE Claim Details (CBP CAPE guidance, CSMS #67923154)"
    rule, source, text = rules.explain("psc_then_refile")
    assert text == ("CBP's error is one a post-summary correction fixes: correct the HTS lines in ACE first, then put "
                    "the entry on a new declaration.")
    assert "INVALID HTS and HTS RELATIONSHIP (SEQUENCE) MISMATCH" in source
    # R3 itself still explains an accepted declaration.
    assert rules.explain("cape_accepted")[0] == "R3"


def test_every_extra_reason_has_the_extra_rule_id() -> None:
    for code in ("urgent", "deadline_passed", "no_ach_refund", "cape_rejected", "psc_then_refile", "psc_blocked_ftz"):
        assert rules.explain(code)[0] == rules.EXTRA, code
        assert rules.explain(code)[1], code
