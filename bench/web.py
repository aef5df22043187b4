"""Benchmark: the broker portfolio and the entries list under concurrent requests, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rr_web .venv/bin/python bench/web.py
    DATABASE_URL=... .venv/bin/python bench/web.py --importers 20 --entries 50000 --requests 100   # quick run
    DATABASE_URL=... .venv/bin/python bench/web.py --reuse          # keep the loaded rows from the last run

1. Loads one broker organisation ("bench-web") with --importers client importers (ACH enrolments,
   readiness state, a finished ES-003 upload) and --entries entries spread over them, each with a
   classification (path, deadline, urgency, IEEPA duty), by set-based INSERT ... SELECT over
   generate_series (seconds, not minutes), then VACUUM ANALYZE.
2. Starts a real server: gunicorn with 2 workers on 127.0.0.1 (DEBUG off; no TLS redirect; persistent
   database connections, DB_CONN_MAX_AGE=60 as docker-compose.yml's web service, unless set).
3. Logs in through the real login form (session cookie), warms each worker, then sends --requests
   requests per page from --threads threads (bounded by --seconds): the portfolio (/dashboard/, sorted
   and filtered variants) and pages of entries (/entries/, first, later and last pages, column sorts, a search, filters).
4. Prints p50 / p95 / max per page against the goals: portfolio p95 <= 300 ms, entries p95 <= 200 ms,
   then p50 / p95 per variant, and the load average (the machine may be shared).

Loopback only; the server is stopped at the end. Rows stay in the database (rerun with --reuse).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refundready.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DATA_DIR", str(ROOT / "data" / "bench"))

SLUG = "bench-web"
USERNAME = "bench-web"
PASSWORD = "bench-web-password-9"
GOALS = {"portfolio": 0.300, "entries": 0.200}


def setup_django() -> None:
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False


def load(n_importers: int, n_entries: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Importer, ImporterGrant, Membership, Organization, ReadinessState
    from accounts.selectors import importers_for
    from ach.models import AchEnrollment
    from cape.classify import today_eastern
    from entries.models import Upload

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    old = Organization.objects.filter(slug=SLUG).first()
    if old is not None:
        # An entry is its importer's (one row per entry number): the bench rows are those of the importers the
        # bench organisation sees (its clients, and those bench/load.py's ingest created for it).
        old_ids = list(importers_for(old).values_list("pk", flat=True))
        with connection.cursor() as cur:
            # set-based delete (the ORM's cascade would load a million rows)
            cur.execute(
                "DELETE FROM cape_classificationchange WHERE entry_id IN "
                "(SELECT id FROM entries_entry WHERE importer_id = ANY(%s))",
                [old_ids],
            )
            cur.execute("DELETE FROM cape_classification WHERE importer_id = ANY(%s)", [old_ids])
            cur.execute(
                "DELETE FROM entries_tariffline WHERE entry_id IN (SELECT id FROM entries_entry WHERE importer_id = ANY(%s))",
                [old_ids],
            )
            cur.execute("DELETE FROM entries_entry WHERE importer_id = ANY(%s)", [old_ids])
        Importer.objects.filter(ir_number__startswith="77-").delete()
        old.delete()
        print(f"load: removed the previous bench rows in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    with transaction.atomic():
        org = Organization.objects.create(name="Bench Customs Brokerage", slug=SLUG, kind=Organization.Kind.BROKER)
        User = get_user_model()
        user = User.objects.filter(username=USERNAME).first() or User.objects.create_user(
            USERNAME, f"{USERNAME}@example.com", PASSWORD
        )
        user.set_password(PASSWORD)
        user.save()
        Membership.objects.create(user=user, organization=org, role=Membership.Role.STAFF)
        importers = Importer.objects.bulk_create(
            [
                Importer(
                    ir_number=f"77-{k:07d}00", name=f"Bench Client {k:03d} Trading Co", status=Importer.Status.ACTIVE
                )
                for k in range(n_importers)
            ]
        )
        ImporterGrant.objects.bulk_create([ImporterGrant(importer=i, organization=org) for i in importers])
        statuses = [AchEnrollment.Status.ACTIVE] * 6 + [AchEnrollment.Status.ENTERED, AchEnrollment.Status.REJECTED]
        AchEnrollment.objects.bulk_create(
            [AchEnrollment(importer=i, status=statuses[k % len(statuses)]) for k, i in enumerate(importers) if k % 5]
        )
        ReadinessState.objects.bulk_create([ReadinessState(importer=i, ace_account="active") for i in importers[::2]])
        upload = Upload.objects.create(
            organization=org,
            original_name="bench-es003.csv",
            status=Upload.Status.DONE,
            finished_at=timezone.now(),
            rows_total=n_entries,
            rows_read=n_entries,
        )
    ids = [i.pk for i in importers]
    today = today_eastern()
    with connection.cursor() as cur:
        # Entries: importer round-robin, a unique 11-character number, duty 0-20,000 dollars.
        cur.execute(
            """
            INSERT INTO entries_entry (importer_id, entry_number, entry_type, entry_date, entry_summary_date,
                port_code, filer_code, filer_name, liquidation_status, liquidation_status_raw, liquidation_date, recon_flag,
                psc_flag, protest_number, protest_status, type09_filed, drawback, ieepa_duty, total_duty,
                has_liquidation_columns, last_upload_id, created_at, updated_at)
            SELECT (%(ids)s::bigint[])[1 + (g %% %(n_imp)s)], 'BW' || lpad(g::text, 9, '0'),
                CASE WHEN g %% 10 = 0 THEN '11' ELSE '01' END,
                DATE '2025-02-04' + (g %% 385), DATE '2025-02-12' + (g %% 385), '2704', 'BW9', 'Bench Filer',
                CASE WHEN g %% 3 = 0 THEN 'unliquidated' ELSE 'liquidated' END,
                CASE WHEN g %% 3 = 0 THEN 'Unliquidated' ELSE 'Liquidated' END,
                CASE WHEN g %% 3 = 0 THEN NULL ELSE DATE '2025-12-15' + (g %% 330) END,
                false, false, '', 'none', false, false, d, d, true, %(upload)s, now(), now()
            FROM (SELECT g, round((abs(hashtext(g::text)) %% 2000000) / 100.0, 2) AS d
                  FROM generate_series(1, %(n)s) g) s
            """,
            {"ids": ids, "n_imp": len(ids), "n": n_entries, "upload": upload.pk},
        )
        t_entries = time.perf_counter() - t0
        # Classifications: a path mix like the classify bench's, the path's deadline spread over the
        # next year (some passed, some within 14 days), IEEPA duty copied from the entry.
        cur.execute(
            """
            INSERT INTO cape_classification (entry_id, importer_id, ieepa_duty, path, reasons, reasons_text,
                deadline, urgent, deadline_passed, projected_liquidation_date, cape_window_closes, protest_deadline,
                protest_deadline_projected, cit_deadline, liquidated, ruleset, as_of, computed_at, interest_note,
                interest_uncertain)
            SELECT e.id, e.importer_id, e.ieepa_duty, p.path, '["bench"]'::jsonb, '|bench|',
                p.deadline, coalesce(p.deadline BETWEEN %(today)s AND %(today)s + 14, false), coalesce(p.deadline < %(today)s, false),
                e.entry_date + 314, CASE WHEN p.path LIKE 'cape%%' THEN p.deadline END,
                CASE WHEN p.path = 'protest' THEN p.deadline END, false, e.entry_summary_date + 730,
                e.liquidation_status = 'liquidated', 'bench', %(today)s, now(), '', false
            FROM entries_entry e
            CROSS JOIN LATERAL (
                SELECT CASE
                    WHEN b < 35 THEN 'cape_phase1' WHEN b < 40 THEN 'cape_phase2' WHEN b < 55 THEN 'protest'
                    WHEN b < 60 THEN 'cit' WHEN b < 80 THEN 'wait' WHEN b < 88 THEN 'filed'
                    WHEN b < 97 THEN 'not_eligible' ELSE 'needs_review' END AS path,
                    CASE WHEN b < 60 THEN %(today)s + ((e.id %% 420) - 40)::int END AS deadline
                FROM (SELECT (abs(hashtext(e.id::text || 'p')) %% 100) AS b) x
            ) p
            WHERE e.importer_id = ANY(%(ids)s)
            """,
            {"ids": ids, "today": today},
        )
        # a steady state, as after autovacuum: hint bits set, visibility map and statistics current
        cur.execute("VACUUM ANALYZE entries_entry")
        cur.execute("VACUUM ANALYZE cape_classification")
    print(
        f"load: {n_importers} importers, {n_entries:,} entries + classifications in {time.perf_counter() - t0:.1f} s "
        f"(entries {t_entries:.1f} s)"
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


class Client:
    """A tiny cookie-keeping HTTP client over http.client (one connection per thread)."""

    def __init__(self, port: int, cookies: dict[str, str] | None = None) -> None:
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies = dict(cookies or {})

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str, Any]:
        h = {"Host": "127.0.0.1", "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        h.update(headers or {})
        self.conn.request(method, path, body=body, headers=h)
        resp = self.conn.getresponse()
        data = resp.read().decode(errors="replace")
        for header, value in resp.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, data, resp


def login(port: int) -> dict[str, str]:
    from urllib.parse import urlencode

    c = Client(port)
    status, html, _ = c.request("GET", "/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert status == 200 and token, f"login page: {status}"
    body = urlencode({"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)})
    status, _, _ = c.request(
        "POST",
        "/accounts/login/",
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "Referer": f"http://127.0.0.1:{port}/accounts/login/"},
    )
    assert status == 302 and "sessionid" in c.cookies, f"login failed: {status}"
    return c.cookies


def start_server(port: int, workers: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    from cryptography.fernet import Fernet

    env = os.environ.copy()
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "bench-web-not-secret",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_LEVEL": "WARNING",
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            # as docker-compose.yml's web service: one kept connection per worker
            "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "60"),
        }
    )
    for name in ("REDIS_URL", "REDIS_CACHE_URL"):  # per-worker local-memory cache: no shared Redis database needed
        env.pop(name, None)
    env.update(extra_env or {})  # bench/load.py: a cache shared with its jobs
    log = ROOT / "data" / "bench"
    log.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "refundready.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=(log / "web-server.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            status, _, _ = Client(port).request("GET", "/accounts/login/")
            if status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not start: see data/bench/web-server.log")


def drive(
    port: int, cookies: dict[str, str], paths: Callable[[int], str], n: int, threads: int, seconds: float
) -> tuple[list[float], int, dict[str, list[float]]]:
    timings: list[float] = []
    by_kind: dict[str, list[float]] = {}
    errors = 0
    lock = threading.Lock()
    counter = iter(range(n))
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        nonlocal errors
        c = Client(port, cookies)
        while time.monotonic() < stop_at:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            path = paths(i)
            t = time.perf_counter()
            status, _, _ = c.request("GET", path)
            dt = time.perf_counter() - t
            with lock:
                timings.append(dt)
                by_kind.setdefault(re.sub(r"(importer|after)=[^&]+", r"\1=…", path), []).append(dt)
                if status != 200:
                    errors += 1

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return timings, errors, by_kind


def report(name: str, timings: list[float], errors: int, by_kind: dict[str, list[float]]) -> bool:
    p50, p95 = percentile(timings, 50) * 1000, percentile(timings, 95) * 1000
    goal = GOALS[name] * 1000
    ok = p95 <= goal and not errors
    print(
        f"{name:9}: {len(timings)} requests, p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(timings) * 1000:.0f} ms, "
        f"errors {errors} (goal p95 <= {goal:.0f} ms: {'OK' if ok else 'MISSED'})"
    )
    for kind, values in sorted(by_kind.items()):
        print(f"    {kind:42} {len(values):4} requests, p50 {percentile(values, 50) * 1000:4.0f} ms, "
              f"p95 {percentile(values, 95) * 1000:4.0f} ms")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--importers", type=int, default=200)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300, help="requests per page kind")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=120, help="time limit per page kind")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--reuse", action="store_true", help="do not reload; use the rows of the previous run")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("bench/web.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    setup_django()
    from accounts.models import Importer, Organization

    if not args.reuse or not Organization.objects.filter(slug=SLUG).exists():
        load(args.importers, args.entries)
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)  # the kept rows, with any migration added since
    org = Organization.objects.get(slug=SLUG)
    importer_ids = list(Importer.objects.filter(grants__organization=org).values_list("pk", flat=True))

    server = start_server(args.port, args.workers)
    try:
        cookies = login(args.port)
        c = Client(args.port, cookies)
        t = time.perf_counter()
        status, html, _ = c.request("GET", "/dashboard/")
        print(
            f"portfolio: first (cold) request {1000 * (time.perf_counter() - t):.0f} ms, status {status}, "
            f"{html.count('data-importer=')} rows on the page"
        )
        for _ in range(args.workers * 3):  # each worker fills its own cache once
            c.request("GET", "/dashboard/")
        # An entry number as a person types it off a 7501 (spaces), for the search variant.
        from entries.models import Entry

        bench_entries = Entry.objects.filter(importer_id__in=importer_ids)
        n = bench_entries.order_by("pk").values_list("entry_number", flat=True)[bench_entries.count() // 2]
        typed = f"{n[:3]}+{n[3:10]}+{n[10:]}"
        portfolio_variants = [
            "/dashboard/",
            "/dashboard/?sort=duty",
            "/dashboard/?sort=deadline&page=2",
            "/dashboard/?not_ready=on&sort=at_risk",
            "/dashboard/?q=Client+01",
            "/dashboard/?no_ach=on&urgent=on",
        ]
        entries_variants = [
            "/entries/",
            "/entries/?page=2",
            "/entries/?page=20000",  # the last page of a million: read from the other end
            "/entries/?sort=amount",
            "/entries/?sort=entry&dir=desc",
            "/entries/?sort=importer&page=7",
            "/entries/?sort=path&dir=desc&page=3",
            f"/entries/?q={typed}",
            "/entries/?path=protest",
            "/entries/?urgency=urgent",
        ]

        def portfolio_path(i: int) -> str:
            return portfolio_variants[i % len(portfolio_variants)]

        def entries_path(i: int) -> str:
            if i % 6 == 5:
                return f"/entries/?importer={importer_ids[i % len(importer_ids)]}"
            return entries_variants[i % len(entries_variants)]

        for path in entries_variants[:1] * (args.workers * 3) + portfolio_variants:  # each worker's own caches
            c.request("GET", path)
        ok = report("portfolio", *drive(args.port, cookies, portfolio_path, args.requests, args.threads, args.seconds))
        ok &= report("entries", *drive(args.port, cookies, entries_path, args.requests, args.threads, args.seconds))
        print(
            f"{args.threads} client threads, gunicorn {args.workers} workers, "
            f"{Importer.objects.filter(grants__organization=org).count()} importers, "
            f"DB_CONN_MAX_AGE={os.environ.get('DB_CONN_MAX_AGE', '60')}; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
