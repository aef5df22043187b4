"""Benchmark: draft protests for 200 importers and 100,000 protest-path entries, with their spreadsheets.

    DATABASE_URL=postgres://... .venv/bin/python bench/protests.py             # 200 importers, 100,000 entries
    .venv/bin/python bench/protests.py --n 10000 --importers 20

Measured (goal: at most 20 s for 100,000 entries on PostgreSQL, issue #22):
* draft: protests.services.protest_drafts_build over every importer: read the protest-path classifications,
  leave out taken entries, read each entry's tariff lines, split under the ACE attachment limit, render each
  protest's Protest Details Spreadsheet (XLSX and CSV), write the protests, their files and their entries, audit;
* spreadsheets: every protest's two files read back as a download serves them (protests.exports), sizes checked.
Each entry has two IEEPA lines (9903.01.25, 9903.02.01) after their commodity rows. The rows live in their own
organisation ("bench-protests"), deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
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

from entries.entrynumber import check_digit  # noqa: E402

GOAL_SECONDS = 20.0
GOAL_ENTRIES = 100_000


def numbers(n: int) -> list[str]:
    out = []
    for i in range(n):
        first10 = f"P{'R' if i % 2 else 'T'}X{i // 2:07d}"
        out.append(first10 + str(check_digit(first10)))
    return out


def cleanup(org) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from accounts.models import AuditLog, Importer
    from cape.models import Classification
    from entries.models import Entry, TariffLine
    from protests.models import Protest, ProtestEntry

    db = "default"
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:  # joins, not an IN over a subquery (minutes at 100,000 rows)
            cur.execute("DELETE FROM protests_protestentry i USING protests_protest p WHERE i.protest_id = p.id "
                        "AND p.organization_id = %s", [org.pk])
            cur.execute("DELETE FROM entries_tariffline t USING entries_entry e, accounts_importer i WHERE t.entry_id = e.id "
                        "AND e.importer_id = i.id AND i.owner_id = %s", [org.pk])
    else:
        ProtestEntry.objects.filter(protest__organization=org)._raw_delete(db)  # type: ignore[attr-defined]
        TariffLine.objects.filter(entry__importer__owner=org)._raw_delete(db)  # type: ignore[attr-defined]
    Protest.objects.filter(organization=org)._raw_delete(db)  # type: ignore[attr-defined]
    Classification.objects.filter(importer__owner=org)._raw_delete(db)  # type: ignore[attr-defined]
    Entry.objects.filter(importer__owner=org)._raw_delete(db)  # type: ignore[attr-defined]
    AuditLog.objects.filter(organization=org)._raw_delete(db)  # type: ignore[attr-defined]
    Importer.objects.filter(owner=org).delete()
    org.delete()


def _load_pg(org, importer_ids: list[int], nums: list[str], today: date) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: entries by one COPY, classifications and tariff lines by INSERT ... SELECT (seconds)."""
    from django.db import connection

    k = len(importer_ids)
    with connection.cursor() as cur:
        text = "".join(f"{importer_ids[i % k]}\t{n}\t{i}\n" for i, n in enumerate(nums))
        cur.execute("CREATE TEMP TABLE bench_nums (importer_id bigint, entry_number varchar(11), i int)")
        with cur.cursor.copy("COPY bench_nums FROM STDIN") as copy:
            copy.write(text)
        # Liquidated 80-179 days ago: rule R9, the protest path (deadline = liquidation + 180 days).
        cur.execute("""
            INSERT INTO entries_entry (importer_id, entry_number, entry_type, port_code, filer_code,
                filer_name, liquidation_status, liquidation_status_raw, liquidation_date, entry_date, entry_summary_date,
                recon_flag, psc_flag, protest_number, protest_status, type09_filed, drawback, ieepa_duty, total_duty,
                has_liquidation_columns, created_at, updated_at)
            SELECT importer_id, entry_number, '01', (ARRAY['2704','1001','3901','5301'])[1 + i %% 4],
                left(entry_number, 3), '', 'liquidated', 'Liquidated', %s::date - (80 + i %% 100), %s::date - 400,
                %s::date - 395, false, false, '', 'none', false, false, 187.50, 240.00, true, now(), now()
            FROM bench_nums""", [today, today, today])
        cur.execute("DROP TABLE bench_nums")
        cur.execute("""
            INSERT INTO cape_classification (entry_id, importer_id, ieepa_duty, path, reasons, reasons_text,
                urgent, deadline_passed, protest_deadline, protest_deadline_projected, deadline, liquidated,
                days_since_liquidation, estimated_interest, ruleset, as_of, computed_at, stable_until, interest_note,
                interest_uncertain)
            SELECT e.id, e.importer_id, e.ieepa_duty, 'protest', '["cape_window_passed"]'::jsonb,
                '|cape_window_passed|', false, false, e.liquidation_date + 180, false, e.liquidation_date + 180, true,
                %s::date - e.liquidation_date, 9.42, 'bench', %s, now(), %s, '', false
            FROM entries_entry e WHERE e.importer_id = ANY(%s)""", [today, today, today + timedelta(days=1), importer_ids])
        cur.execute("""
            INSERT INTO entries_tariffline (entry_id, line_number, ordinal, hts, duty, country_of_origin, is_ieepa)
            SELECT e.id, l.line, l.ord, l.hts, l.duty, 'CN', l.ieepa
            FROM entries_entry e CROSS JOIN (VALUES
                (1, 1, '3923900080', 12.00, false), (1, 2, '9903012500', 125.00, true),
                (2, 1, '7323930000', 41.00, false), (2, 2, '9903020100', 62.50, true)) AS l(line, ord, hts, duty, ieepa)
            WHERE e.importer_id = ANY(%s)""", [importer_ids])
        cur.execute("ANALYZE entries_entry, entries_tariffline, cape_classification, protests_protest, protests_protestentry")


def _load_orm(org, importer_ids: list[int], nums: list[str], today: date) -> None:  # type: ignore[no-untyped-def]
    from cape.models import Classification, Path
    from entries.models import Entry, TariffLine

    k = len(importer_ids)
    for start in range(0, len(nums), 5000):
        part = nums[start:start + 5000]
        created = Entry.objects.bulk_create([
            Entry(importer_id=importer_ids[(start + i) % k], entry_number=n, entry_type="01",
                  port_code="2704", liquidation_status="liquidated", liquidation_date=today - timedelta(days=80 + (start + i) % 100),
                  ieepa_duty=Decimal("187.50"), total_duty=Decimal("240.00"))
            for i, n in enumerate(part)])
        if created[0].pk is None:
            created = list(Entry.objects.filter(entry_number__in=part))
        Classification.objects.bulk_create([
            Classification(entry_id=e.pk, importer_id=e.importer_id, ieepa_duty=e.ieepa_duty, path=Path.PROTEST,
                           protest_deadline=e.liquidation_date + timedelta(days=180), deadline=e.liquidation_date + timedelta(days=180),
                           estimated_interest=Decimal("9.42"), ruleset="bench", as_of=today) for e in created])
        TariffLine.objects.bulk_create([
            TariffLine(entry_id=e.pk, line_number=line, ordinal=ordinal, hts=hts, duty=Decimal(duty), is_ieepa=ieepa)
            for e in created for line, ordinal, hts, duty, ieepa in (
                (1, 1, "3923900080", "12.00", False), (1, 2, "9903012500", "125.00", True),
                (2, 1, "7323930000", "41.00", False), (2, 2, "9903020100", "62.50", True))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=GOAL_ENTRIES, help="protest-path entries")
    parser.add_argument("--importers", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the bench rows")
    args = parser.parse_args()

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Importer, Organization
    from protests.exports import protest_csv, protest_xlsx
    from protests.models import Protest
    from protests.services import protest_drafts_build

    call_command("migrate", verbosity=0)
    old = Organization.objects.filter(slug="bench-protests").first()
    if old is not None:
        cleanup(old)
    org = Organization.objects.create(name="Bench protests broker", slug="bench-protests", kind=Organization.Kind.BROKER)
    Importer.objects.bulk_create([
        Importer(ir_number=f"{10 + i % 89:02d}-88{i:05d}00", name=f"Bench protest importer {i}", owner=org,
                 status=Importer.Status.ACTIVE) for i in range(args.importers)])
    ids = list(Importer.objects.filter(owner=org).order_by("pk").values_list("pk", flat=True))
    today = timezone.localdate()
    nums = numbers(args.n)
    t = time.perf_counter()
    (_load_pg if connection.vendor == "postgresql" else _load_orm)(org, ids, nums, today)
    print(f"setup  {args.n:,} protest-path entries, {2 * args.n:,} IEEPA lines, {len(ids)} importers on {connection.vendor} "
          f"in {time.perf_counter() - t:.1f} s (not measured)")
    try:
        t0 = time.perf_counter()
        result = protest_drafts_build(organization=org, user=None, as_of=today)
        drafted = time.perf_counter() - t0
        xlsx_bytes = csv_bytes = 0
        largest = 0
        t1 = time.perf_counter()
        for protest in Protest.objects.filter(pk__in=[p.pk for p in result.protests]).select_related("importer"):
            x, c = protest_xlsx(protest), protest_csv(protest)
            xlsx_bytes += len(x)
            csv_bytes += len(c)
            largest = max(largest, len(x), len(c))
        sheets = time.perf_counter() - t1
        total = time.perf_counter() - t0
        entries = sum(p.entry_count for p in result.protests)
        goal = GOAL_SECONDS * args.n / GOAL_ENTRIES
        print(f"draft       {entries:>9,} entries → {len(result.protests)} protests ({len(ids)} importers), spreadsheets "
              f"made, in {drafted:6.2f} s")
        print(f"spreadsheets {len(result.protests)} XLSX ({xlsx_bytes / 1e6:.1f} MB) + {len(result.protests)} CSV "
              f"({csv_bytes / 1e6:.1f} MB) read back, largest {largest / 1e6:.2f} MB, in {sheets:6.2f} s")
        print(f"total       {total:6.2f} s for {args.n:,} entries (goal {goal:.1f} s) {'OK' if total <= goal else 'OVER the goal'}")
        ok = total <= goal and entries == args.n and largest < 10_000_000
        sys.exit(0 if ok else 1)
    finally:
        if not args.keep:
            t = time.perf_counter()
            cleanup(org)
            print(f"cleanup in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
