"""Benchmark: build and write CAPE declarations for a million eligible entries.

    .venv/bin/python bench/cape.py                      # 1,000,000 entries: pure + stored
    .venv/bin/python bench/cape.py --n 100000
    .venv/bin/python bench/cape.py --stored 0           # the pure split + render only

Measurements, printed separately (target: 1,000,000 entries built and written in at most 20 s):
* pure: cape.csvfile.split_for_declarations + render_declaration_csv + SHA-256 over plain strings;
* stored: cape.declarations.declaration_build on the configured database (DATABASE_URL; default
  SQLite under DATA_DIR=data/bench): read the eligible classifications, leave out taken entries,
  split, render, store each declaration's bytes and SHA-256 and its DeclarationEntry rows, audit;
* preflight: every check on every declaration built (reported on its own; it runs again at download).
The rows live in their own organisation ("bench-cape") and its importers (an entry is its importer's, one
row per entry number), deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refundready.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DATA_DIR", str(ROOT / "data" / "bench"))
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")

import django  # noqa: E402

django.setup()

from cape.csvfile import render_declaration_csv, split_for_declarations  # noqa: E402
from entries.entrynumber import check_digit  # noqa: E402

IMPORTERS = 25


def numbers(n: int) -> list[str]:
    out = []
    for i in range(n):
        first10 = f"{'3BZ' if i % 2 else 'B7Q'}{i // 2:07d}"
        out.append(first10 + str(check_digit(first10)))
    return out


def bench_pure(nums: list[str]) -> float:
    t = time.perf_counter()
    total = 0
    files = 0
    for chunk in split_for_declarations(nums):
        data = render_declaration_csv(chunk)
        hashlib.sha256(data).hexdigest()
        total += len(data)
        files += 1
    elapsed = time.perf_counter() - t
    print(f"pure   split+render+sha256: {len(nums):>9,} entries → {files} files, {total / 1e6:.1f} MB in {elapsed:6.2f} s "
          f"({len(nums) / elapsed:,.0f} entries/s)")
    return elapsed


def cleanup(org) -> None:  # type: ignore[no-untyped-def]
    from accounts.models import AuditLog, Importer
    from cape.models import Classification, Declaration, DeclarationEntry
    from entries.models import Entry

    db = "default"
    ids = list(Importer.objects.filter(owner=org).values_list("pk", flat=True))
    DeclarationEntry.objects.filter(declaration__organization=org)._raw_delete(db)  # type: ignore[attr-defined]
    Declaration.objects.filter(organization=org)._raw_delete(db)  # type: ignore[attr-defined]
    Classification.objects.filter(importer_id__in=ids)._raw_delete(db)  # type: ignore[attr-defined]
    Entry.objects.filter(importer_id__in=ids)._raw_delete(db)  # type: ignore[attr-defined]
    AuditLog.objects.filter(organization=org)._raw_delete(db)  # type: ignore[attr-defined]
    Importer.objects.filter(owner=org).delete()
    org.delete()


def _load_pg(importers, nums: list[str], today: date) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: the entries by one COPY, their classifications by one INSERT ... SELECT (seconds)."""
    from django.db import connection

    ids = [i.pk for i in importers]
    with connection.cursor() as cur:
        text = "".join(f"{ids[k % IMPORTERS]}\t{n}\n" for k, n in enumerate(nums))
        cur.execute("CREATE TEMP TABLE bench_nums (importer_id bigint, entry_number varchar(11))")
        with cur.cursor.copy("COPY bench_nums FROM STDIN") as copy:
            copy.write(text)
        cur.execute("""
            INSERT INTO entries_entry (importer_id, entry_number, entry_type, port_code, filer_code,
                filer_name, liquidation_status, liquidation_status_raw, recon_flag, psc_flag, protest_number, protest_status,
                type09_filed, drawback, ieepa_duty, total_duty, has_liquidation_columns, created_at, updated_at)
            SELECT importer_id, entry_number, '01', '', left(entry_number, 3), '', 'unliquidated', '',
                false, false, '', 'none', false, false, 125.00, 125.00, true, now(), now()
            FROM bench_nums""")
        cur.execute("DROP TABLE bench_nums")
        cur.execute("""
            INSERT INTO cape_classification (entry_id, importer_id, ieepa_duty, path, reasons, reasons_text,
                urgent, deadline_passed, protest_deadline_projected, liquidated, ruleset, as_of, computed_at, stable_until,
                interest_note, interest_uncertain)
            SELECT e.id, e.importer_id, e.ieepa_duty,
                CASE WHEN e.id %% 10 = 0 THEN 'cape_phase2' ELSE 'cape_phase1' END, '[]'::jsonb, '', false, false, false,
                false, 'bench', %s, now(), %s, '', false
            FROM entries_entry e WHERE e.importer_id = ANY(%s)""", [today, date(today.year + 1, 1, 1), ids])


def bench_stored(nums: list[str], keep: bool, preflight: bool = True) -> bool:
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Importer, Organization
    from cape.declarations import declaration_build, declaration_preflight
    from cape.models import Classification, Declaration, Path
    from entries.models import Entry

    call_command("migrate", verbosity=0)
    old = Organization.objects.filter(slug="bench-cape").first()
    if old is not None:
        cleanup(old)
    org = Organization.objects.create(name="Bench CAPE broker", slug="bench-cape", kind=Organization.Kind.BROKER)
    importers = [Importer.objects.create(ir_number=f"{10 + i:02d}-99{i:05d}00", name=f"Bench importer {i}", owner=org,
                                         status=Importer.Status.ACTIVE) for i in range(IMPORTERS)]
    t = time.perf_counter()
    from django.utils import timezone

    today = timezone.localdate()
    batch = 20_000
    if connection.vendor == "postgresql":
        _load_pg(importers, nums, today)
    for start in range(0, len(nums) if connection.vendor != "postgresql" else 0, batch):
        part = nums[start : start + batch]
        created = Entry.objects.bulk_create([
            Entry(importer=importers[(start + i) % IMPORTERS], entry_number=n, entry_type="01",
                  ieepa_duty=Decimal("125.00"), total_duty=Decimal("125.00"), liquidation_status="unliquidated")
            for i, n in enumerate(part)
        ], batch_size=batch)
        if created[0].pk is None:  # SQLite before RETURNING support
            created = list(Entry.objects.filter(importer__in=importers, entry_number__in=part))
        Classification.objects.bulk_create([
            Classification(entry_id=e.pk, importer_id=e.importer_id, ieepa_duty=e.ieepa_duty,
                           path=Path.CAPE_PHASE1 if i % 10 else Path.CAPE_PHASE2, ruleset="bench", as_of=today,
                           stable_until=date(today.year + 1, 1, 1))
            for i, e in enumerate(created)
        ], batch_size=batch)
    if connection.vendor == "postgresql":
        # Planner statistics for the freshly loaded tables, as autovacuum would gather within a minute of a
        # bulk load in production (this test server runs with autovacuum off, so without this the planner
        # thinks the tables are empty and joins a million rows with nested loops).
        with connection.cursor() as cur:
            cur.execute("ANALYZE entries_entry, cape_classification, cape_declarationentry, cape_declaration")
    print(f"setup  {len(nums):,} entries + classifications on {connection.vendor} in {time.perf_counter() - t:.1f} s (not measured)")
    try:
        t = time.perf_counter()
        result = declaration_build(organization=org, run_checks=False)
        elapsed = time.perf_counter() - t
        stored = sum(len(bytes(b)) for b in Declaration.objects.filter(organization=org).values_list("file_bytes", flat=True))
        print(f"stored declaration_build:   {result.entry_count:>9,} entries → {len(result.declarations)} declarations "
              f"({IMPORTERS} importers, one per file), {stored / 1e6:.1f} MB stored in {elapsed:6.2f} s "
              f"({result.entry_count / elapsed:,.0f} entries/s) {'OK' if elapsed <= 20 else 'OVER the 20 s target'}")
        if preflight:
            t = time.perf_counter()
            for d in result.declarations:
                declaration_preflight(declaration=d)
            pre = time.perf_counter() - t
            print(f"stored preflight (all):     {result.entry_count:>9,} entries, {len(result.declarations)} declarations in {pre:6.2f} s")
        return elapsed <= 20 * len(nums) / 1_000_000
    finally:
        if not keep:
            t = time.perf_counter()
            cleanup(org)
            print(f"cleanup in {time.perf_counter() - t:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="entries for the pure measurement")
    parser.add_argument("--stored", type=int, default=None, help="entries for the stored measurement (default: --n; 0 skips)")
    parser.add_argument("--keep", action="store_true", help="keep the bench rows")
    parser.add_argument("--no-preflight", action="store_true", help="skip the (separately reported) preflight of every declaration")
    args = parser.parse_args()
    nums = numbers(args.n)
    bench_pure(nums)
    stored = args.n if args.stored is None else args.stored
    if stored:
        ok = bench_stored(nums[:stored] if stored <= len(nums) else numbers(stored), args.keep, preflight=not args.no_preflight)
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
