"""The ORM-free half of the one job runtime (issue #21 item 2): liveness locks, the settings every job
shares, and the progress channel. The half that needs the abstract model (claim, fail, release-if-orphaned,
the orphan sweep) is ``entries.jobs``; docs/architecture.md "Job runtime" shows both.

Liveness lock: a job's runner holds it from before its claim to the end, so a row found ``running`` with the
lock free has no process behind it. On PostgreSQL a session advisory lock on a connection of its own (the
server releases it when the worker's TCP connection drops, whichever host the worker was on); with SQLite an
``flock`` on a file under DATA_DIR (the kernel releases it when the process dies; SQLite deployments are one
host).

Progress channel: what a job writes so the page that polls it sees it move before the job commits. On
PostgreSQL a second connection in autocommit when the job's own connection is inside a transaction (or busy
in a COPY); SQLite has one writer at a time, so a write from inside the job's transaction would wait for
itself and is skipped (the next one outside it is stored).
"""

from __future__ import annotations

import contextlib
import os
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections

# Advisory lock namespaces (first half of the two-int key): stable numbers derived from a name, one per kind
# of job that holds a liveness lock (and the ES-003 merge's transaction lock, entries.ingest.staging).
LOCK_CLASSES = {
    "upload": zlib.crc32(b"refundready.upload.running") & 0x7FFFFFFF,
    "build": zlib.crc32(b"refundready.declaration_build.running") & 0x7FFFFFFF,
    "classify": zlib.crc32(b"refundready.classification_run.running") & 0x7FFFFFFF,
    "merge": zlib.crc32(b"refundready.es003_merge") & 0x7FFFFFFF,
}

# A job no worker has claimed this long after it was created will not be (its message was lost with the
# broker's data, or no worker runs): the sweep fails it rather than leave it waiting forever. Far longer than
# any queue backlog and than CELERY_VISIBILITY_TIMEOUT.
NEVER_STARTED_LIMIT = timedelta(hours=24)


def max_attempts() -> int:
    """Times a job interrupted by a dead worker is claimed before it is failed (every kind of job)."""
    return int(getattr(settings, "UPLOAD_MAX_ATTEMPTS", 3))


def grace_period() -> timedelta:
    """Jobs claimed more recently than this are left alone by the beat sweep even if no lock is seen."""
    return timedelta(seconds=int(getattr(settings, "UPLOAD_RECOVERY_GRACE_SECONDS", 120)))


def is_transient_db_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the database going away (the server restarted, the connection was cut): Django's
    OperationalError / InterfaceError, or psycopg's own, which a COPY on the raw cursor raises unwrapped."""
    from django.db import InterfaceError, OperationalError

    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - SQLite-only installs
        return False
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


# ----------------------------------------------------------------------------- liveness locks
def _lock_dir() -> Path:
    path = Path(getattr(settings, "DATA_DIR", ".")) / "locks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def lock_key(kind: str, pk: int) -> list[int]:
    return [LOCK_CLASSES[kind], int(pk) & 0x7FFFFFFF]


def _lock_path(kind: str, pk: int) -> Path:
    return _lock_dir() / f"{kind}-{int(pk)}.lock"


@contextlib.contextmanager
def running_lock(kind: str, pk: int, *, wait: bool = True) -> Iterator[bool]:
    """Hold the liveness lock of job ``pk`` of ``kind`` for the duration of the block.

    Yields whether it is held: always with ``wait`` (the default blocks until the lock is free); with
    ``wait=False``, False at once when another process holds it (a duplicate delivery of a job that is
    being run must not occupy a worker for the length of the job)."""
    if connection.vendor == "postgresql":
        holder = connections.create_connection("default")
        held = False
        try:
            with holder.cursor() as cur:
                cur.execute(f"SELECT {'pg_advisory_lock' if wait else 'pg_try_advisory_lock'}(%s, %s)", lock_key(kind, pk))
                held = True if wait else bool(cur.fetchone()[0])
            yield held
        finally:
            with contextlib.suppress(Exception):
                if held:  # release it now: a closed session's locks go only when its backend has exited, a
                    # moment later, and a sweep in that moment would take the job for a live one
                    with holder.cursor() as cur:
                        cur.execute("SELECT pg_advisory_unlock(%s, %s)", lock_key(kind, pk))
            with contextlib.suppress(Exception):
                holder.close()  # and closing the session releases it in any case (a killed worker's too)
    else:
        import fcntl

        fd = os.open(_lock_path(kind, pk), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
            except BlockingIOError:
                held = False
            yield held
        finally:
            os.close(fd)  # closing releases the flock


def is_alive(kind: str, pk: int) -> bool:
    """Whether some process holds the liveness lock of job ``pk`` of ``kind`` right now."""
    if connection.vendor == "postgresql":
        key = lock_key(kind, pk)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            acquired = cur.fetchone()[0]
            if acquired:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        return not acquired
    import fcntl

    path = _lock_path(kind, pk)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def forget_lock(kind: str, pk: int) -> None:
    """Remove a finished job's lock file (SQLite; PostgreSQL advisory locks leave nothing behind)."""
    if connection.vendor != "postgresql":
        with contextlib.suppress(OSError):
            _lock_path(kind, pk).unlink()


# ----------------------------------------------------------------------------- progress channel
class SideConnection:
    """PostgreSQL: a second connection (autocommit) for what must not wait for the job's transaction."""

    def __init__(self) -> None:
        self.conn = connections.create_connection("default")
        self._unsynced = False

    def cursor(self) -> Any:
        cur = self.conn.cursor()
        if not self._unsynced:
            # Nothing written here needs to survive a server crash the instant it is committed: a progress
            # count is rewritten a moment later (and an ES-003 load's reserved ids are only used by its own
            # transaction, whose commit flushes the WAL anyway), and a big load makes a hundred or more of
            # these small commits: none waits for the disk.
            cur.execute("SET synchronous_commit TO OFF")
            self._unsynced = True
        return cur

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class ProgressChannel:
    """Writes a job row's progress columns (``UPDATE <table> SET ... WHERE id = pk``) so that a page polling
    the row sees them while the job runs.

    ``separate`` says when the write goes through the second connection on PostgreSQL:

    * "in_transaction" (the default): when the job's connection is inside a transaction (a declaration build
      writes its declarations in one), opened when first needed; SQLite skips those writes;
    * "always": every write (an ES-003 load calls it while its own connection is in the middle of a COPY);
    * "never": always on the job's own connection (a classification run commits chunk by chunk, and may be
      called inside a caller's transaction that holds the row: a second connection would wait for it)."""

    def __init__(self, table: str, pk: int, *, separate: str = "in_transaction", side: SideConnection | None = None) -> None:
        if separate not in ("in_transaction", "always", "never"):
            raise ValueError(f"unknown progress channel mode {separate!r}")
        self.table = table
        self.pk = pk
        self.pg = connection.vendor == "postgresql"
        self.separate = separate
        self.side = side
        self._own_side = side is None

    def write(self, **values: Any) -> None:
        columns = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in values)
        sql, params = f"UPDATE {self.table} SET {columns} WHERE id = %s", [*values.values(), self.pk]
        if self.pg and (self.separate == "always" or (self.separate == "in_transaction" and connection.in_atomic_block)):
            if self.side is None:
                self.side = SideConnection()
            with self.side.cursor() as cur:
                cur.execute(sql, params)
        elif self.separate == "never" or not connection.in_atomic_block:
            with connection.cursor() as cur:
                cur.execute(sql, params)

    def close(self) -> None:
        if self.side is not None and self._own_side:
            self.side.close()


class ProgressTicker:
    """When a long loop writes its progress: after ``every_rows`` more rows or ``every_seconds``, whichever
    comes first, looking at the clock only every ``check_rows`` rows (the per-row cost is one comparison).

    ``at(done)`` takes the count reached (monotonic), ``add(n)`` the rows just done; both call ``emit(done)``
    when a write is due (``add`` at each checkpoint its rows cross). A hot loop may test ``done >= ticker.next_check`` itself before calling ``at``."""

    def __init__(self, emit: Callable[[int], None], *, every_rows: int, every_seconds: float, check_rows: int) -> None:
        self.emit = emit
        self.every_rows = every_rows
        self.every_seconds = every_seconds
        self.check_rows = check_rows
        self.done = 0
        self.next_check = check_rows
        self._written_at = 0
        self._written_t = time.monotonic()

    def at(self, done: int) -> None:
        self.done = done
        if done < self.next_check:
            return
        self.next_check = done + self.check_rows
        now = time.monotonic()
        if done - self._written_at >= self.every_rows or now - self._written_t >= self.every_seconds:
            self.emit(done)
            self._written_at, self._written_t = done, now

    def add(self, n: int) -> None:
        """``n`` more rows done at once (a piece written in bulk): looked at as the loop would have, at each
        checkpoint the piece crosses."""
        target = self.done + n
        while self.next_check <= target:
            self.at(self.next_check)
        self.done = target
