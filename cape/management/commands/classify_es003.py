"""classify_es003 FILE [FILE ...] --as-of YYYY-MM-DD --json OUT.json [--cape-dir DIR] [--org SLUG]
    [--facts FACTS.csv ...] [--cit-plaintiff IR_NUMBER ...]

Ingests ES-003 files with the same service as the web upload, classifies exactly the entries found
in them as of the given date (ruleset 2026.12), writes OUT.json and prints a summary by path.
Exit status is non-zero only when a file cannot be read at all. Compliance staff script against this
command: keep its arguments and its JSON shape stable (issue 4):

    {"ruleset": ..., "as_of": ..., "entries": [ENTRY, ...], "rejected_rows": [ROW, ...]}

Every ENTRY has exactly ENTRY_KEYS; every ROW exactly ROW_KEYS. A file that cannot be read is one ROW
with ``row``, ``column`` and ``value`` null. With ``--cape-dir`` the CAPE declaration files are
selected, split and written by the declarations capability (cape.declarations.declaration_plan,
cape.csvfile.render_declaration_csv); nothing is stored as a declaration.

``--facts`` (repeatable) applies a facts file (the upload page's format: Entry Number and any of Drawback,
Type 09 Filed, Surety Paid, Protest Number, Protest Status) to the ingested entries before they are
classified; a facts file with an unknown column or value stops the command before anything is ingested.
``--cit-plaintiff`` (repeatable) marks an importer of record as a CIT plaintiff (ruleset 2026.12, R6).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.irnumber import InvalidIRNumber, canonical_ir_number, mask_ir_number
from accounts.models import Importer, Organization
from accounts.services import audit, organization_create
from cape import rules
from cape.classify import classify_entries
from cape.csvfile import render_declaration_csv
from cape.declarations import FILED_STATUSES, declaration_plan
from cape.facts import entry_facts_import
from cape.models import Classification
from entries.facts import FactsFileError, parse_facts_file
from entries.ingest.cli import ingest_files
from entries.ingest.source import LABELS
from entries.models import Entry

ENTRY_KEYS = ("entry_number", "importer_number", "path", "reasons", "ieepa_duty", "liquidation_status", "liquidation_date",
              "projected_liquidation_date", "cape_window_closes", "protest_deadline", "cit_deadline", "estimated_interest")
ROW_KEYS = ("file", "row", "column", "value", "reason")
TOP_KEYS = ("ruleset", "as_of", "entries", "rejected_rows")
LEFT_OUT_SHOWN = 20


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _money(v: Decimal | None) -> str | None:
    return f"{v:.2f}" if v is not None else None


def _file_label(importer: Importer) -> str:
    """The importer's part of a CAPE file name: its IR number, except an SSN-form one (a person's Social
    Security number, CBP Form 5106), which is masked to its last four digits as everywhere else, plus the
    importer's id so that two sole proprietors sharing those digits never write to the same file."""
    number = importer.ir_number
    label = number if mask_ir_number(number) == number else f"XXX-XX-{number[-4:]}-{importer.pk}"
    return "".join(ch for ch in label if ch.isalnum() or ch == "-")


def _as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of {value!r}: expected a date as YYYY-MM-DD, e.g. 2026-11-22") from None


def _unrepairable(rows: list[dict[str, Any]], summary_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One needs_review entry per entry number that could not be repaired (rules.md R1).

    The upload summary lists such rows with their importer number but only the first 1,000 of a
    file; the error report lists every rejected row (up to ES003_MAX_ERRORS), so rows past the
    summary's list still become entries here, with the importer number null (unknown).
    """
    column = LABELS["entry_number"]
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None]] = set()
    numbers_seen: set[str] = set()
    listed: set[tuple[Any, Any]] = set()
    for bad in summary_rows:
        listed.add((bad.get("file"), bad.get("row")))
        number, importer = str(bad.get("entry_number", "")), bad.get("importer_number") or None
        if (number, importer) not in seen:
            seen.add((number, importer))
            numbers_seen.add(number)
            # An entry held back because its importer number cannot be repaired is listed the same way.
            out.append(_review_entry(number, importer, bad.get("reason") or "bad_entry_number"))
    for row in rows:
        if row.get("column") != column or (row.get("file"), row.get("row")) in listed:
            continue
        number = str(row.get("value") or "")
        if number not in numbers_seen:
            numbers_seen.add(number)
            out.append(_review_entry(number, None))
    return out


def _review_entry(number: str, importer: str | None, reason: str = "bad_entry_number") -> dict[str, Any]:
    entry: dict[str, Any] = dict.fromkeys(ENTRY_KEYS)
    entry.update(entry_number=number, importer_number=importer, path=rules.Path.NEEDS_REVIEW, reasons=[reason])
    return entry


def _facts(raw: str) -> Any:
    """A facts file, parsed; an unknown column or value stops the command with the file, row and column."""
    try:
        parsed = parse_facts_file(raw)
    except (FactsFileError, OSError) as exc:
        raise CommandError(f"--facts {raw}: {exc}") from None
    if parsed.errors:
        e = parsed.errors[0]
        more = f" (and {len(parsed.errors) - 1} more)" if len(parsed.errors) > 1 else ""
        raise CommandError(f"--facts {parsed.file}, row {e['row']}, column {e['column']!r}, value {e['value']!r}: "
                           f"{e['reason']}{more}")
    return parsed


def _ir(raw: str) -> str:
    try:
        return canonical_ir_number(raw)
    except InvalidIRNumber as exc:
        raise CommandError(f"--cit-plaintiff {raw!r}: {exc}") from None


class Command(BaseCommand):
    help = "Ingest ES-003 files, classify their entries as of a date, and write the results as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="ES-003 exports (CSV or XLSX)")
        parser.add_argument("--as-of", required=True, dest="as_of", help="Classify as of this date (YYYY-MM-DD)")
        parser.add_argument("--json", required=True, dest="json_out", metavar="OUT.json", help="Where to write the results")
        parser.add_argument("--cape-dir", dest="cape_dir", metavar="DIR",
                            help="Write CAPE declaration CSVs for the cape_phase1/cape_phase2 entries here")
        parser.add_argument("--org", default="cli", help="Organisation slug (created if missing; default: cli)")
        parser.add_argument("--facts", action="append", default=[], metavar="FILE",
                            help="Entry facts file (CSV or XLSX; Entry Number, Drawback, Type 09 Filed, Surety Paid, "
                                 "Protest Number, Protest Status); repeatable")
        parser.add_argument("--cit-plaintiff", action="append", default=[], dest="cit_plaintiff", metavar="IR_NUMBER",
                            help="An importer of record that is a CIT plaintiff (court-ordered CAPE phase); repeatable")

    def handle(self, *args: Any, **opts: Any) -> None:
        as_of = _as_of(opts["as_of"])
        facts = [_facts(raw) for raw in opts["facts"]]  # checked before anything is ingested
        plaintiffs = [_ir(raw) for raw in opts["cit_plaintiff"]]
        slug = opts["org"]
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            # A broker organisation: ES-003 files from the CLI may hold several importers of record.
            org = organization_create(name=slug, kind=Organization.Kind.BROKER, slug=slug)

        entry_ids: list[int] = []
        seen_ids: set[int] = set()
        rejected: list[dict[str, Any]] = []
        review: list[dict[str, Any]] = []
        unreadable: list[str] = []
        files_read = 0
        for raw in opts["files"]:
            # One file at a time, so that a file that cannot be read is reported under its own name.
            result = ingest_files(organization=org, paths=[raw])
            for message in result.fatal_errors:
                unreadable.append(message)
                rejected.append({"file": Path(raw).name, "row": None, "column": None, "value": None, "reason": message})
            if result.fatal_errors:
                continue
            files_read += 1
            for pk in result.entry_ids:
                if pk not in seen_ids:
                    seen_ids.add(pk)
                    entry_ids.append(pk)
            rows = [{k: r.get(k) for k in ROW_KEYS} for r in result.rejected_rows]
            rejected += rows
            known = {e["entry_number"] for e in review}
            review += [e for e in _unrepairable(rows, result.unrepairable_entries) if e["entry_number"] not in known]

        self._apply_facts(org, facts, plaintiffs, rejected, as_of)
        classify_entries(entry_ids=entry_ids, as_of=as_of)
        entries = {e.pk: e for e in Entry.objects.filter(pk__in=entry_ids).select_related("importer")}
        stored = {c.entry_id: c for c in Classification.objects.filter(entry_id__in=entry_ids)}
        out: list[dict[str, Any]] = []
        for pk in entry_ids:
            e, c = entries.get(pk), stored.get(pk)
            if e is None or c is None:
                continue
            out.append({
                "entry_number": e.entry_number, "importer_number": e.importer.ir_number, "path": c.path,
                "reasons": list(c.reasons), "ieepa_duty": _money(e.ieepa_duty),
                "liquidation_status": e.liquidation_status, "liquidation_date": _iso(e.liquidation_date),
                "projected_liquidation_date": _iso(c.projected_liquidation_date),
                "cape_window_closes": _iso(c.cape_window_closes), "protest_deadline": _iso(c.protest_deadline),
                "cit_deadline": _iso(c.cit_deadline), "estimated_interest": _money(c.estimated_interest),
            })
        out += review  # entries whose number could not be repaired: reported, never dropped (R1)
        document = {"ruleset": rules.RULESET, "as_of": as_of.isoformat(), "entries": out, "rejected_rows": rejected}
        Path(opts["json_out"]).write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

        written: list[str] = []
        left_out: list[Any] = []
        if opts.get("cape_dir"):
            written, left_out = self._write_cape(Path(opts["cape_dir"]), org, entry_ids)

        self._summary(out, rejected, files_read, opts["json_out"], written, left_out, as_of)
        if unreadable:
            for message in unreadable:
                self.stderr.write(f"error: {message}")
            sys.exit(1)

    def _apply_facts(self, org: Organization, facts: list[Any], plaintiffs: list[str], rejected: list[dict[str, Any]],
                     as_of: date) -> None:
        for ir in plaintiffs:
            importer = Importer.objects.filter(ir_number=ir).first()
            if importer is None:
                raise CommandError(f"--cit-plaintiff {ir}: no importer of record with this number in the files")
            if not importer.cit_plaintiff:
                Importer.objects.filter(pk=importer.pk).update(cit_plaintiff=True)
                audit(action="importer.fact_set", organization=org, obj=importer, fact="cit_plaintiff", old=False,
                      new=True, source="classify_es003 --cit-plaintiff")
        for parsed in facts:
            result = entry_facts_import(organization=org, user=None, path="", parsed=parsed, as_of=as_of)
            rejected += [{k: e.get(k) for k in ROW_KEYS} for e in result.errors]  # unknown entries

    def _write_cape(self, directory: Path, org: Organization, entry_ids: list[int]) -> tuple[list[str], list[Any]]:
        """The declarations capability's own selection, split and writer: one importer per file, at most
        9,999 entries each; entries already on a submitted or accepted declaration of the organisation
        are left out. Nothing is stored: the files are for the user to check and file."""
        plan = declaration_plan(organization=org, entry_ids=entry_ids, taken_statuses=FILED_STATUSES)
        directory.mkdir(parents=True, exist_ok=True)
        written: list[str] = []
        for key, chunks in sorted(plan.chunks.items(), key=lambda kv: plan.importers[kv[0]].ir_number if kv[0] else ""):
            label = _file_label(plan.importers[key]) if key is not None else "mixed"
            for i, chunk in enumerate(chunks, start=1):
                target = directory / f"cape_{label}_{i:03d}.csv"
                target.write_bytes(render_declaration_csv([r[1] for r in chunk]))
                written.append(str(target))
        return written, plan.left_out

    def _summary(self, out: list[dict[str, Any]], rejected: list[dict[str, Any]], files_read: int, json_out: str,
                 written: list[str], left_out: list[Any], as_of: date) -> None:
        counts: dict[str, int] = defaultdict(int)
        duty: dict[str, Decimal] = defaultdict(Decimal)
        for row in out:
            counts[row["path"]] += 1
            duty[row["path"]] += Decimal(row["ieepa_duty"] or "0")
        w = self.stdout.write
        w(f"Ruleset {rules.RULESET}, as of {as_of.isoformat()}: {len(out)} entries from {files_read} file(s)")
        w(f"{'path':<14} {'entries':>9} {'IEEPA duty':>16}")
        for p in rules.PATHS:
            if counts.get(p):
                w(f"{p:<14} {counts[p]:>9} {duty[p]:>16,.2f}")
        w(f"{'total':<14} {len(out):>9} {sum(duty.values(), Decimal(0)):>16,.2f}")
        urgent = sum(1 for r in out if "urgent" in r["reasons"])
        passed = sum(1 for r in out if "deadline_passed" in r["reasons"])
        w(f"Urgent (deadline within 14 days for CAPE, 30 for a protest, 90 for a court action): {urgent}; "
          f"deadline passed: {passed}")
        w(f"Rejected rows: {len(rejected)}; entries with bad entry numbers: "
          f"{sum(1 for r in out if r['reasons'][:1] == ['bad_entry_number'])}")
        if written:
            w(f"CAPE declaration files: {len(written)} in {Path(written[0]).parent}")
        if left_out:
            w(f"Left out of the CAPE files: {len(left_out)} entr{'y' if len(left_out) == 1 else 'ies'} "
              "already on a submitted or accepted declaration")
            for item in left_out[:LEFT_OUT_SHOWN]:
                w(f"  {item.entry_number}: {item.reason}")
            if len(left_out) > LEFT_OUT_SHOWN:
                w(f"  … and {len(left_out) - LEFT_OUT_SHOWN} more")
        w(f"Results: {json_out}")
