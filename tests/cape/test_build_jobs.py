"""Declaration builds as jobs: small builds answer at once, large ones run on a worker (eager in tests)
with a claimed row, progress and a result; the job page polls with htmx; the API answers the same way."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditLog
from ach.models import AchEnrollment
from cape import build_jobs
from cape.build_jobs import declaration_build_job_run, declaration_build_job_start
from cape.declarations import declaration_build
from cape.models import Declaration, DeclarationBuildJob
from tests.cape.factories import eligible_entry

pytestmark = pytest.mark.django_db
J = DeclarationBuildJob.Status


@pytest.fixture
def entries(own_importer):  # type: ignore[no-untyped-def]
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    return [eligible_entry(own_importer) for _ in range(3)]


@pytest.fixture
def background(monkeypatch):  # type: ignore[no-untyped-def]
    """Every build goes to the worker, as a build over SYNC_LIMIT entries would."""
    monkeypatch.setattr(build_jobs, "SYNC_LIMIT", 0)


def test_a_small_build_is_done_when_start_returns(importer_org, alice, entries) -> None:  # type: ignore[no-untyped-def]
    job = declaration_build_job_start(organization=importer_org, user=alice)
    assert job.status == J.DONE and job.candidates == 3 and job.progress_percent == 100
    d = Declaration.objects.get()
    assert job.declaration_ids == [d.pk] and d.entry_count == 3 and job.left_out_count == 0
    assert AuditLog.objects.filter(action="declaration.build_job_start").exists()
    assert AuditLog.objects.filter(action="declaration.build_job_done").exists()


def test_a_large_build_is_enqueued_on_commit_and_run_by_the_task(importer_org, alice, entries, background,
                                                                  django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = declaration_build_job_start(organization=importer_org, user=alice)
    assert job.status == J.PENDING and not Declaration.objects.exists()
    assert len(callbacks) == 1
    callbacks[0]()  # the commit: cape.tasks.build_declarations runs eagerly (CELERY_TASK_ALWAYS_EAGER)
    job.refresh_from_db()
    assert job.status == J.DONE and job.started_at and job.finished_at and job.attempts == 1
    assert job.declaration_ids == list(Declaration.objects.values_list("pk", flat=True))
    assert job.message == "Built 1 declaration with 3 entries."


def test_the_job_is_claimed_once(importer_org, alice, entries, background, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=False):
        job = declaration_build_job_start(organization=importer_org, user=alice)
    first = declaration_build_job_run(job_id=job.pk)
    second = declaration_build_job_run(job_id=job.pk)  # a duplicate delivery
    assert first.status == second.status == J.DONE and second.attempts == 1
    assert Declaration.objects.count() == 1


def test_progress_runs_from_writing_to_checking_and_reaches_the_total(importer_org, alice, entries, background,
                                                                      django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=False):
        job = declaration_build_job_start(organization=importer_org, user=alice)
    seen: list[tuple[int, int, str]] = []
    declaration_build_job_run(job_id=job.pk, progress=lambda d, t, m: seen.append((d, t, m)))
    assert [(d, t) for d, t, _ in seen] == [(0, 6), (3, 6), (6, 6)]
    assert "Writing 1 declaration" in seen[0][2] and "preflight" in seen[-1][2]
    job.refresh_from_db()
    assert (job.done, job.total) == (6, 6)


def test_the_progress_callback_leaves_the_build_unchanged(importer_org, alice, own_importer, entries) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []
    with_cb = declaration_build(organization=importer_org, user=alice, progress=lambda d, t, m: calls.append(d))
    assert calls and with_cb.entry_count == 3
    again = declaration_build(organization=importer_org, user=alice)  # everything is now taken
    assert again.declarations == [] and len(again.left_out) == 3


def test_a_failing_build_is_recorded_with_its_message(importer_org, alice, entries, background, monkeypatch,
                                                      django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    def boom(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_jobs.svc, "declaration_build", boom)
    with django_capture_on_commit_callbacks(execute=True):
        job = declaration_build_job_start(organization=importer_org, user=alice)
    job.refresh_from_db()
    assert job.status == J.FAILED and "unexpected error (RuntimeError)" in job.message
    assert AuditLog.objects.filter(action="declaration.build_job_fail").exists()


def test_another_organisations_importer_is_refused_before_a_job_exists(importer_org, alice, charlie) -> None:  # type: ignore[no-untyped-def]
    from accounts.models import Importer
    from accounts.services import ServiceError

    outsider = Importer.objects.get(name="Outsider Trading LLC")
    with pytest.raises(ServiceError, match="not managed by this organisation"):
        declaration_build_job_start(organization=importer_org, user=alice, importer_ids=[outsider.pk])
    assert not DeclarationBuildJob.objects.exists()


# ---------------------------------------------------------------- pages
def test_a_large_build_from_the_page_redirects_to_a_polling_progress_page(client, alice, importer_org, entries, background,
                                                                          django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = client.post(reverse("cape_home"), {"paths": ["cape_phase1", "cape_phase2"]})
    job = DeclarationBuildJob.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("cape_build_job", args=[job.pk])
    page = client.get(r["Location"]).content.decode()
    assert f'hx-get="{reverse("cape_build_job", args=[job.pk])}"' in page and 'role="progressbar"' in page
    assert "Waiting for a worker" in page
    callbacks[0]()
    fragment = client.get(r["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "hx-get" not in fragment  # finished: polling stops
    d = Declaration.objects.get()
    assert reverse("cape_declaration", args=[d.pk]) in fragment and "Built 1 declaration" in fragment
    assert 'aria-valuenow="100"' in fragment


def test_the_job_page_lists_the_entries_left_out(client, alice, importer_org, entries) -> None:  # type: ignore[no-untyped-def]
    declaration_build(organization=importer_org, user=alice)
    job = declaration_build_job_start(organization=importer_org, user=alice)
    client.force_login(alice)
    html = client.get(reverse("cape_build_job", args=[job.pk])).content.decode()
    assert "3 entries left out" in html and 'data-testid="left-out"' in html
    for e in entries:
        assert e.entry_number in html


def test_a_small_build_from_the_page_shows_its_result_at_once(client, alice, importer_org, entries) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.post(reverse("cape_home"), {"paths": ["cape_phase1"]})
    assert r.status_code == 200 and "Built 1 declaration" in r.content.decode()


def test_another_organisations_build_job_is_a_404(client, alice, importer_org, entries, charlie) -> None:  # type: ignore[no-untyped-def]
    job = declaration_build_job_start(organization=importer_org, user=alice)
    client.force_login(charlie)
    assert client.get(reverse("cape_build_job", args=[job.pk])).status_code == 404
    assert client.get(f"/api/declaration-builds/{job.pk}/").status_code == 404


# ---------------------------------------------------------------- API
def test_the_api_answers_202_with_a_job_for_a_large_build_and_the_job_reports_progress(client, alice, importer_org, entries, background,
                                                                                      django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = client.post("/api/declarations/build/", {}, content_type="application/json")
    assert r.status_code == 202 and r.json()["status"] == "pending"
    job_id = r.json()["id"]
    callbacks[0]()
    body = client.get(f"/api/declaration-builds/{job_id}/").json()
    assert body["status"] == "done" and body["percent"] == 100
    assert body["declaration_ids"] == list(Declaration.objects.values_list("pk", flat=True))


def test_the_api_answers_201_with_the_declarations_for_a_small_build(client, alice, importer_org, entries) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.post("/api/declarations/build/", {}, content_type="application/json")
    assert r.status_code == 201
    body = r.json()
    assert len(body["declarations"]) == 1 and body["left_out"] == [] and body["considered"] == 1 * 3
    assert r["Location"] == f"/api/declaration-builds/{DeclarationBuildJob.objects.get().pk}/"
