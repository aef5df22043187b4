"""Load benchmark: 20 users browsing while an ES-003 ingest and a nightly classification run (issue 9).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rr_rel .venv/bin/python bench/load.py
    DATABASE_URL=... .venv/bin/python bench/load.py --entries 50000 --ingest-lines 20000 --seconds 20   # quick run
    DATABASE_URL=... .venv/bin/python bench/load.py --reuse     # keep the rows bench/web.py loaded last time

1. Loads a broker organisation with --entries entries and their classifications (bench/web.py's loader:
   set-based INSERT ... SELECT, PostgreSQL only).
2. Starts gunicorn (2 workers, DEBUG off) on 127.0.0.1 only.
3. Idle: --users threads, each logged in with its own session, browse for --seconds: the portfolio,
   pages of entries (first page and filtered), an entry, importers, CAPE, ACH, the uploads list.
4. Busy: the same browsing while, in two other processes, an ES-003 of --ingest-lines lines is ingested
   into the same organisation (entries.ingest.cli.ingest_files) and the nightly classification runs over
   every entry (cape.classify.classify_organization; the bench rows carry another ruleset, so all of
   them are due: the worst night, after a ruleset change). Browsing goes on until both finish (at most
   --max-busy-seconds).
5. Prints, per page kind: requests, errors, idle p95, busy p95, and the ratio (goal: no error, p95 within 2x).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refundready.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DATA_DIR", str(ROOT / "data" / "bench"))

import web  # noqa: E402  (bench/web.py: loader, gunicorn, login, HTTP client)

RATIO_GOAL = 2.0
LOAD_IMPORTER = ("77-999999900", "Bench Load Importer Co")


def pages(entry_ids: list[int], importer_ids: list[int]) -> list[tuple[str, str]]:
    out = [
        ("portfolio", "/dashboard/"),
        ("entries", "/entries/"),
        ("entries", "/entries/?path=cape_phase1"),
        ("importers", "/accounts/importers/"),
        ("cape", "/cape/"),
        ("ach", "/ach/"),
        ("uploads", "/entries/uploads/"),
    ]
    out += [("entry", f"/entries/{pk}/") for pk in entry_ids[:50]]
    out += [("client", f"/dashboard/importers/{pk}/") for pk in importer_ids[:20]]
    return out


def browse(
    port: int, sessions: list[dict[str, str]], plan: list[tuple[str, str]], stop: threading.Event, seconds: float
) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def user(k: int) -> None:
        c = web.Client(port, sessions[k])
        i = k * 7
        while not stop.is_set() and time.monotonic() < deadline:
            # every page kind equally often; within a kind, its paths in turn
            kinds = sorted({kd for kd, _ in plan})
            kind = kinds[i % len(kinds)]
            paths = [p for kd, p in plan if kd == kind]
            path = paths[(i // len(kinds)) % len(paths)]
            i += 1
            t = time.perf_counter()
            try:
                status, _, _ = c.request("GET", path)
            except Exception as exc:  # a dropped connection is an error too
                status = 0
                c = web.Client(port, sessions[k])
                detail = f"{path}: {exc.__class__.__name__}"
            else:
                detail = f"{path}: HTTP {status}"
            dt = time.perf_counter() - t
            with lock:
                timings[kind].append(dt)
                if status != 200:
                    errors[kind].append(detail)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(len(sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return timings, errors


def phase(name: str, slug: str, lines: int) -> None:
    """Run in a child process: the ingest or the nightly classification, at a worker's CPU priority."""
    web.setup_django()
    from refundready.celery import lower_priority

    lower_priority()  # what a Celery worker does at start (WORKER_NICE)
    from django.conf import settings

    from accounts.models import Organization

    org = Organization.objects.get(slug=slug)
    t0 = time.perf_counter()
    if name == "ingest":
        from entries.ingest.cli import ingest_files
        from entries.samplegen import write_es003

        # Its own importer of record (created for the bench organisation by the ingest; bench/web.py's loader
        # removes it with the other "77-" importers), not the sample's Blue Heron, which bench/ingest.py loads
        # into an organisation of its own: an importer's entries are loaded by the organisations that serve it.
        path = Path(os.environ["DATA_DIR"]) / f"load-es003-{lines}-{LOAD_IMPORTER[0]}.csv"
        if not path.exists():
            write_es003(path, lines, seed=11, first_serial=3300000, importers=[LOAD_IMPORTER])
        t0 = time.perf_counter()
        result = ingest_files(organization=org, paths=[path])
        upload = result.uploads[0]
        print(
            json.dumps(
                {
                    "phase": "ingest",
                    "seconds": time.perf_counter() - t0,
                    "status": upload.status,
                    "lines": upload.summary.get("lines"),
                    "error": upload.error_message,
                }
            )
        )
    else:
        from cape.classify import classify_organization, today_eastern

        r = classify_organization(organization=org, as_of=today_eastern())
        print(
            json.dumps(
                {"phase": "classify", "seconds": time.perf_counter() - t0, "touched": r.touched, "total": r.total,
                 "job_yield": settings.JOB_YIELD}
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--importers", type=int, default=200)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--ingest-lines", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=45, help="idle browsing time")
    parser.add_argument("--max-busy-seconds", type=float, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--phase", choices=["ingest", "classify"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args.phase, web.SLUG, args.ingest_lines)
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("bench/load.py needs PostgreSQL: DATABASE_URL=postgres://...")
    web.setup_django()
    if not args.reuse:
        web.load(args.importers, args.entries)
    from django.db import connection

    from accounts.models import Organization
    from accounts.selectors import importers_for
    from entries.models import Entry

    org = Organization.objects.get(slug=web.SLUG)
    seen = list(importers_for(org).values_list("pk", flat=True))
    with connection.cursor() as cur:  # the bench rows carry ruleset 'bench': the night reclassifies them all
        cur.execute("UPDATE cape_classification SET ruleset = 'bench' WHERE importer_id = ANY(%s)", [seen])
        # as autovacuum would leave them before the night: without it each run browses the previous runs'
        # million dead rows and the idle figures drift from run to run
        cur.execute("VACUUM ANALYZE cape_classification")
        cur.execute("VACUUM ANALYZE entries_entry")
    entries = Entry.objects.filter(importer_id__in=seen)
    entry_ids = list(entries.order_by("?").values_list("pk", flat=True)[:50])
    importer_ids = list(entries.values_list("importer_id", flat=True).distinct()[:20])
    total = entries.count()
    connection.close()
    plan = pages(entry_ids, importer_ids)

    # Web and jobs share one cache, as in production (Redis there): the jobs see the web busy and pace
    # themselves (refundready.pacing, JOB_YIELD). Without Redis in the environment, a cache in files.
    if os.environ.get("REDIS_CACHE_URL") or os.environ.get("REDIS_URL"):
        shared = {"REDIS_CACHE_URL": os.environ.get("REDIS_CACHE_URL") or os.environ["REDIS_URL"]}
    else:
        shared = {"CACHE_DIR": str(Path(os.environ["DATA_DIR"]) / "load-cache")}
    server = web.start_server(args.port, args.workers, shared)
    try:
        sessions = [web.login(args.port) for _ in range(args.users)]
        for _, path in plan[:10]:  # warm each worker
            for _ in range(args.workers):
                web.Client(args.port, sessions[0]).request("GET", path)
        print(f"{total:,} entries; {args.users} users; idle browsing for {args.seconds:.0f} s ...", flush=True)
        idle, idle_errors = browse(args.port, sessions, plan, threading.Event(), args.seconds)

        env = {**os.environ, **shared}
        children = [
            subprocess.Popen(
                [sys.executable, __file__, "--phase", name, "--ingest-lines", str(args.ingest_lines)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("ingest", "classify")
        ]
        stop = threading.Event()

        def watch() -> None:
            for child in children:
                child.wait()
            stop.set()

        threading.Thread(target=watch, daemon=True).start()
        t0 = time.perf_counter()
        busy, busy_errors = browse(args.port, sessions, plan, stop, args.max_busy_seconds)
        busy_seconds = time.perf_counter() - t0
        for child in children:
            out, err = child.communicate(timeout=args.max_busy_seconds)
            line = out.strip().splitlines()[-1] if out.strip() else ""
            print(f"background: {line or ('FAILED: ' + err[-800:])}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)

    print(f"busy browsing lasted {busy_seconds:.0f} s")
    print(f"{'page':10} {'idle n':>7} {'idle p95':>9} {'busy n':>7} {'busy p95':>9} {'ratio':>6} {'errors':>6}")
    ok = True
    for kind in sorted(idle):
        i95 = web.percentile(idle[kind], 95) * 1000
        b95 = web.percentile(busy[kind], 95) * 1000 if busy.get(kind) else float("nan")
        n_err = len(idle_errors.get(kind, [])) + len(busy_errors.get(kind, []))
        ratio = b95 / i95 if i95 else float("nan")
        ok &= n_err == 0 and ratio <= RATIO_GOAL
        print(
            f"{kind:10} {len(idle[kind]):7} {i95:8.0f}ms {len(busy.get(kind, [])):7} {b95:8.0f}ms {ratio:6.2f} {n_err:6}"
        )
    all_errors = [e for d in (idle_errors, busy_errors) for v in d.values() for e in v]
    print(f"errors: {len(all_errors)}" + (f" (e.g. {all_errors[:3]})" if all_errors else ""))
    print(f"goal (no error, busy p95 <= {RATIO_GOAL:.0f} x idle p95 for every page): {'OK' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
