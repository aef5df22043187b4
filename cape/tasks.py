"""Classification tasks: thin wrappers that take ids and call one service (cape/classify.py)."""

from __future__ import annotations

from datetime import date, timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from accounts.models import Membership, Organization
from accounts.selectors import organizations_seeing
from cape.build_jobs import declaration_build_job_run
from cape.classify import classify_organization as run
from cape.classify import classify_upload_entries, digest_send, run_queued, today_eastern
from entries.models import Entry

# Classification is idempotent (the same entries and as_of give the same rows; chunks commit one by one
# and a re-run skips nothing), so a message whose worker died is redelivered (acks_late +
# reject_on_worker_lost) and a transient database error retries; entries.recovery sweeps what is left.
_RELIABLE = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 4,
}


@shared_task(name="cape.tasks.classify_upload", **_RELIABLE)
def classify_upload(upload_id: int) -> None:
    """Classify every entry an ES-003 upload touched. Enqueued by entries on commit after ingestion."""
    classify_upload_entries(upload_id=upload_id)


@shared_task(name="cape.tasks.classify_run", **_RELIABLE)
def classify_run(run_id: int) -> int:
    """A queued reclassification (cape.classify.reclassify_later). Idempotent, so acks_late is safe."""
    return run_queued(run_id)


@shared_task(name="cape.tasks.classify_organization", **_RELIABLE)
def classify_organization(organization_id: int, as_of: str | None = None) -> dict[str, int]:
    """Idempotent (the same as_of gives the same rows), so acks_late is safe."""
    org = Organization.objects.filter(pk=organization_id).first()
    if org is None:
        return {"touched": 0, "total": 0}
    result = run(organization=org, as_of=date.fromisoformat(as_of) if as_of else today_eastern())
    return {"touched": result.touched, "total": result.total}


@shared_task(name="cape.tasks.classify_all_organizations")
def classify_all_organizations(as_of: str | None = None) -> int:
    """Nightly (beat): deadlines move every day. One task per organisation that has entries."""
    day = as_of or today_eastern().isoformat()
    # Every organisation that sees an importer with entries (an entry shared by several is done by the first
    # to run; the others find nothing due).
    with_entries = Entry.objects.order_by().values("importer_id").distinct()
    org_ids = list(organizations_seeing(with_entries).order_by("pk").values_list("pk", flat=True))
    for org_id in org_ids:
        classify_organization.delay(org_id, day)
    return len(org_ids)


@shared_task(name="cape.tasks.send_deadline_digest", acks_late=False)
def send_deadline_digest(organization_id: int, as_of: str | None = None) -> int:
    """One organisation's digest. Reclassifies what is due first, so the digest is right whichever
    beat task runs first that day."""
    org = Organization.objects.filter(pk=organization_id).first()
    if org is None:
        return 0
    day = date.fromisoformat(as_of) if as_of else today_eastern()
    run(organization=org, as_of=day)
    return digest_send(organization=org, as_of=day, since=timezone.now() - timedelta(days=1))


@shared_task(name="cape.tasks.send_deadline_digests")
def send_deadline_digests(as_of: str | None = None) -> int:
    """Daily (beat): one digest task per organisation with at least one member who wants it."""
    day = as_of or today_eastern().isoformat()
    org_ids = list(
        Membership.objects.filter(email_digest=True).order_by().values_list("organization_id", flat=True).distinct()
    )
    for org_id in org_ids:
        send_deadline_digest.delay(org_id, day)
    return len(org_ids)


# acks_late + reject_on_worker_lost: a worker lost mid-build has its message delivered again. Safe: the claim
# (pending → running) makes a duplicate a no-op, the liveness lock tells a dead worker's job from a live one,
# and a re-run gives a clean run's result (cape.build_jobs: the write and its record are one transaction). For
# the same reasons a transient database error retries (the job runtime releases the job and claims it again),
# as the upload and classification tasks do.
@shared_task(name="cape.tasks.build_declarations", acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, retry_backoff_max=60, max_retries=4)
def build_declarations(job_id: int) -> str:
    """Run one declaration build job (cape.build_jobs). Enqueued on commit by declaration_build_job_start."""
    return declaration_build_job_run(job_id=job_id, retry_transient=True).status
