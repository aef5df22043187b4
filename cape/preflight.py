"""Preflight: the checks a CAPE declaration must pass before it can be downloaded (no ORM).

The service layer (cape/declarations.py) gathers plain facts; this module decides. Each check is
named and lists its failing entries (passing = every other entry). Errors always block the
download; warnings block only when the organisation chooses (Organization.block_on_preflight_warnings).

Sources: shared/domain/README.md §6 (file format: header ``Entry Number`` in A1, 11 characters a
line, at most 9,999, under 1 MB, no duplicates within the file or on an earlier declaration;
correct before filing because a post-summary correction is impossible after acceptance), §3
(entry-number check digit), §4 (refunds are paid only by ACH since February 6, 2026; set the 4811
notify party before filing CAPE), §9 (ordering traps: correct before CAPE, 4811 before CAPE, CAPE
before a type 09 reconciliation, an open protest blocks CAPE; CAPE Phase 1 excludes entries under
active protest and type 09 reconciliations, seed 004).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cape.csvfile import HEADER, MAX_ENTRIES_PER_DECLARATION, MAX_FILE_BYTES, invalid_entry_numbers, sha256_hex

ERROR = "error"
WARNING = "warning"


@dataclass
class EntryFacts:
    entry_number: str
    importer_id: int | None
    importer_name: str = ""
    path: str | None = None  # the entry's current classification path (None: never classified)
    deadline_passed: bool = False
    protest_open: bool = False
    type09_filed: bool = False
    psc_pending_error: str = ""  # CBP error of an earlier rejection a PSC must fix first


@dataclass
class PreflightInput:
    file_bytes: bytes
    stored_sha256: str
    entries: Sequence[EntryFacts]
    as_of: date
    cape_paths: Sequence[str]
    # entry number -> names of other live declarations holding it
    other_declarations: dict[str, list[str]] = field(default_factory=dict)
    importers_without_route: set[int] = field(default_factory=set)
    # importer id -> why its 4811 notify party is not yet set
    notify_party_unset: dict[int, str] = field(default_factory=dict)
    block_on_warnings: bool = False


@dataclass(frozen=True)
class NotifyPartyFacts:
    """One CBP Form 4811 notify-party record of an importer (README §4: it receives the refund only
    when it is on the importer's ACE profile, in box 28 of the 7501 and itself ACH-enrolled)."""

    importer_id: int
    name: str
    on_ace_profile: bool
    in_box_28: bool
    ach_enrolled: bool

    @property
    def missing(self) -> list[str]:
        return [label for ok, label in ((self.on_ace_profile, "on the importer's ACE profile"), (self.in_box_28, "in box 28"),
                                        (self.ach_enrolled, "ACH-enrolled")) if not ok]


def notify_party_problems(parties: Sequence[NotifyPartyFacts]) -> dict[int, str]:
    """importer id -> why its 4811 notify parties are not yet set, naming every incomplete record of
    the importer (not only the last one seen); importers whose records are all complete are absent."""
    by_importer: dict[int, list[str]] = {}
    for np in sorted(parties, key=lambda p: (p.importer_id, p.name.casefold(), p.name)):
        if np.missing:
            by_importer.setdefault(np.importer_id, []).append(f"4811 notify party {np.name} not yet {', '.join(np.missing)}")
    return {importer_id: "; ".join(texts) for importer_id, texts in by_importer.items()}


def _check(code: str, name: str, level: str, failing: list[dict[str, str]], total: int, help_text: str) -> dict[str, Any]:
    failing_entries = {f["entry_number"] for f in failing if f.get("entry_number")}
    return {
        "code": code,
        "name": name,
        "level": level,
        "passed": not failing,
        "failing_count": len(failing),
        "passing_count": max(0, total - len(failing_entries)) if failing_entries or not failing else 0,
        "failing": failing,
        "help": help_text,
    }


def group_findings(failing: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """Findings with the same text, once each with their count and entries (in order of first appearance):
    an importer without ACH is one finding for its 7,693 entries, not 7,693 lines."""
    groups: dict[str, dict[str, Any]] = {}
    for f in failing:
        group = groups.setdefault(f["detail"], {"detail": f["detail"], "count": 0, "entries": []})
        group["count"] += 1
        if f.get("entry_number"):
            group["entries"].append(f["entry_number"])
    return list(groups.values())


def summary(report: dict[str, Any]) -> str:
    """One sentence for the whole report, the same on the page, in the build result and in messages."""
    if not report:
        return "Preflight not run yet."
    failed = [c for c in report.get("checks", []) if c.get("level") == ERROR and not c.get("passed")]
    warnings = int(report.get("warnings") or 0)
    if failed:
        return f"Preflight failed {len(failed):,} check{'s' if len(failed) != 1 else ''}: download blocked."
    if warnings and report.get("blocking"):
        return (f"Preflight passed with {warnings:,} warning{'s' if warnings != 1 else ''}; your organisation treats "
                "warnings as blocking: download blocked.")
    if warnings:
        return f"Preflight passed with {warnings:,} warning{'s' if warnings != 1 else ''}."
    return "Preflight passed: all checks passed."


def _file_problems(data: bytes, stored_sha256: str, expected: Sequence[str]) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []

    def add(detail: str) -> None:
        problems.append({"entry_number": "", "detail": detail})

    if stored_sha256 and sha256_hex(data) != stored_sha256:
        add("The stored file no longer matches its SHA-256: rebuild the declaration.")
    if data.startswith(b"\xef\xbb\xbf"):
        add("The file starts with a byte-order mark (BOM); CAPE expects UTF-8 without one.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        add(f"The file is not valid UTF-8 (byte {exc.start}).")
        return problems
    if "\r" in text:
        add("The file has carriage returns (Windows CRLF line endings); write \\n only.")
    if '"' in text or "," in text:
        add("The file has quotes or commas; CAPE expects one unquoted column.")
    if not text.endswith("\n"):
        add("The last line is not ended with \\n.")
    lines = text.replace("\r", "").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != HEADER:
        add(f"Cell A1 must be exactly {HEADER!r}; found {lines[0][:40]!r}." if lines else "The file is empty.")
    body = lines[1:]
    if len(body) > MAX_ENTRIES_PER_DECLARATION:
        add(f"{len(body):,} entry numbers: CAPE takes at most {MAX_ENTRIES_PER_DECLARATION:,} per declaration.")
    if len(body) == 0:
        add("The file lists no entry numbers.")
    if len(data) >= MAX_FILE_BYTES:
        add(f"The file is {len(data):,} bytes; CAPE takes files under 1 MB.")
    if list(body) != list(expected):
        add("The file's entry numbers differ from the declaration's entries: rebuild the declaration.")
    return problems


def run_preflight(data: PreflightInput) -> dict[str, Any]:
    entries = list(data.entries)
    numbers = [e.entry_number for e in entries]
    total = len(entries)
    cape_paths = set(data.cape_paths)
    checks: list[dict[str, Any]] = []

    bad = invalid_entry_numbers(numbers)
    checks.append(_check(
        "entry_number_format", "Entry number format and check digit", ERROR,
        [{"entry_number": v, "detail": why} for _, v, why in bad], total,
        "11 characters: 3-character filer code, 7-digit serial and check digit, as in block 1 of CBP Form 7501 (Entry Summary).",
    ))

    counts = Counter(numbers)
    checks.append(_check(
        "duplicates_in_file", "No duplicates within the file", ERROR,
        [{"entry_number": n, "detail": f"listed {c} times"} for n, c in sorted(counts.items()) if c > 1], total,
        "CAPE rejects a declaration that lists an entry twice.",
    ))

    checks.append(_check(
        "duplicates_across_declarations", "Not already on another declaration", ERROR,
        [{"entry_number": n, "detail": "also on " + ", ".join(names)}
         for n in sorted(set(numbers)) if (names := data.other_declarations.get(n))], total,
        "An entry may be claimed once: discard the other draft, or leave the entry to the declaration already filed.",
    ))

    off_path = []
    for e in entries:
        if e.path is None:
            off_path.append({"entry_number": e.entry_number, "detail": "not classified yet"})
        elif e.path not in cape_paths:
            off_path.append({"entry_number": e.entry_number, "detail": f"now on path {e.path}"})
    checks.append(_check(
        "cape_path_today", f"Every entry still on a CAPE path as of {data.as_of.isoformat()}", ERROR, off_path, total,
        "Entries move off CAPE as they liquidate, pass the 80-day window or get protested; rebuild without them.",
    ))

    checks.append(_check(
        "file_format", "Header, encoding, line endings and size", ERROR,
        _file_problems(data.file_bytes, data.stored_sha256, numbers), total,
        "CBP's CAPE declaration file: header 'Entry Number' in A1, UTF-8 without BOM, \\n line endings, at most 9,999 entries, under 1 MB.",
    ))

    # ---- warnings
    no_route = [{"entry_number": e.entry_number, "detail": f"{e.importer_name}: no active ACH refund enrollment or qualifying 4811 notify party"}
                for e in entries if e.importer_id in data.importers_without_route]
    checks.append(_check(
        "ach_refund_route", "Importer has an active ACH refund route", WARNING, no_route, total,
        "Since February 6, 2026 CBP pays refunds only electronically (91 FR 21; 31 U.S.C. 3332; Executive Order 14247): without an ACH refund enrollment in the ACE Portal the refund waits, with no interest for the delay.",
    ))
    notify = [{"entry_number": e.entry_number, "detail": f"{e.importer_name}: {data.notify_party_unset[e.importer_id]}"}
              for e in entries if e.importer_id in data.notify_party_unset]
    checks.append(_check(
        "notify_party_4811", "4811 notify party set before filing", WARNING, notify, total,
        "A CBP Form 4811 notify party receives the refund only when it is on the importer's ACE profile, named in box 28 of CBP Form 7501 and itself enrolled for ACH refunds; set it before filing in CAPE.",
    ))
    psc = [{"entry_number": e.entry_number, "detail": f"rejected earlier: {e.psc_pending_error}"} for e in entries if e.psc_pending_error]
    checks.append(_check(
        "psc_first", "No post-summary correction needed first", WARNING, psc, total,
        "CBP refuses a post-summary correction once a CAPE refund is in process (ACE error 864 \"PSC not allowed – refund requested\"): file the correction, mark it corrected, then declare.",
    ))
    protest = [{"entry_number": e.entry_number, "detail": "protest open"} for e in entries if e.protest_open]
    checks.append(_check(
        "open_protest", "No open protest", WARNING, protest, total,
        "CAPE Phase 1 excludes entries under an active protest (19 U.S.C. 1514); CAPE answers \"PROTEST ON ENTRY\".",
    ))
    type09 = [{"entry_number": e.entry_number, "detail": "type 09 reconciliation already filed"} for e in entries if e.type09_filed]
    checks.append(_check(
        "type09_filed", "No type 09 reconciliation already filed", WARNING, type09, total,
        "Reconciliation entries with a type 09 filed wait for a later phase (CSMS #69035485).",
    ))
    window = [{"entry_number": e.entry_number, "detail": "the 80-day CAPE window has passed"} for e in entries if e.deadline_passed]
    checks.append(_check(
        "cape_window_open", "CAPE window still open", WARNING, window, total,
        "CAPE takes a liquidated entry until liquidation + 79 days (filed fewer than 80 days after liquidation), so that CBP can reliquidate inside the 90 days 19 U.S.C. 1501 allows.",
    ))

    errors = [c for c in checks if c["level"] == ERROR and not c["passed"]]
    warnings = [c for c in checks if c["level"] == WARNING and not c["passed"]]
    return {
        "as_of": data.as_of.isoformat(),
        "ran_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "entry_count": total,
        "ok": not errors,
        "warnings": len(warnings),
        "block_on_warnings": data.block_on_warnings,
        "blocking": bool(errors) or (data.block_on_warnings and bool(warnings)),
        "checks": checks,
    }
