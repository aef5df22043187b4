"""Benchmark: classify a million entries, then re-classify after a day passes.

    .venv/bin/python bench/classify.py                      # 1,000,000 entries, engine + stored path
    .venv/bin/python bench/classify.py --n 100000 --stored 20000
    .venv/bin/python bench/classify.py --stored 0           # the pure engine only

Two measurements, printed separately:
* engine: the pure ruleset (cape/rules.py) plus the interest estimate over plain input records,
  in this process (target: 1,000,000 entries in at most 30 s on the 2-core machine);
* stored: cape.classify.classify_entries over Entry rows on the configured database (DATABASE_URL;
  default SQLite under DATA_DIR=data/bench), then the nightly run a day later
  (cape.classify.classify_organization), which touches only entries whose result can change.
The stored rows belong to the 20 importers of their own organisation ("bench-classify"; an entry is its
importer's, one row per entry number), deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import random
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

from django.conf import settings  # noqa: E402

settings.DEBUG = False  # no per-query SQL logging while measuring (checked per query by Django)

from cape.interest import estimate_interest  # noqa: E402
from cape.rules import EntryFacts, classify  # noqa: E402
from entries.entrynumber import check_digit  # noqa: E402
from entries.ingest.repairs import normalise_liquidation_status  # noqa: E402

AS_OF = date(2026, 11, 22)
STATUSES = ["Unliquidated", "Liquidated", "Liquidated", "Liquidated", "Suspended", "Extended", "Final", "Under Review"]
TYPES = ["01"] * 12 + ["11", "11", "21", "03", "06", "02", "23", "47", "08", "31"]


def record(rng: random.Random, i: int) -> dict[str, object]:
    """One plain input record, as the ORM's .values() would give it."""
    first10 = f"{'3BZ' if i % 2 else 'B7Q'}{i % 10_000_000:07d}"
    entry_date = date(2025, 2, 4) + timedelta(days=rng.randrange(0, 385))
    status = rng.choice(STATUSES)
    liq = entry_date + timedelta(days=314 + rng.randrange(-21, 60)) if status in ("Liquidated", "Final") else None
    if liq is not None and status == "Liquidated" and rng.random() < 0.02:
        liq = AS_OF + timedelta(days=rng.randrange(1, 30))  # scheduled: a date in the future
    return {
        "entry_number": first10 + str(check_digit(first10)) if rng.random() > 0.001 else first10 + "X",
        "entry_type": rng.choice(TYPES),
        "ieepa_duty": Decimal(rng.randrange(0, 2_000_000)) / 100 if rng.random() > 0.05 else Decimal("0.00"),
        "liquidation_status": status,
        "entry_date": entry_date,
        "entry_summary_date": entry_date + timedelta(days=8),
        "liquidation_date": liq,
        "recon_flag": rng.random() < 0.03,
        "type09_filed": rng.random() < 0.01,
        "protest_status": "open" if rng.random() < 0.02 else "none",
        "drawback": rng.random() < 0.01,
        "corporate": rng.random() < 0.9,
    }


def facts_of(r: dict[str, object]) -> EntryFacts:
    return EntryFacts(
        entry_number=r["entry_number"], entry_type=r["entry_type"], ieepa_duty=r["ieepa_duty"],  # type: ignore[arg-type]
        # The report's spelling as ingestion stores it (the ruleset reads the code).
        liquidation_status=normalise_liquidation_status(r["liquidation_status"]), entry_date=r["entry_date"],  # type: ignore[arg-type]
        entry_summary_date=r["entry_summary_date"], liquidation_date=r["liquidation_date"],  # type: ignore[arg-type]
        recon_flag=r["recon_flag"], type09_filed=r["type09_filed"], protest_status=r["protest_status"],  # type: ignore[arg-type]
        drawback=r["drawback"],  # type: ignore[arg-type]
    )


def bench_engine(n: int) -> None:
    rng = random.Random(2026)
    t = time.perf_counter()
    records = [record(rng, i) for i in range(n)]
    print(f"engine: generated {n:,} plain input records in {time.perf_counter() - t:.1f} s (not timed below)")

    t = time.perf_counter()
    facts = [facts_of(r) for r in records]
    results = [classify(f, AS_OF) for f in facts]
    t_rules = time.perf_counter() - t
    t = time.perf_counter()
    for r, res in zip(records, results, strict=True):
        if res.path != "not_eligible":
            estimate_interest(principal=r["ieepa_duty"], deposit_date=r["entry_summary_date"], as_of=AS_OF,  # type: ignore[arg-type]
                              liquidated=res.liquidated, corporate=r["corporate"])  # type: ignore[arg-type]
    t_interest = time.perf_counter() - t
    total = t_rules + t_interest
    print(f"engine: classified {n:,} entries as of {AS_OF}: rules {t_rules:.1f} s + interest {t_interest:.1f} s "
          f"= {total:.1f} s ({n / total:,.0f} entries/s) {'OK' if total <= 30 * n / 1_000_000 else 'SLOWER THAN TARGET'}")
    paths: dict[str, int] = {}
    for res in results:
        paths[res.path] = paths.get(res.path, 0) + 1
    print("engine: paths " + ", ".join(f"{p} {c:,}" for p, c in sorted(paths.items())))

    next_day = AS_OF + timedelta(days=1)
    t = time.perf_counter()
    due = [i for i, res in enumerate(results) if res.stable_until is not None and res.stable_until <= next_day]
    for i in due:
        results[i] = classify(facts[i], next_day)
    t_due = time.perf_counter() - t
    print(f"engine: a day later ({next_day}): re-classified {len(due):,} of {n:,} entries "
          f"({100 * len(due) / n:.2f} %) in {t_due:.2f} s")
    # The skipped ones really are unchanged (a sample checked against a full re-run).
    sample = random.Random(7).sample(range(n), min(n, 20_000))
    wrong = sum(1 for i in sample if classify(facts[i], next_day).key != results[i].key)
    print(f"engine: check on {len(sample):,} sampled entries: {wrong} differ from a full re-run")


def _bench_importer_ids(org: object) -> list[int]:
    from accounts.models import Importer

    return list(Importer.objects.filter(owner=org, ir_number__startswith="98-7").values_list("pk", flat=True))


def _cleanup(slug: str) -> None:
    """Delete the bench importers' rows table by table (Django's collector would load a million ids)."""
    from django.db import transaction

    from accounts.models import Importer, Organization
    from cape.models import Classification, ClassificationChange
    from entries.models import Entry, TariffLine

    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        return
    ids = _bench_importer_ids(org)
    with transaction.atomic():
        for qs in (ClassificationChange.objects.filter(entry__importer_id__in=ids), Classification.objects.filter(importer_id__in=ids),
                   TariffLine.objects.filter(entry__importer_id__in=ids), Entry.objects.filter(importer_id__in=ids)):
            qs._raw_delete(qs.db)  # bench rows only: nothing else points at them
        Importer.objects.filter(pk__in=ids).delete()
        org.delete()


def bench_stored(n: int, keep: bool, reuse: bool = False) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.models import Importer, Organization
    from cape.models import Classification, ClassificationChange
    from entries.models import Entry

    call_command("migrate", verbosity=0)
    vendor = connection.vendor
    org = Organization.objects.filter(slug="bench-classify").first()
    ids = _bench_importer_ids(org) if org is not None else []
    if reuse and org is not None and Entry.objects.filter(importer_id__in=ids).count() == n:
        with transaction.atomic():  # keep the entries (their setup takes minutes at 1M), drop the results
            for qs in (ClassificationChange.objects.filter(entry__importer_id__in=ids), Classification.objects.filter(importer_id__in=ids)):
                qs._raw_delete(qs.db)
        print(f"stored ({vendor}): reusing the {n:,} entries kept by an earlier --keep run; results deleted")
        _bench_stored_runs(org, vendor, keep)
        return
    _cleanup("bench-classify")
    org = Organization.objects.create(name="Bench classify", slug="bench-classify", kind=Organization.Kind.BROKER)
    importers = [
        Importer.objects.get_or_create(ir_number=f"98-7{k:06d}00", defaults={"name": f"Bench importer {k}", "owner": org})[0]
        for k in range(20)
    ]
    rng = random.Random(99)
    t = time.perf_counter()
    batch: list[Entry] = []
    for i in range(n):
        r = record(rng, i)
        status = normalise_liquidation_status(str(r["liquidation_status"]))
        batch.append(Entry(
            importer=importers[i % len(importers)], entry_number=str(r["entry_number"])[:11],
            entry_type=r["entry_type"], entry_date=r["entry_date"], entry_summary_date=r["entry_summary_date"],
            liquidation_status=status, liquidation_date=r["liquidation_date"], recon_flag=r["recon_flag"],
            type09_filed=r["type09_filed"], protest_status=r["protest_status"], drawback=r["drawback"],
            ieepa_duty=r["ieepa_duty"], total_duty=r["ieepa_duty"], has_liquidation_columns=True,
        ))
        if len(batch) == 20_000:
            with transaction.atomic():
                Entry.objects.bulk_create(batch, batch_size=2000)
            batch = []
    if batch:
        Entry.objects.bulk_create(batch, batch_size=2000)
    print(f"stored ({vendor}): created {n:,} entries in {time.perf_counter() - t:.1f} s (setup, not timed below)")
    _bench_stored_runs(org, vendor, keep)


def _bench_stored_runs(org: object, vendor: str, keep: bool) -> None:
    from django.db import connection

    from cape.classify import classify_entries, classify_organization
    from cape.models import Classification, ClassificationChange

    if vendor == "postgresql":
        with connection.cursor() as cursor:  # fresh statistics and visibility map, as autovacuum would leave them
            cursor.execute("VACUUM ANALYZE entries_entry")
            cursor.execute("VACUUM ANALYZE cape_classification")
    t = time.perf_counter()
    count = classify_entries(organization=org, as_of=AS_OF)  # type: ignore[arg-type]
    first = time.perf_counter() - t
    goal = 30 * count / 1_000_000
    print(f"stored ({vendor}): classify_entries on {count:,} entries (upsert + first change rows) in {first:.1f} s "
          f"({count / first:,.0f} entries/s) {'OK' if first <= goal else 'SLOWER THAN TARGET'} (target {goal:.0f} s)")
    t = time.perf_counter()
    again = classify_entries(organization=org, as_of=AS_OF)  # type: ignore[arg-type]
    print(f"stored ({vendor}): full re-run, same day, {again:,} entries in {time.perf_counter() - t:.1f} s")

    next_day = AS_OF + timedelta(days=1)
    if vendor == "postgresql":
        # A day later autovacuum has analysed the results the first run wrote (this test server runs with it
        # off): without this the nightly run's refresh of the cached figures plans its GROUP BY for an empty
        # table, an index scan over every result (18 s instead of 1 s at a million, loaded).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE cape_classification")
    t = time.perf_counter()
    nightly = classify_organization(organization=org, as_of=next_day)  # type: ignore[arg-type]
    print(f"stored ({vendor}): nightly run a day later touched {nightly.touched:,} of {nightly.total:,} entries "
          f"({100 * nightly.touched / max(1, nightly.total):.2f} %) in {time.perf_counter() - t:.1f} s")
    ids = _bench_importer_ids(org)
    print(f"stored ({vendor}): {Classification.objects.filter(importer_id__in=ids).count():,} classifications, "
          f"{ClassificationChange.objects.filter(entry__importer_id__in=ids).count():,} change rows")
    if not keep:
        t = time.perf_counter()
        _cleanup("bench-classify")
        print(f"stored ({vendor}): cleaned up in {time.perf_counter() - t:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="entries for the pure engine")
    parser.add_argument("--stored", type=int, default=None, help="entries for the stored path (default: --n; 0 skips)")
    parser.add_argument("--keep", action="store_true", help="keep the bench organisation's rows")
    parser.add_argument("--reuse", action="store_true", help="reuse the entries a --keep run left (same --stored)")
    args = parser.parse_args()
    if args.n:
        bench_engine(args.n)
    stored = args.n if args.stored is None else args.stored
    if stored:
        bench_stored(stored, args.keep, args.reuse)


if __name__ == "__main__":
    main()
