from __future__ import annotations

import os

from celery import shared_task

from accounts.services import audit


@shared_task(name="accounts.audit_ping")
def audit_ping(message: str) -> None:
    """Write an audit row from the worker: proves the worker, the broker and the database are wired."""
    audit(action="system.ping", message=message, pid=os.getpid(), nice=os.nice(0))
