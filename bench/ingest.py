"""ES-003 ingestion benchmark: lines per second, peak memory, and the ratio to a floor measured in the same run.

    DATABASE_URL=postgres://... python bench/ingest.py                      # both goals below
    DATABASE_URL=postgres://... python bench/ingest.py --format xlsx --lines 200000
    DATABASE_URL=postgres://... python bench/ingest.py --format csv --lines 1000000

It generates a deterministic ES-003 (entries.samplegen), then, each in a fresh process so that peak
memory (ru_maxrss) belongs to one phase only:

* floor: read every row (XLSX: python-calamine; CSV: the csv module) and COPY the raw rows, as they
  come, into an unindexed temporary table (SQLite: executemany into a temporary table);
* ingest: the real thing, ``entries.ingest.cli.ingest_files`` (parse, repair, stage, merge, summary) into a
  throw-away organisation, which is deleted afterwards.

Goals (issue 3): 200,000 XLSX lines and 1,000,000 CSV lines each within 2.0 × the floor; peak memory
under 1 GB. Timings are wall-clock on whatever else the machine is doing; run it twice if in doubt.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refundready.settings")
os.environ.setdefault("DEBUG", "true")

GOALS = [("xlsx", 200_000), ("csv", 1_000_000)]
RATIO_GOAL = 2.0
MEMORY_GOAL_MB = 1024
BENCH_IMPORTERS = [("93-417726100", "Blue Heron Housewares Inc"), ("27-418830200", "Cedar Lane Imports LLC")]


def _setup() -> None:
    import django

    django.setup()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def phase_floor(path: Path) -> dict[str, float]:
    _setup()
    from django.db import connection

    start = time.perf_counter()
    if path.suffix == ".xlsx":
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        rows = iter(wb.get_sheet_by_name(wb.sheet_names[0]).iter_rows())
    else:
        fh = path.open(newline="", encoding="utf-8")
        rows = iter(csv.reader(fh))
    first = next(rows)
    while sum(1 for v in first if v not in ("", None)) < 5:  # title lines above the header
        first = next(rows)
    width = 30
    cols = ", ".join(f"c{i} text" for i in range(width))
    n = 0
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_floor")
        cur.execute(f"CREATE TEMPORARY TABLE bench_floor ({cols})")
        names = ", ".join(f"c{i}" for i in range(len(first)))
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY bench_floor ({names}) FROM STDIN") as copy:
                write = copy.write_row
                write(first)
                for row in rows:
                    if len(row) == len(first):
                        write(row)
                        n += 1
        else:
            batch: list[list[object]] = []
            sql = f"INSERT INTO bench_floor ({names}) VALUES ({', '.join(['%s'] * len(first))})"
            for row in rows:
                if len(row) == len(first):
                    batch.append([str(v) for v in row])
                    n += 1
                if len(batch) >= 50_000:
                    cur.executemany(sql, batch)
                    batch.clear()
            cur.executemany(sql, batch)
        cur.execute("DROP TABLE bench_floor")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": n, "peak_mb": _peak_mb()}


def phase_ingest(path: Path) -> dict[str, float]:
    _setup()
    from accounts.models import Importer, Organization
    from accounts.selectors import importers_for
    from entries.ingest.cli import ingest_files
    from entries.models import Entry, TariffLine, Upload

    slug = f"bench-ingest-{os.getpid()}"
    _check_clear()
    org = Organization.objects.create(name="Benchmark broker", slug=slug, kind=Organization.Kind.BROKER)
    try:
        start = time.perf_counter()
        result = ingest_files(organization=org, paths=[path])
        seconds = time.perf_counter() - start
        upload = result.uploads[0]
        if upload.status != Upload.Status.DONE:
            raise SystemExit(f"ingest failed: {upload.error_message}")
        summary = upload.summary
        return {"seconds": seconds, "rows": summary["rows_read"], "lines": summary["lines"],
                "entries": summary["entries_created"], "rejected": summary["rows_rejected"], "peak_mb": _peak_mb()}
    finally:
        # An entry is its importer's (one row per entry number, whoever loaded it): the bench's entries are
        # those of the importers the throw-away organisation sees, which the ingest created for it.
        importer_ids = list(importers_for(org).values_list("pk", flat=True))
        TariffLine.objects.filter(entry__importer_id__in=importer_ids).delete()
        Entry.objects.filter(importer_id__in=importer_ids).delete()
        for upload in Upload.objects.filter(organization=org):
            upload.file.delete(save=False)
        org.delete()
        Importer.objects.filter(pk__in=importer_ids, entries__isnull=True, owner__isnull=True, grants__isnull=True).delete()
        from django.db import connection

        if connection.vendor == "postgresql":  # the next run must not pay for this one's dead rows
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE) entries_tariffline, entries_entry")


def _check_clear() -> None:
    """Entries are unique by entry number across the database: the generated file's entries must not be stored
    yet (a run killed before its cleanup, another benchmark's rows), or the ingest would update, or refuse,
    them instead of creating them, and measure something else."""
    from entries.models import Entry

    irs = [ir for ir, _ in BENCH_IMPORTERS]
    stored = Entry.objects.filter(importer__ir_number__in=irs).count()
    if stored:
        raise SystemExit(f"{stored:,} entries of the bench importers {', '.join(irs)} are already stored (a run killed "
                         "before its cleanup?): delete them, or use a fresh database")


def _child(phase: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--file", str(path)], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(fmt: str, lines: int, workdir: Path) -> bool:
    from entries.samplegen import write_es003

    path = workdir / f"es003-{lines}-seed2026.{fmt}"
    t = time.perf_counter()
    if not path.exists():  # deterministic: a kept --workdir reuses the file of an earlier run
        partial = path.with_suffix(".partial")
        write_es003(partial, lines, fmt=fmt, seed=2026, importers=BENCH_IMPORTERS)
        partial.rename(path)
    gen = time.perf_counter() - t
    floor = _child("floor", path)
    ingest = _child("ingest", path)
    ratio = ingest["seconds"] / floor["seconds"]
    speed_ok, memory_ok = ratio <= RATIO_GOAL, ingest["peak_mb"] < MEMORY_GOAL_MB
    ok = speed_ok and memory_ok and ingest["lines"] == lines
    print(f"{fmt.upper()} {lines:,} lines ({path.stat().st_size / 1024**2:,.1f} MB, generated in {gen:.1f} s)")
    print(f"  floor  : {floor['seconds']:7.2f} s  {floor['rows'] / floor['seconds']:>10,.0f} rows/s   peak {floor['peak_mb']:,.0f} MB")
    print(f"  ingest : {ingest['seconds']:7.2f} s  {ingest['lines'] / ingest['seconds']:>10,.0f} lines/s  peak {ingest['peak_mb']:,.0f} MB"
          f"  ({ingest['entries']:,} entries, {ingest['rejected']} rows rejected)")
    print(f"  ratio  : {ratio:.2f} × floor (goal ≤ {RATIO_GOAL}: {'met' if speed_ok else 'NOT MET'}); "
          f"peak memory goal < {MEMORY_GOAL_MB} MB: {'met' if memory_ok else 'NOT MET'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=["csv", "xlsx"])
    parser.add_argument("--lines", type=int)
    parser.add_argument("--workdir", help="keep the generated files here and reuse them on the next run")
    parser.add_argument("--phase", choices=["floor", "ingest"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        fn = phase_floor if args.phase == "floor" else phase_ingest
        print(json.dumps(fn(Path(args.file))))
        return
    _setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a new benchmark database works at once
    from django.db import connection

    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    if connection.vendor != "postgresql":
        print("  note: the goals are for PostgreSQL (COPY); SQLite takes the simpler executemany path.")
    cases = [(args.format, args.lines)] if args.format or args.lines else GOALS
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        results = [run(fmt or "csv", lines or 100_000, Path(args.workdir)) for fmt, lines in cases]
    else:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            results = [run(fmt or "csv", lines or 100_000, Path(tmp)) for fmt, lines in cases]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
