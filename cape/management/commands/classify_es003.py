"""classify_es003 FILE [FILE ...] --as-of YYYY-MM-DD --json OUT.json [--cape-dir DIR] [--org SLUG]

Ingests ES-003 files with the same service as the web upload, classifies exactly the entries found
in them as of the given date (ruleset 2026.11), writes OUT.json and prints a summary by path.
Exit status is non-zero only when a file cannot be read at all. Compliance staff script against this
command: keep its arguments and its JSON shape stable.
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

from accounts.models import Organization
from cape import rules


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _money(v: Decimal | None) -> str | None:
    return f"{v:.2f}" if v is not None else None


def _as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of {value!r}: expected a date as YYYY-MM-DD, e.g. 2026-11-22") from None


class Command(BaseCommand):
    help = "Ingest ES-003 files, classify their entries as of a date, and write the results as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="ES-003 exports (CSV or XLSX)")
        parser.add_argument("--as-of", required=True, dest="as_of", help="Classify as of this date (YYYY-MM-DD)")
        parser.add_argument("--json", required=True, dest="json_out", metavar="OUT.json", help="Where to write the results")
        parser.add_argument("--cape-dir", dest="cape_dir", metavar="DIR",
                            help="Write CAPE declaration CSVs for the cape_phase1/cape_phase2 entries here")
        parser.add_argument("--org", default="cli", help="Organisation slug (created if missing; default: cli)")

    def handle(self, *args: Any, **opts: Any) -> None:
        from accounts.services import organization_create
        from cape.classify import classify_entries
        from cape.models import Classification
        from entries.models import Entry
        from entries.services import ingest_files

        as_of = _as_of(opts["as_of"])
        slug = opts["org"]
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            # A broker organisation: ES-003 files from the CLI may hold several importers of record.
            org = organization_create(name=slug, kind=Organization.Kind.BROKER, slug=slug)

        result = ingest_files(organization=org, paths=opts["files"])
        classify_entries(organization=org, entry_ids=result.entry_ids, as_of=as_of)

        entries = {
            e.pk: e for e in Entry.objects.filter(organization=org, pk__in=result.entry_ids).select_related("importer")
        }
        stored = {c.entry_id: c for c in Classification.objects.filter(entry_id__in=result.entry_ids)}
        out: list[dict[str, Any]] = []
        for pk in result.entry_ids:
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
        # Entries whose number could not be repaired (R1): reported, never dropped.
        seen_bad: set[tuple[str, str]] = set()
        for bad in result.unrepairable_entries:
            key = (str(bad.get("entry_number", "")), str(bad.get("importer_number", "")))
            if key in seen_bad:
                continue
            seen_bad.add(key)
            out.append({
                "entry_number": key[0], "importer_number": key[1], "path": rules.Path.NEEDS_REVIEW,
                "reasons": ["bad_entry_number"], "ieepa_duty": None, "liquidation_status": None,
                "liquidation_date": None, "projected_liquidation_date": None, "cape_window_closes": None,
                "protest_deadline": None, "cit_deadline": None, "estimated_interest": None,
                "file": bad.get("file"), "row": bad.get("row"),
            })
        rejected = [
            {k: r.get(k) for k in ("file", "row", "column", "value", "reason")} for r in result.rejected_rows
        ]
        document = {"ruleset": rules.RULESET, "as_of": as_of.isoformat(), "entries": out, "rejected_rows": rejected}
        if result.fatal_errors:
            document["file_errors"] = list(result.fatal_errors)
        Path(opts["json_out"]).write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

        written: list[str] = []
        if opts.get("cape_dir"):
            written = self._write_cape(Path(opts["cape_dir"]), out)

        self._summary(out, rejected, result, opts["json_out"], written, as_of)
        if result.fatal_errors:
            for message in result.fatal_errors:
                self.stderr.write(f"error: {message}")
            sys.exit(1)

    def _write_cape(self, directory: Path, out: list[dict[str, Any]]) -> list[str]:
        from cape.csvfile import render_declaration_csv, split_for_declarations

        directory.mkdir(parents=True, exist_ok=True)
        by_importer: dict[str, list[str]] = defaultdict(list)
        for row in out:
            if row["path"] in rules.CAPE_PATHS:
                by_importer[row["importer_number"]].append(row["entry_number"])
        written = []
        for importer_number in sorted(by_importer):
            numbers = sorted(set(by_importer[importer_number]))
            safe = "".join(ch for ch in importer_number if ch.isalnum() or ch == "-")
            for i, chunk in enumerate(split_for_declarations(numbers, limit=9999), start=1):
                target = directory / f"cape_{safe}_{i:03d}.csv"
                target.write_bytes(render_declaration_csv(chunk))
                written.append(str(target))
        return written

    def _summary(self, out: list[dict[str, Any]], rejected: list[dict[str, Any]], result: Any, json_out: str,
                 written: list[str], as_of: date) -> None:
        counts: dict[str, int] = defaultdict(int)
        duty: dict[str, Decimal] = defaultdict(Decimal)
        for row in out:
            counts[row["path"]] += 1
            duty[row["path"]] += Decimal(row["ieepa_duty"] or "0")
        w = self.stdout.write
        w(f"Ruleset {rules.RULESET}, as of {as_of.isoformat()}: {len(out)} entries from {len(result.uploads)} file(s)")
        w(f"{'path':<14} {'entries':>9} {'IEEPA duty':>16}")
        for p in rules.PATHS:
            if counts.get(p):
                w(f"{p:<14} {counts[p]:>9} {duty[p]:>16,.2f}")
        w(f"{'total':<14} {len(out):>9} {sum(duty.values(), Decimal(0)):>16,.2f}")
        urgent = sum(1 for r in out if "urgent" in r["reasons"])
        passed = sum(1 for r in out if "deadline_passed" in r["reasons"])
        w(f"Urgent (deadline within 14 days): {urgent}; deadline passed: {passed}")
        w(f"Rejected rows: {len(rejected)}; entries with unrepairable numbers: "
          f"{sum(1 for r in out if r['reasons'] == ['bad_entry_number'])}")
        if written:
            w(f"CAPE declaration files: {len(written)} in {Path(written[0]).parent}")
        w(f"Results: {json_out}")
