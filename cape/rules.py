"""Classification ruleset 2026.12: every entry to exactly one refund path, with its deadlines.

Pure functions over plain data (no ORM, no clock): the same ``EntryFacts`` and the same ``as_of``
always give the same ``Result``. The specification is shared/domain/rules.md; each rule below
carries its id, its legal/CBP source and its reason codes, and every reason code has a plain-words
explanation in ``REASONS`` (shown on the entry page).

Decisions where rules.md is silent (a careful customs lawyer's reading):
* A liquidation date after ``as_of`` counts as not liquidated (rules.md, R12 note) for every rule,
  but the date still drives ``cape_window_closes`` and ``protest_deadline`` (a known date, not a
  projected one, so it can make an entry urgent).
* With a not-liquidated status the report's Liquidation Date is ignored everywhere (2026.12), and
  with status unknown only ``cit_deadline`` is computed (``days_since_liquidation`` too is null).
* CAPE rejections are reported only while the entry is not on an accepted declaration: an entry
  accepted later must not be told to correct and refile.
* ``no_ach_refund`` is added on every path except ``not_eligible`` (no refund is coming there).
* ``stable_until`` covers the path, the reasons, the deadline and the urgency flags. The day counter
  (``days_since_liquidation``) and the interest estimate are stated "as of" ``as_of``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path as _Path

from entries import entrynumber
from entries.spellings import normalize_protest_status, normalize_reason_code  # noqa: F401  (re-exported)

RULESET = "2026.12"

# ---------------------------------------------------------------- constants with their sources
# 19 U.S.C. 1504 / CBP practice: liquidation on the 314th day after entry (domain README §7).
LIQUIDATION_DAY = 314
# CAPE takes liquidated entries filed fewer than 80 days after liquidation, so the last day is +79
# (CBP CAPE guidance; on 2026-04-20 entries liquidated after 2026-01-30 were eligible).
CAPE_WINDOW_DAYS = 80
# How every page, PDF and calendar entry states the CAPE window (ruleset 2026.12 wording).
CAPE_WINDOW_WORDS = "liquidation + 79 days (filed fewer than 80 days after liquidation)"
# 19 U.S.C. 1514(c)(3): protest within 180 days after liquidation.
PROTEST_DAYS = 180
# 28 U.S.C. 2636(i): two years after the claim accrues (conservative accrual: entry summary date).
CIT_YEARS = 2
# CSMS #69035485: reconciliation-flagged entries (types 01, 02, 06; type 09 not filed) from 2026-06-29.
RECON_LANE_OPENS = date(2026, 6, 29)
RECON_LANE_TYPES = frozenset({"01", "02", "06"})
# CAPE exclusions (CBP CAPE guidance, CSMS #67923154 and the CAPE FAQ): 08 duty deferral, 09
# reconciliation summary, 23 TIB, 47 drawback.
CAPE_EXCLUDED_TYPES = frozenset({"08", "09", "23", "47"})
# Warehouse and warehouse-withdrawal types: the refund follows liquidation of the withdrawal.
WAREHOUSE_TYPES = frozenset({"21", "22", "31", "32", "34", "38"})
# Warehouse withdrawals: CAPE takes them, the refund follows liquidation of the withdrawal (CSMS #69127837).
WITHDRAWAL_TYPES = frozenset({"31", "32", "34", "38"})
# CSMS #69127837: warehouse entries (types 21, 22) "ENTRY TYPE NOT ALLOWED" on a CAPE declaration from
# 2026-07-07; the claim is made on their withdrawals (31, 32, 34, 38), which CAPE still takes.
WAREHOUSE_ENTRY_TYPES = frozenset({"21", "22"})
WAREHOUSE_EXCLUDED_FROM = date(2026, 7, 7)
# CBP CAPE guidance (CSMS #67923154): CAPE Phase 1 opened on 2026-04-20; before that no CAPE path.
CAPE_OPENS = date(2026, 4, 20)
# Types 03 (AD/CVD) and 07 (AD/CVD with quota): CAPE rejects AD/CVD entries whose Commerce liquidation
# instructions are out and are pending liquidation (CBP CAPE guidance, CSMS #67923154).
ADCVD_TYPES = frozenset({"03", "07"})
# Foreign-trade-zone consumption entries: ACE error F883 since 2026-08-21 (CSMS #69635410), no
# post-summary correction may modify an IEEPA HTS on them.
FTZ_TYPE = "06"
# Liquidation Reason Code 36 ("CAPE"): CBP's record that the entry was refunded through CAPE (ACE Entry
# Summary Query, liquidation reason codes).
CAPE_LIQUIDATION_REASON = 36
# Urgency lead time by path (rules.md 2026.12). CAPE 14 days: the filing takes a declaration in ACE.
# Protest 30 days: 19 U.S.C. 1514 protest in the ACE Protest Module or on CBP Form 19 needs the
# entries' facts gathered. CIT 90 days: a court action under 28 U.S.C. 1581(i) needs counsel; the
# earliest 28 U.S.C. 2636(i) deadlines (summary date + 2 years) fall from 2027-02-04.
URGENT_DAYS_CAPE = 14
URGENT_DAYS_PROTEST = 30
URGENT_DAYS_CIT = 90
# CBP CAPE error messages fixed by a post-summary correction, then a new declaration (README §6).
PSC_ERRORS = frozenset({"INVALID HTS", "HTS RELATIONSHIP MISMATCH", "HTS RELATIONSHIP/SEQUENCE MISMATCH"})


@dataclass(frozen=True)
class CourtOrderedPhase:
    """The CAPE phase for finally liquidated entries of CIT plaintiffs: its start is uncertain (one source),
    so it is data (cape/data/court_ordered_phase.json), not code."""

    starts: date
    certain: bool
    source: str


def load_court_ordered_phase(path: _Path | None = None) -> CourtOrderedPhase:
    data = json.loads((path or COURT_ORDERED_PHASE_FILE).read_text(encoding="utf-8"))
    return CourtOrderedPhase(starts=date.fromisoformat(data["starts"]), certain=bool(data["certain"]),
                             source=str(data["source"]))


COURT_ORDERED_PHASE_FILE = _Path(__file__).resolve().parent / "data" / "court_ordered_phase.json"
COURT_ORDERED_PHASE = load_court_ordered_phase()


class Path:
    CAPE_PHASE1 = "cape_phase1"
    CAPE_PHASE2 = "cape_phase2"
    PROTEST = "protest"
    CIT = "cit"
    WAIT = "wait"
    FILED = "filed"
    NOT_ELIGIBLE = "not_eligible"
    NEEDS_REVIEW = "needs_review"


CAPE_PATHS = (Path.CAPE_PHASE1, Path.CAPE_PHASE2)
PATHS = (
    Path.CAPE_PHASE1, Path.CAPE_PHASE2, Path.PROTEST, Path.CIT, Path.WAIT, Path.FILED, Path.NOT_ELIGIBLE,
    Path.NEEDS_REVIEW,
)

# ---------------------------------------------------------------- liquidation status spellings
UNLIQUIDATED, LIQUIDATED, SUSPENDED, EXTENDED, UNDER_REVIEW, FINAL, UNKNOWN = (
    "unliquidated", "liquidated", "suspended", "extended", "under_review", "final", "unknown",
)
NOT_LIQUIDATED_STATUSES = frozenset({UNLIQUIDATED, SUSPENDED, EXTENDED, UNDER_REVIEW})
# The seven codes the ruleset reads. How an ES-003 spells them (rules.md "Inputs": "Open", "Closed",
# "Finally Liquidated", ...) is the ES-003 side's business: entries.ingest.repairs.normalise_liquidation_status.
LIQUIDATION_STATUSES = frozenset({UNLIQUIDATED, LIQUIDATED, SUSPENDED, EXTENDED, UNDER_REVIEW, FINAL, UNKNOWN})
# How an ES-003 or a facts file spells a protest status and a liquidation reason code is read on the entries
# side (entries.spellings); the ruleset reads the codes. Re-exported here (rules.normalize_*).


def normalize_entry_type(raw: str | None) -> str:
    """Two digits: `1` means `01` (rules.md)."""
    s = (raw or "").strip()
    if s.endswith(".0"):
        s = s[:-2]
    return s.zfill(2) if s.isdigit() and len(s) <= 2 else s


_is_valid = entrynumber.is_valid


def valid_entry_number(raw: str | None) -> bool:
    """R1: an entry number that is, or repairs to, 11 characters with the right check digit (entries.entrynumber,
    README §3)."""
    return _is_valid(raw) or _is_valid(entrynumber.repair(raw))


def add_years(d: date, years: int) -> date:
    """Calendar years; 29 February moves back to the 28th (the conservative, earlier date)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


# ---------------------------------------------------------------- inputs and result
@dataclass(frozen=True, slots=True)
class EntryFacts:
    """Everything the ruleset looks at for one entry (rules.md "Inputs per entry")."""

    entry_number: str
    entry_type: str
    ieepa_duty: Decimal
    liquidation_status: str  # one of LIQUIDATION_STATUSES; anything else counts as unknown
    entry_date: date | None = None
    entry_summary_date: date | None = None
    liquidation_date: date | None = None
    recon_flag: bool = False
    type09_filed: bool = False
    protest_status: str = "none"
    protest_number: str = ""
    drawback: bool = False
    # CAPE history from the product's declarations.
    cape_accepted: bool = False
    cape_rejections: tuple[str, ...] = ()
    # An active ACH refund enrollment, or a 4811 notify party that has one, or a granted paper-check
    # waiver (31 CFR 208.4).
    has_refund_route: bool = True
    importer_number: str = ""
    # 2026.12: a surety, not the importer, paid the IEEPA duty (user-set).
    surety_paid: bool = False
    # ES-003 Liquidation Reason Code (a number; None when the column is absent or blank).
    liquidation_reason_code: int | None = None
    # The IOR is a CIT plaintiff whose importer number was reported for the court-ordered phase (user-set).
    cit_plaintiff: bool = False


@dataclass(frozen=True, slots=True)
class Result:
    path: str
    reasons: tuple[str, ...]
    rule: str
    ruleset: str
    as_of: date
    liquidated: bool  # effectively liquidated on as_of (a future liquidation date does not count)
    projected_liquidation_date: date | None
    cape_window_closes: date | None
    protest_deadline: date | None
    protest_deadline_projected: bool
    cit_deadline: date | None
    days_since_liquidation: int | None
    deadline: date | None  # the path's own deadline
    urgent: bool
    deadline_passed: bool
    stable_until: date | None  # first as_of on which this result could differ; None: only facts change it

    @property
    def key(self) -> tuple[object, ...]:
        """What a stored result must match to be left alone (everything stable_until covers)."""
        return (self.path, self.reasons, self.deadline, self.urgent, self.deadline_passed, self.stable_until)


@dataclass(slots=True)
class _Ctx:
    f: EntryFacts
    as_of: date
    status: str
    entry_type: str
    liquidated: bool
    days: int | None
    protest_status: str


@dataclass(frozen=True)
class Rule:
    id: str
    source: str
    reasons: tuple[str, ...]  # every code the rule can emit
    applies: Callable[[_Ctx], bool]
    decide: Callable[[_Ctx], tuple[str, tuple[str, ...]]]
    summary: str = ""


# ---------------------------------------------------------------- the rules, in decision order
def _excluded(c: _Ctx) -> bool:
    """R7's entry types: always 08, 09, 23, 47; warehouse entries 21, 22 from 2026-07-07 (CSMS #69127837)."""
    t = c.entry_type
    return t in CAPE_EXCLUDED_TYPES or (t in WAREHOUSE_ENTRY_TYPES and c.as_of >= WAREHOUSE_EXCLUDED_FROM)


def _r7_reason(c: _Ctx) -> tuple[str, ...]:
    if c.entry_type in CAPE_EXCLUDED_TYPES:
        return (f"excluded_type_{c.entry_type}",)
    if c.entry_type in WAREHOUSE_ENTRY_TYPES and c.as_of >= WAREHOUSE_EXCLUDED_FROM:
        return (f"excluded_type_{c.entry_type}", "claim_on_withdrawals")
    return ("drawback",)


def _r12_applies(c: _Ctx) -> bool:
    # R4 has already taken unknown statuses and liquidated/final entries without a date, so every entry
    # still here that is not (effectively) liquidated is R12's; a future date counts as not liquidated.
    return not c.liquidated or (c.days is not None and c.days < CAPE_WINDOW_DAYS)


def _r12(c: _Ctx) -> tuple[str, tuple[str, ...]]:
    reasons = ["unliquidated" if not c.liquidated else "within_80_days"]
    t = c.entry_type
    if (c.status in (SUSPENDED, EXTENDED, UNDER_REVIEW) or t in WITHDRAWAL_TYPES
            or (t in WAREHOUSE_ENTRY_TYPES and c.as_of < WAREHOUSE_EXCLUDED_FROM)):
        reasons.append("refund_after_liquidation")
    if t in ADCVD_TYPES:
        reasons.append("adcvd_check_instructions")
    return Path.CAPE_PHASE1, tuple(reasons)


def _r5(c: _Ctx) -> tuple[str, tuple[str, ...]]:
    if c.liquidated and c.days is not None and c.days < CAPE_WINDOW_DAYS:
        return Path.PROTEST, ("protest_pending", "withdraw_protest_option")
    return Path.PROTEST, ("protest_pending",)


def _r6(c: _Ctx) -> tuple[str, tuple[str, ...]]:
    if c.f.cit_plaintiff and c.as_of >= COURT_ORDERED_PHASE.starts:
        return Path.CIT, ("final_liquidation", "counsel_review", "cape_phase3_possible")
    return Path.CIT, ("final_liquidation", "counsel_review")


def _r3(c: _Ctx) -> tuple[str, tuple[str, ...]]:
    return Path.FILED, ("cape_accepted",) if c.f.cape_accepted else ("cape_liquidated_code36",)


RULES: tuple[Rule, ...] = (
    Rule("R1", "CBP entry number format and check digit (CBP Form 7501 instructions, block 1; CBP Directive 3550-079A)", ("bad_entry_number",),
         lambda c: not valid_entry_number(c.f.entry_number),
         lambda c: (Path.NEEDS_REVIEW, ("bad_entry_number",)),
         "Entry number is not 11 characters after repair, or its check digit is wrong"),
    Rule("R2", "CAPE refunds IEEPA duties only: HTS 9903.01.xx and 9903.02.xx lines with a positive duty "
               "(CBP CAPE guidance, CSMS #67923154)", ("no_ieepa_duty",),
         lambda c: c.f.ieepa_duty <= 0,
         lambda c: (Path.NOT_ELIGIBLE, ("no_ieepa_duty",)),
         "No positive IEEPA duty"),
    Rule("R3", "CAPE declaration outcome (ACE CAPE Claim Details); Liquidation Reason Code 36 'CAPE' "
               "(ACE Entry Summary Query)", ("cape_accepted", "cape_liquidated_code36"),
         lambda c: c.f.cape_accepted or c.f.liquidation_reason_code == CAPE_LIQUIDATION_REASON,
         _r3,
         "On an accepted CAPE declaration and not rejected there, or liquidated with reason code 36 (CAPE)"),
    Rule("R13", "Trade guidance: IEEPA duties paid by a surety are not declared in CAPE by the importer",
         ("surety_paid",),
         lambda c: c.f.surety_paid,
         lambda c: (Path.NEEDS_REVIEW, ("surety_paid",)),
         "A surety, not the importer, paid the IEEPA duty"),
    Rule("R4", "Liquidation status and date are needed for every deadline (19 U.S.C. 1504, 1514)",
         ("liquidation_data_missing",),
         lambda c: c.status == UNKNOWN or (c.status in (LIQUIDATED, FINAL) and c.f.liquidation_date is None),
         lambda c: (Path.NEEDS_REVIEW, ("liquidation_data_missing",)),
         "Liquidation status unknown, or liquidated without a liquidation date"),
    Rule("R5", "19 U.S.C. 1514: a timely protest keeps liquidation from becoming final; CAPE rejects "
               "'PROTEST ON ENTRY'", ("protest_pending", "withdraw_protest_option"),
         lambda c: c.protest_status in ("open", "suspended"),
         _r5,
         "A protest is open or suspended"),
    Rule("R6", "19 U.S.C. 1514 (liquidation final after 180 days); 28 U.S.C. 1581(i), 2636(i); court-ordered "
               "CAPE phase for CIT plaintiffs: " + COURT_ORDERED_PHASE.source,
         ("final_liquidation", "counsel_review", "cape_phase3_possible"),
         lambda c: c.liquidated and (c.status == FINAL or (c.days is not None and c.days > PROTEST_DAYS)),
         _r6,
         "Finally liquidated, or liquidated more than 180 days ago"),
    Rule("R7", "CAPE exclusions: entry types 08, 09, 23, 47 and entries on drawback (CBP CAPE guidance, "
               "CSMS #67923154; 'ENTRY ON DRAWBACK'); warehouse entries 21, 22 from 2026-07-07 (CSMS #69127837, "
               "'ENTRY TYPE NOT ALLOWED')",
         tuple(f"excluded_type_{t}" for t in sorted(CAPE_EXCLUDED_TYPES | WAREHOUSE_ENTRY_TYPES))
         + ("claim_on_withdrawals", "drawback"),
         lambda c: _excluded(c) or c.f.drawback,
         lambda c: (Path.PROTEST if c.liquidated else Path.WAIT, _r7_reason(c)),
         "Entry type CAPE does not take, or drawback claimed"),
    Rule("R8", "CSMS #69035485: CAPE takes recon-flagged entries only before the type 09 is filed",
         ("recon_filed_future_phase",),
         lambda c: c.f.recon_flag and c.f.type09_filed,
         lambda c: (Path.PROTEST if c.liquidated else Path.WAIT, ("recon_filed_future_phase",)),
         "Reconciliation flagged and the type 09 reconciliation already filed"),
    Rule("R9", "CAPE 80-day window (CBP CAPE guidance, CSMS #67923154; 19 U.S.C. 1501) and 19 U.S.C. 1514(c)(3)",
         ("cape_window_passed",),
         lambda c: c.liquidated and c.days is not None and CAPE_WINDOW_DAYS <= c.days <= PROTEST_DAYS,
         lambda c: (Path.PROTEST, ("cape_window_passed",)),
         "Liquidated 80 to 180 days ago"),
    Rule("R10", "CSMS #69035485: reconciliation lane open from 2026-06-29 for types 01, 02, 06", ("recon_lane",),
         lambda c: c.f.recon_flag and c.entry_type in RECON_LANE_TYPES and c.as_of >= RECON_LANE_OPENS,
         lambda c: (Path.CAPE_PHASE2, ("recon_lane",)),
         "Reconciliation flagged, type 09 not filed, type 01/02/06, lane open"),
    Rule("R11", "CSMS #69035485 (lane limited to types 01, 02, 06 from 2026-06-29)", ("recon_lane_unavailable",),
         lambda c: c.f.recon_flag,
         lambda c: (Path.WAIT, ("recon_lane_unavailable",)),
         "Reconciliation flagged, lane not available for this entry yet"),
    Rule("R14", "CBP CAPE guidance, CSMS #67923154: CAPE Phase 1 opened on 2026-04-20", ("cape_not_open",),
         lambda c: c.as_of < CAPE_OPENS and _r12_applies(c),
         lambda c: (Path.WAIT, ("cape_not_open",)),
         "CAPE not open yet (before 2026-04-20) for an entry CAPE Phase 1 would take"),
    Rule("R12", "CAPE Phase 1 (CBP CAPE guidance, CSMS #67923154): unliquidated entries and entries "
                "liquidated fewer than 80 days before filing",
         ("unliquidated", "within_80_days", "refund_after_liquidation", "adcvd_check_instructions"),
         _r12_applies,
         _r12,
         "Not liquidated, or liquidated fewer than 80 days ago"),
)
RULES_BY_ID = {r.id: r for r in RULES}

# ---------------------------------------------------------------- reasons in plain words
# code -> (rule id, source, explanation). The source is what a user can look up (a CSMS number, a CFR or
# U.S.C. section, a court and date); it never names our own files. Dynamic `cape_rejected:<text>` uses
# the "cape_rejected" entry. Reasons added to whatever path a rule chose ("extra" reasons: rejections,
# urgency, the refund route) are no rule of the decision order, so their rule id is EXTRA.
EXTRA = "extra"
_CAPE_GUIDANCE = "CBP CAPE guidance (CSMS #67923154)"
REASONS: dict[str, tuple[str, str, str]] = {
    "bad_entry_number": ("R1", RULES_BY_ID["R1"].source,
                         "The entry number is not 11 letters/digits even after undoing Excel damage, or its check "
                         "digit (the last character) is wrong. Check it against the 7501 before filing."),
    "no_ieepa_duty": ("R2", RULES_BY_ID["R2"].source,
                      "No IEEPA duty was paid on this entry (no 9903.01/9903.02 line with a positive duty amount). "
                      "Section 301, 232 and 122 duties are not refunded through CAPE."),
    "cape_accepted": ("R3", "ACE CAPE Claim Details (CBP CAPE guidance, CSMS #67923154)",
                      "The entry is on a CAPE declaration that CBP accepted. Watch for the refund; nothing to file."),
    "cape_liquidated_code36": ("R3", "ACE Entry Summary Query: Liquidation Reason Code 36 (CAPE)",
                               "CBP liquidated this entry with reason code 36 (CAPE): the refund already went "
                               "through CAPE. Nothing to file; watch for the refund in ACE."),
    "surety_paid": ("R13", "Trade guidance on CAPE declarations: duties a surety paid are not the importer's to "
                           "declare; 19 U.S.C. 1505(c)",
                    "A surety, not the importer, paid the IEEPA duty on this entry. Do not declare it in CAPE "
                    "before the importer and the surety agree who is owed the refund; ask counsel or the surety."),
    "liquidation_data_missing": ("R4", RULES_BY_ID["R4"].source,
                                 "We do not know whether or when this entry liquidated. Add the Liquidation Status "
                                 "and Liquidation Date columns to the ES-003 report and upload it again."),
    "protest_pending": ("R5", RULES_BY_ID["R5"].source,
                        "A protest (CBP Form 19) is open or suspended. CAPE rejects entries under protest "
                        "('PROTEST ON ENTRY'); the refund comes through the protest."),
    "withdraw_protest_option": ("R5", RULES_BY_ID["R5"].source,
                                "The entry liquidated fewer than 80 days ago: withdrawing the protest would let it "
                                "go through CAPE instead. Decide with counsel before the CAPE window closes."),
    "final_liquidation": ("R6", "19 U.S.C. 1514 (liquidation final 180 days after it); 28 U.S.C. 1581(i)",
                          "Liquidation is final (more than 180 days ago, or status Final): CAPE and a protest are no "
                          "longer available. A Court of International Trade action may be."),
    "counsel_review": ("R6", "28 U.S.C. 2636(i)",
                       "The CIT deadline shown is the conservative one (entry summary date + 2 years, the earliest "
                       "the claim could have accrued). When the claim accrued is for counsel to decide."),
    "cape_phase3_possible": ("R6", "Court-ordered CAPE phase for CIT plaintiffs: " + COURT_ORDERED_PHASE.source,
                             "The importer is a plaintiff at the Court of International Trade: the court-ordered "
                             "CAPE phase for finally liquidated entries may take this entry (reported open from "
                             f"{COURT_ORDERED_PHASE.starts:%B} {COURT_ORDERED_PHASE.starts.day}, "
                             f"{COURT_ORDERED_PHASE.starts.year}, for plaintiffs whose importer number was reported "
                             "by July 30, 2026). Confirm with counsel; the government's appeal is pending."),
    "claim_on_withdrawals": ("R7", "CSMS #69127837",
                             "CAPE no longer takes warehouse entries (types 21, 22) since July 7, 2026 ('ENTRY TYPE "
                             "NOT ALLOWED'): claim the refund on the warehouse withdrawals (types 31, 32, 34, 38), "
                             "which CAPE still takes."),
    "drawback": ("R7", "CBP CAPE guidance (CSMS #67923154): CAPE error 'ENTRY ON DRAWBACK'",
                 "Drawback was claimed on this entry; CAPE rejects it ('ENTRY ON DRAWBACK'). Protest once "
                 "liquidated."),
    "recon_filed_future_phase": ("R8", RULES_BY_ID["R8"].source,
                                 "The type 09 reconciliation is already filed: CAPE does not take this entry now. "
                                 "Protest once liquidated, or wait for a later CAPE phase."),
    "cape_window_passed": ("R9", RULES_BY_ID["R9"].source,
                           "Liquidated 80 days ago or more: CAPE no longer takes it, but a protest can still be "
                           "filed within 180 days of liquidation."),
    "recon_lane": ("R10", RULES_BY_ID["R10"].source,
                   "Reconciliation-flagged entry CAPE accepts since 29 June 2026: file it in CAPE before the type 09 "
                   "reconciliation is filed."),
    "recon_lane_unavailable": ("R11", RULES_BY_ID["R11"].source,
                               "Reconciliation-flagged entry CAPE does not take (yet): wait, and do not let the "
                               "protest deadline pass."),
    "cape_not_open": ("R14", RULES_BY_ID["R14"].source,
                      "CAPE opened on April 20, 2026; on this date it did not take declarations yet. The entry "
                      "goes to CAPE once it opens."),
    "unliquidated": ("R12", RULES_BY_ID["R12"].source,
                     "Not liquidated yet: file it in CAPE now; CBP will liquidate it about 45 days after acceptance."),
    "within_80_days": ("R12", RULES_BY_ID["R12"].source,
                       f"Liquidated fewer than 80 days ago: file it in CAPE by {CAPE_WINDOW_WORDS}."),
    "refund_after_liquidation": ("R12", f"{_CAPE_GUIDANCE}; CSMS #69127837 (warehouse withdrawals)",
                                 "Suspended, extended, under review or a warehouse entry or withdrawal: CAPE accepts "
                                 "it, but the refund only comes when the entry (or the withdrawal) liquidates."),
    "adcvd_check_instructions": ("R12", RULES_BY_ID["R12"].source,
                                 "Type 03 or 07 (AD/CVD): CAPE rejects entries whose Commerce liquidation "
                                 "instructions are out and pending liquidation. Check the instructions before filing."),
    "cape_rejected": (EXTRA, "CBP's error text from the ACE CAPE Claim Details (CBP CAPE guidance, CSMS #67923154)",
                      "CBP rejected this entry on a CAPE declaration with the error shown. The rejection does not "
                      "decide the path: the entry is back on the path the rules give it today."),
    "psc_then_refile": (EXTRA, "CBP CAPE guidance (CSMS #67923154): INVALID HTS and HTS RELATIONSHIP (SEQUENCE) "
                               "MISMATCH are fixed by a post-summary correction; ACE error 864 'PSC not allowed - "
                               "refund requested'",
                        "CBP's error is one a post-summary correction fixes: correct the HTS lines in ACE first, "
                        "then put the entry on a new declaration."),
    "psc_blocked_ftz": (EXTRA, "ACE error F883 'PSC not allowed to modify IEEPA HTS', CSMS #69635410 (2026-08-21)",
                        "A foreign-trade-zone entry (type 06): since August 21, 2026 no post-summary correction may "
                        "change an IEEPA HTS on it, so the usual fix is blocked. Ask CBP's CAPE team how to proceed."),
    "urgent": (EXTRA, "CAPE: liquidation + 79 days (CSMS #67923154); protest: 19 U.S.C. 1514(c)(3); "
                      "CIT: 28 U.S.C. 2636(i)",
               f"The deadline for this path is close: within {URGENT_DAYS_CAPE} days for CAPE, "
               f"{URGENT_DAYS_PROTEST} days for a protest, {URGENT_DAYS_CIT} days for a court action "
               "(counsel needs time)."),
    "deadline_passed": (EXTRA, "CAPE: liquidation + 79 days (CSMS #67923154); protest: 19 U.S.C. 1514(c)(3); "
                               "CIT: 28 U.S.C. 2636(i)",
                        "The deadline for this path is past. The entry is not written off: a person must decide "
                        "what can still be done."),
    "no_ach_refund": (EXTRA, "31 CFR 208 (payments by electronic funds transfer; paper-check waiver 31 CFR 208.4); "
                             "19 CFR 24.36",
                      "The importer has no active ACH refund enrollment (nor a 4811 notify party with one, nor a "
                      "granted paper-check waiver): CBP cannot pay the refund until one is set up."),
}
for _t in sorted(CAPE_EXCLUDED_TYPES):
    REASONS[f"excluded_type_{_t}"] = (
        "R7", _CAPE_GUIDANCE,
        f"CAPE does not take entry type {_t}. Protest once the entry liquidates (within 180 days).",
    )
for _t in sorted(WAREHOUSE_ENTRY_TYPES):
    REASONS[f"excluded_type_{_t}"] = (
        "R7", "CSMS #69127837 ('ENTRY TYPE NOT ALLOWED' from 2026-07-07)",
        f"CAPE no longer takes warehouse entry type {_t} (since July 7, 2026). The claim is made on the "
        "warehouse withdrawals; protest once the entry liquidates.",
    )


def explain(code: str) -> tuple[str, str, str]:
    """(rule id, source, plain words) for a reason code, including `cape_rejected:<CBP text>`."""
    if code.startswith("cape_rejected:"):
        rule, source, text = REASONS["cape_rejected"]
        return rule, source, f"{text} CBP said: {code.split(':', 1)[1]}"
    return REASONS.get(code, ("?", "", code))


# ---------------------------------------------------------------- the engine
def _lead_days(path: str) -> int | None:
    """How many days ahead of its deadline a path is urgent (rules.md 2026.12: CAPE 14, protest 30, CIT 90)."""
    if path in CAPE_PATHS:
        return URGENT_DAYS_CAPE
    if path == Path.PROTEST:
        return URGENT_DAYS_PROTEST
    if path == Path.CIT:
        return URGENT_DAYS_CIT
    return None


def accrual_date(entry_summary_date: date | None, entry_date: date | None) -> date | None:
    """When the claim accrued, conservatively (28 U.S.C. 2636(i)): the entry summary date, else the entry date."""
    return entry_summary_date or entry_date


def cit_deadline(accrual: date | None) -> date | None:
    """28 U.S.C. 2636(i): two years after the claim accrues (accrual_date). Besides the projected liquidation date of
    an entry not liquidated yet, this is all the ruleset reads the entry and entry summary dates for
    (cape.classify's memo relies on it)."""
    return add_years(accrual, CIT_YEARS) if accrual is not None else None


def classify(f: EntryFacts, as_of: date) -> Result:
    """Classify one entry as of ``as_of`` (rules.md, first matching rule wins)."""
    status = f.liquidation_status if f.liquidation_status in LIQUIDATION_STATUSES else UNKNOWN
    entry_type = normalize_entry_type(f.entry_type)
    # rules.md "Inputs": with a not-liquidated status the report's Liquidation Date is ignored by every
    # rule and date (the status wins); with status unknown every date but cit_deadline is null.
    liq = f.liquidation_date if status in (LIQUIDATED, FINAL) else None
    # A liquidation date in the future counts as not liquidated (rules.md R12 note).
    liquidated = liq is not None and liq <= as_of
    days = (as_of - liq).days if liq is not None else None
    protest_status = normalize_protest_status(f.protest_status, f.protest_number)
    c = _Ctx(f, as_of, status, entry_type, liquidated, days, protest_status)

    reasons: tuple[str, ...]
    path, reasons, rule_id = Path.NEEDS_REVIEW, ("no_rule_matched",), "R0"
    for rule in RULES:
        if rule.applies(c):
            path, reasons = rule.decide(c)
            rule_id = rule.id
            break

    # Derived dates (rules.md "Derived dates": dates that do not apply are null).
    # Projected only for a not-liquidated status: never from a known (future) liquidation date, and
    # never for liquidated, final or unknown statuses.
    projected = (
        f.entry_date + timedelta(days=LIQUIDATION_DAY)
        if f.entry_date is not None and status in NOT_LIQUIDATED_STATUSES else None
    )
    cape_closes = liq + timedelta(days=CAPE_WINDOW_DAYS - 1) if liq is not None else None
    if liq is not None:
        protest_deadline, projected_flag = liq + timedelta(days=PROTEST_DAYS), False
    elif projected is not None:
        protest_deadline, projected_flag = projected + timedelta(days=PROTEST_DAYS), True
    else:
        protest_deadline, projected_flag = None, False
    cit = cit_deadline(accrual_date(f.entry_summary_date, f.entry_date))

    deadline_projected = False
    if path in CAPE_PATHS:
        deadline = cape_closes
    elif path == Path.PROTEST:
        deadline, deadline_projected = protest_deadline, projected_flag
    elif path == Path.CIT:
        deadline = cit
    else:
        deadline = None
    lead = _lead_days(path)
    # A projected deadline never gives urgent or deadline_passed (rules.md 2026.12).
    firm = deadline if deadline is not None and not deadline_projected and lead is not None else None
    urgent = firm is not None and 0 <= (firm - as_of).days <= lead  # type: ignore[operator]  # lead is set when firm is
    passed = firm is not None and firm < as_of

    out = list(reasons)
    if urgent:
        out.append("urgent")
    if passed:
        out.append("deadline_passed")
    if f.cape_rejections and path != Path.FILED:
        seen: list[str] = []
        for text in f.cape_rejections:
            t = " ".join(text.split()) or "no error text"
            if t not in seen:
                seen.append(t)
        out.extend(f"cape_rejected:{t}" for t in seen)
        if any(t.upper() in PSC_ERRORS for t in seen):
            # F883 (CSMS #69635410, 2026-08-21): no PSC may modify an IEEPA HTS on an FTZ type 06 entry.
            out.append("psc_blocked_ftz" if entry_type == FTZ_TYPE else "psc_then_refile")
    if not f.has_refund_route and path != Path.NOT_ELIGIBLE:
        out.append("no_ach_refund")

    # The first as_of at which anything above could differ, facts held constant.
    candidates: list[date] = []
    if path not in (Path.NOT_ELIGIBLE, Path.FILED) and not (path == Path.NEEDS_REVIEW and rule_id in ("R1", "R13")):
        if liq is not None:
            candidates += [liq, liq + timedelta(days=CAPE_WINDOW_DAYS), liq + timedelta(days=PROTEST_DAYS + 1)]
        if f.recon_flag:
            candidates.append(RECON_LANE_OPENS)
        candidates.append(CAPE_OPENS)
        if entry_type in WAREHOUSE_ENTRY_TYPES:
            candidates.append(WAREHOUSE_EXCLUDED_FROM)
        if f.cit_plaintiff:
            candidates.append(COURT_ORDERED_PHASE.starts)
    if firm is not None:
        candidates += [firm - timedelta(days=lead), firm + timedelta(days=1)]  # type: ignore[arg-type]  # as above
    future = [d for d in candidates if d > as_of]
    stable_until = min(future) if future else None

    return Result(
        path=path, reasons=tuple(out), rule=rule_id, ruleset=RULESET, as_of=as_of, liquidated=liquidated,
        projected_liquidation_date=projected, cape_window_closes=cape_closes, protest_deadline=protest_deadline,
        protest_deadline_projected=projected_flag, cit_deadline=cit, days_since_liquidation=days,
        deadline=deadline, urgent=urgent, deadline_passed=passed, stable_until=stable_until,
    )


def path_label(path: str) -> str:
    return PATH_LABELS.get(path, path)


PATH_LABELS = {
    Path.CAPE_PHASE1: "File in CAPE (Phase 1)",
    Path.CAPE_PHASE2: "File in CAPE (reconciliation lane)",
    Path.PROTEST: "Protest (CBP Form 19)",
    Path.CIT: "Court of International Trade (counsel)",
    Path.WAIT: "Wait",
    Path.FILED: "Filed in CAPE",
    Path.NOT_ELIGIBLE: "Not eligible",
    Path.NEEDS_REVIEW: "Needs review",
}

__all__ = [
    "RULESET", "RULES", "REASONS", "EntryFacts", "Result", "classify", "accrual_date", "cit_deadline", "explain", "LIQUIDATION_STATUSES",
    "normalize_entry_type", "normalize_protest_status", "normalize_reason_code", "PATHS",
    "Path",
]
