"""Classification ruleset 2026.11: every entry to exactly one refund path, with its deadlines.

Pure functions over plain data (no ORM, no clock): the same ``EntryFacts`` and the same ``as_of``
always give the same ``Result``. The specification is shared/domain/rules.md; each rule below
carries its id, its legal/CBP source and its reason codes, and every reason code has a plain-words
explanation in ``REASONS`` (shown on the entry page).

Decisions where rules.md is silent (a careful customs lawyer's reading):
* "urgent" means the path's own deadline is today or within the next 14 days; once the deadline
  is before ``as_of`` the entry gets ``deadline_passed`` instead (it keeps its path; a person decides).
* A liquidation date after ``as_of`` counts as not liquidated (rules.md, R12 note) for every rule,
  but the date still drives ``cape_window_closes`` and ``protest_deadline``.
* CAPE rejections are reported only while the entry is not on an accepted declaration: an entry
  accepted later must not be told to correct and refile.
* ``no_ach_refund`` is added on every path except ``not_eligible`` (no refund is coming there).
* ``stable_until`` covers the path, the reasons, the deadline and the urgency flags. The day counter
  (``days_since_liquidation``) and the interest estimate are stated "as of" ``as_of``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from entries.entrynumber import char_value

RULESET = "2026.11"

# ---------------------------------------------------------------- constants with their sources
# 19 U.S.C. 1504 / CBP practice: liquidation on the 314th day after entry (domain README §7).
LIQUIDATION_DAY = 314
# CAPE takes liquidated entries filed fewer than 80 days after liquidation, so the last day is +79
# (CBP CAPE guidance; on 2026-04-20 entries liquidated after 2026-01-30 were eligible).
CAPE_WINDOW_DAYS = 80
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
ADCVD_TYPE = "03"
URGENT_DAYS = 14
# CBP CAPE error messages fixed by a post-summary correction, then a new declaration (README §6).
PSC_ERRORS = frozenset({"INVALID HTS", "HTS RELATIONSHIP MISMATCH", "HTS RELATIONSHIP/SEQUENCE MISMATCH"})


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
# rules.md "Inputs": free text mapped case-insensitively; anything else is unknown.
_STATUS_SPELLINGS = {
    "unliquidated": UNLIQUIDATED, "open": UNLIQUIDATED, "not liquidated": UNLIQUIDATED,
    "liquidated": LIQUIDATED, "closed": LIQUIDATED,
    "suspended": SUSPENDED,
    "extended": EXTENDED,
    "under review": UNDER_REVIEW, "in review": UNDER_REVIEW, "under_review": UNDER_REVIEW,
    "final": FINAL, "finally liquidated": FINAL,
    # rules.md "Inputs" (ruleset 2026.12 spellings); "pending" alone stays unknown.
    "pending liquidation": UNLIQUIDATED, "final liquidation": FINAL,
}


def normalize_liquidation_status(raw: str | None) -> str:
    """Map an ES-003 Liquidation Status (or an already normalised code) to one of the seven codes."""
    key = " ".join((raw or "").strip().lower().split())
    return _STATUS_SPELLINGS.get(key, UNKNOWN)


def normalize_entry_type(raw: str | None) -> str:
    """Two digits: `1` means `01` (rules.md)."""
    s = (raw or "").strip()
    if s.endswith(".0"):
        s = s[:-2]
    return s.zfill(2) if s.isdigit() and len(s) <= 2 else s


_FLOAT = re.compile(r"^\d+(\.\d+)?[eE]\+?\d+$|^\d+\.0+$")


def repair_entry_number(raw: str | None) -> str:
    """Undo what Excel and ACE exports do to entry numbers (README §3): `="…"` wrapping, dashes and
    spaces, float notation (`6.0576069342E10`) and stripped leading zeros."""
    s = (raw or "").strip()
    if s.startswith('="') and s.endswith('"'):
        s = s[2:-1]
    s = s.strip().strip('"').replace("-", "").replace(" ", "").upper()
    if _FLOAT.match(s):
        try:
            s = str(int(Decimal(s)))
        except Exception:  # pragma: no cover - the regex admits only numbers
            return s
    if s.isdigit() and len(s) < 11:
        s = s.zfill(11)
    return s


# The check digit (entries/entrynumber.py, README §3) with its per-character values precomputed from
# the same table: the ruleset checks every entry, so this runs a million times a night.
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ODD = {c: char_value(c) for c in _ALNUM}
_EVEN = {c: (2 * v - 9 if 2 * v > 9 else 2 * v) for c, v in _ODD.items()}
_SHAPE = re.compile(r"^[0-9A-Z]{3}[0-9]{7}[0-9]$")


def _check_ok(n: str) -> bool:
    if len(n) != 11 or not _SHAPE.match(n):
        return False
    return _digit_ok(n)


def _digit_ok(n: str) -> bool:
    """The check digit of an 11-character number already of the right shape."""
    odd, even = _ODD, _EVEN
    total = odd[n[0]] + even[n[1]] + odd[n[2]] + even[n[3]] + odd[n[4]] + even[n[5]] + odd[n[6]] + even[n[7]] \
        + odd[n[8]] + even[n[9]]
    return (10 - total % 10) % 10 == int(n[10])


def valid_entry_number(raw: str | None) -> bool:
    s = raw or ""
    if len(s) == 11 and _SHAPE.match(s):  # already clean: skip the repairs
        return _digit_ok(s)
    return _check_ok(repair_entry_number(raw))


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
    liquidation_status: str  # a code or free text; normalised on use
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
    # An active ACH refund enrollment, or a 4811 notify party that receives the refund.
    has_refund_route: bool = True
    importer_number: str = ""


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
def _r7_reason(c: _Ctx) -> tuple[str, ...]:
    if c.entry_type in CAPE_EXCLUDED_TYPES:
        return (f"excluded_type_{c.entry_type}",)
    return ("drawback",)


def _r12(c: _Ctx) -> tuple[str, tuple[str, ...]]:
    reasons = ["unliquidated" if not c.liquidated else "within_80_days"]
    if c.status in (SUSPENDED, EXTENDED, UNDER_REVIEW) or c.entry_type in WAREHOUSE_TYPES:
        reasons.append("refund_after_liquidation")
    if c.entry_type == ADCVD_TYPE:
        reasons.append("adcvd_check_instructions")
    return Path.CAPE_PHASE1, tuple(reasons)


def _r5(c: _Ctx) -> tuple[str, tuple[str, ...]]:
    if c.liquidated and c.days is not None and c.days < CAPE_WINDOW_DAYS:
        return Path.PROTEST, ("protest_pending", "withdraw_protest_option")
    return Path.PROTEST, ("protest_pending",)


RULES: tuple[Rule, ...] = (
    Rule("R1", "CBP entry number format and check digit (CBP Directive 3550-079A; README §3)", ("bad_entry_number",),
         lambda c: not valid_entry_number(c.f.entry_number),
         lambda c: (Path.NEEDS_REVIEW, ("bad_entry_number",)),
         "Entry number is not 11 characters after repair, or its check digit is wrong"),
    Rule("R2", "CAPE needs at least one dutiable IEEPA line 9903.01/9903.02 (README §8)", ("no_ieepa_duty",),
         lambda c: c.f.ieepa_duty <= 0,
         lambda c: (Path.NOT_ELIGIBLE, ("no_ieepa_duty",)),
         "No positive IEEPA duty"),
    Rule("R3", "CAPE declaration outcome (ACE CAPE Claim Details; README §6)", ("cape_accepted",),
         lambda c: c.f.cape_accepted,
         lambda c: (Path.FILED, ("cape_accepted",)),
         "On an accepted CAPE declaration and not rejected there"),
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
    Rule("R6", "19 U.S.C. 1514 (liquidation final after 180 days); 28 U.S.C. 1581(i), 2636(i)",
         ("final_liquidation", "counsel_review"),
         lambda c: c.status == FINAL or (c.liquidated and c.days is not None and c.days > PROTEST_DAYS),
         lambda c: (Path.CIT, ("final_liquidation", "counsel_review")),
         "Finally liquidated, or liquidated more than 180 days ago"),
    Rule("R7", "CAPE exclusions: entry types 08, 09, 23, 47 and entries on drawback (CBP CAPE guidance; "
               "'ENTRY ON DRAWBACK')",
         tuple(f"excluded_type_{t}" for t in sorted(CAPE_EXCLUDED_TYPES)) + ("drawback",),
         lambda c: c.entry_type in CAPE_EXCLUDED_TYPES or c.f.drawback,
         lambda c: (Path.PROTEST if c.liquidated else Path.WAIT, _r7_reason(c)),
         "Entry type CAPE does not take, or drawback claimed"),
    Rule("R8", "CSMS #69035485: CAPE takes recon-flagged entries only before the type 09 is filed",
         ("recon_filed_future_phase",),
         lambda c: c.f.recon_flag and c.f.type09_filed,
         lambda c: (Path.PROTEST if c.liquidated else Path.WAIT, ("recon_filed_future_phase",)),
         "Reconciliation flagged and the type 09 reconciliation already filed"),
    Rule("R9", "CAPE 80-day window (CBP CAPE guidance; 19 U.S.C. 1501) and 19 U.S.C. 1514(c)(3)",
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
    Rule("R12", "CAPE Phase 1 (CBP CAPE guidance, CSMS #67923154): unliquidated entries and entries "
                "liquidated fewer than 80 days before filing",
         ("unliquidated", "within_80_days", "refund_after_liquidation", "adcvd_check_instructions"),
         lambda c: (not c.liquidated and c.status in NOT_LIQUIDATED_STATUSES | {LIQUIDATED})
         or (c.liquidated and c.days is not None and c.days < CAPE_WINDOW_DAYS),
         _r12,
         "Not liquidated, or liquidated fewer than 80 days ago"),
)
RULES_BY_ID = {r.id: r for r in RULES}

# ---------------------------------------------------------------- reasons in plain words
# code -> (rule id, source, explanation). Dynamic `cape_rejected:<text>` uses the "cape_rejected" entry.
# Reasons from rules.md "Extra reasons and urgency" are added to whatever path a rule chose; they are
# no rule of the decision order (cape_rejected is not R3: R3 is an *accepted* declaration), so their
# rule id is EXTRA and their source names that section and where the fact comes from.
EXTRA = "extra"
EXTRA_SOURCE = "rules.md, Extra reasons and urgency"
REASONS: dict[str, tuple[str, str, str]] = {
    "bad_entry_number": ("R1", RULES_BY_ID["R1"].source,
                         "The entry number is not 11 letters/digits even after undoing Excel damage, or its check "
                         "digit (the last character) is wrong. Check it against the 7501 before filing."),
    "no_ieepa_duty": ("R2", RULES_BY_ID["R2"].source,
                      "No IEEPA duty was paid on this entry (no 9903.01/9903.02 line with a positive duty amount). "
                      "Section 301, 232 and 122 duties are not refunded through CAPE."),
    "cape_accepted": ("R3", RULES_BY_ID["R3"].source,
                      "The entry is on a CAPE declaration that CBP accepted. Watch for the refund; nothing to file."),
    "liquidation_data_missing": ("R4", RULES_BY_ID["R4"].source,
                                 "We do not know whether or when this entry liquidated. Add the Liquidation Status "
                                 "and Liquidation Date columns to the ES-003 report and upload it again."),
    "protest_pending": ("R5", RULES_BY_ID["R5"].source,
                        "A protest (CBP Form 19) is open or suspended. CAPE rejects entries under protest "
                        "('PROTEST ON ENTRY'); the refund comes through the protest."),
    "withdraw_protest_option": ("R5", RULES_BY_ID["R5"].source,
                                "The entry liquidated fewer than 80 days ago: withdrawing the protest would let it "
                                "go through CAPE instead. Decide with counsel before the CAPE window closes."),
    "final_liquidation": ("R6", RULES_BY_ID["R6"].source,
                          "Liquidation is final (more than 180 days ago, or status Final): CAPE and a protest are no "
                          "longer available. A Court of International Trade action may be."),
    "counsel_review": ("R6", "28 U.S.C. 2636(i)",
                       "The CIT deadline shown is the conservative one (entry summary date + 2 years, the earliest "
                       "the claim could have accrued). When the claim accrued is for counsel to decide."),
    "drawback": ("R7", RULES_BY_ID["R7"].source,
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
    "unliquidated": ("R12", RULES_BY_ID["R12"].source,
                     "Not liquidated yet: file it in CAPE now; CBP will liquidate it about 45 days after acceptance."),
    "within_80_days": ("R12", RULES_BY_ID["R12"].source,
                       "Liquidated fewer than 80 days ago: file it in CAPE before the window closes (liquidation "
                       "date + 79 days)."),
    "refund_after_liquidation": ("R12", RULES_BY_ID["R12"].source,
                                 "Suspended, extended, under review or a warehouse entry: CAPE accepts it, but the "
                                 "refund only comes when the entry (or the withdrawal) liquidates."),
    "adcvd_check_instructions": ("R12", RULES_BY_ID["R12"].source,
                                 "Type 03 (AD/CVD): CAPE rejects entries whose Commerce liquidation instructions are "
                                 "out and pending liquidation. Check the instructions before filing."),
    "cape_rejected": (EXTRA, f"{EXTRA_SOURCE} (cape_rejected); CBP's error from the ACE CAPE Claim Details (README §6)",
                      "CBP rejected this entry on a CAPE declaration with the error shown. The rejection does not "
                      "decide the path: the entry is back on the path the rules give it today."),
    "psc_then_refile": (EXTRA, f"{EXTRA_SOURCE} (psc_then_refile); CBP CAPE guidance: INVALID HTS, HTS RELATIONSHIP "
                               "MISMATCH and HTS RELATIONSHIP/SEQUENCE MISMATCH are fixed by a post-summary correction, "
                               "which is not possible after CAPE acceptance (README §6)",
                        "CBP's error is one a post-summary correction fixes: correct the HTS lines in ACE first, "
                        "then put the entry on a new declaration."),
    "urgent": (EXTRA, f"{EXTRA_SOURCE} (urgent: 14 days)",
               "The deadline for this path is within 14 days."),
    "deadline_passed": (EXTRA, f"{EXTRA_SOURCE} (deadline_passed)",
                        "The deadline for this path is past. The entry is not written off: a person must decide "
                        "what can still be done."),
    "no_ach_refund": (EXTRA, f"{EXTRA_SOURCE} (no_ach_refund); 31 CFR 208; CBP refunds only by ACH since 2026-02-06 (README §4)",
                      "The importer has no active ACH refund enrollment (nor a 4811 notify party with one): CBP "
                      "cannot pay the refund until one is set up."),
}
for _t in sorted(CAPE_EXCLUDED_TYPES):
    REASONS[f"excluded_type_{_t}"] = (
        "R7", RULES_BY_ID["R7"].source,
        f"CAPE does not take entry type {_t}. Protest once the entry liquidates (within 180 days).",
    )


def explain(code: str) -> tuple[str, str, str]:
    """(rule id, source, plain words) for a reason code, including `cape_rejected:<CBP text>`."""
    if code.startswith("cape_rejected:"):
        rule, source, text = REASONS["cape_rejected"]
        return rule, source, f"{text} CBP said: {code.split(':', 1)[1]}"
    return REASONS.get(code, ("?", "", code))


# ---------------------------------------------------------------- the engine
def classify(f: EntryFacts, as_of: date) -> Result:
    """Classify one entry as of ``as_of`` (rules.md, first matching rule wins)."""
    status = normalize_liquidation_status(f.liquidation_status)
    entry_type = normalize_entry_type(f.entry_type)
    liq = f.liquidation_date
    # A liquidation date in the future counts as not liquidated (rules.md R12 note).
    liquidated = status in (LIQUIDATED, FINAL) and liq is not None and liq <= as_of
    days = (as_of - liq).days if liq is not None else None
    protest_status = (f.protest_status or "none").strip().lower() or "none"
    if protest_status == "none" and (f.protest_number or "").strip():
        protest_status = "open"  # a Protest Number without a status counts as open
    c = _Ctx(f, as_of, status, entry_type, liquidated, days, protest_status)

    path, reasons, rule_id = Path.NEEDS_REVIEW, ("no_rule_matched",), "R0"
    for rule in RULES:
        if rule.applies(c):
            path, reasons = rule.decide(c)
            rule_id = rule.id
            break

    # Derived dates (always computed when their inputs exist).
    # Projected only while not liquidated (a future liquidation date is not liquidation yet).
    projected = (
        f.entry_date + timedelta(days=LIQUIDATION_DAY) if f.entry_date is not None and not liquidated and status != FINAL else None
    )
    cape_closes = liq + timedelta(days=CAPE_WINDOW_DAYS - 1) if liq is not None else None
    if liq is not None:
        protest_deadline, projected_flag = liq + timedelta(days=PROTEST_DAYS), False
    elif projected is not None:
        protest_deadline, projected_flag = projected + timedelta(days=PROTEST_DAYS), True
    else:
        protest_deadline, projected_flag = None, False
    accrual = f.entry_summary_date or f.entry_date
    cit = add_years(accrual, CIT_YEARS) if accrual is not None else None

    if path in (Path.CAPE_PHASE1, Path.CAPE_PHASE2):
        deadline = cape_closes
    elif path == Path.PROTEST:
        deadline = protest_deadline
    elif path == Path.CIT:
        deadline = cit
    else:
        deadline = None
    urgent = deadline is not None and 0 <= (deadline - as_of).days <= URGENT_DAYS
    passed = deadline is not None and deadline < as_of

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
            out.append("psc_then_refile")
    if not f.has_refund_route and path != Path.NOT_ELIGIBLE:
        out.append("no_ach_refund")

    # The first as_of at which anything above could differ, facts held constant.
    candidates: list[date] = []
    if path not in (Path.NOT_ELIGIBLE, Path.FILED) and not (path == Path.NEEDS_REVIEW and rule_id == "R1"):
        if liq is not None:
            candidates += [liq, liq + timedelta(days=CAPE_WINDOW_DAYS), liq + timedelta(days=PROTEST_DAYS + 1)]
        if f.recon_flag:
            candidates.append(RECON_LANE_OPENS)
    if deadline is not None:
        candidates += [deadline - timedelta(days=URGENT_DAYS), deadline + timedelta(days=1)]
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
    "RULESET", "RULES", "REASONS", "EntryFacts", "Result", "classify", "explain", "normalize_liquidation_status",
    "normalize_entry_type", "repair_entry_number", "PATHS", "Path",
]
