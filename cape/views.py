"""CAPE pages: declarations (build, preflight, download, lifecycle), refunds, exports."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from accounts.http import OrgRequest
from accounts.permissions import editor_for_post, editor_required, member_required
from accounts.selectors import importers_for
from accounts.services import ServiceError
from cape import declarations as svc
from cape.build_jobs import build_jobs_for, declaration_build_job_start
from cape.exports import deadlines_ics, workbook_bytes
from cape.forms import BuildForm, ClaimDetailsForm, OutcomeForm, RefundReportForm, SubmissionForm
from cape.models import Declaration, DeclarationBuildJob
from cape.preflight import group_findings
from cape.preflight import summary as preflight_summary
from cape.refunds import (
    expected_dates,
    refund_overview_importers,
    refund_report_import,
    refund_summaries,
    refund_summary,
    refund_timeline,
)
from refundready.forms import submit_form

S = Declaration.Status
PAGE_SIZE = 50  # rows per page on the refunds and rejected-entries pages


def _org(request: OrgRequest) -> Any:
    return request.organization


def _declaration(request: OrgRequest, pk: int) -> Declaration:
    return get_object_or_404(svc.declarations_for(_org(request)), pk=pk)


@editor_for_post
def cape_home(request: OrgRequest) -> HttpResponse:
    """The CAPE landing page: declarations and the build form."""
    org = _org(request)
    form = BuildForm(request.POST or None, organization=org)
    built = None
    if request.method == "POST" and (done := submit_form(form, lambda data: declaration_build_job_start(
        organization=org, user=request.user,
        importer_ids=[i.pk for i in data["importers"]] or None, entry_numbers=data["entry_numbers"],
        paths=data["paths"], urgent_only=data["urgent_only"], mixed=data["mixed"], name=data["name"],
    ))):
        job = done.result
        if not job.is_finished:  # a large build: a worker builds it while its page shows the progress
            return redirect("cape_build_job", pk=job.pk)
        if job.status == DeclarationBuildJob.Status.FAILED:
            form.add_error(None, job.message)
        else:
            built = build_job_context(job)
            (messages.success if built["declarations"] else messages.warning)(request, job.message)
            form = BuildForm(organization=org)
    status = request.GET.get("status", "")
    qs = svc.declarations_for(org)
    if status in S.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    eligible = svc.eligible_classifications(org).count()
    return render(request, "cape/home.html", {
        "form": form, "built": built, "page": page, "status": status, "statuses": S.choices,
        "query_string": f"status={status}" if status else "", "eligible": eligible,
        "ready_refile": len(svc.rejected_entries_ready(org)), "importers": importers_for(org).order_by("name"),
    })


def build_job_context(job: DeclarationBuildJob) -> dict[str, Any]:
    """What a build's result shows: the declarations it built (in build order) and the entries left out."""
    declarations = []
    if job.status == DeclarationBuildJob.Status.DONE and job.declaration_ids:
        by_id = {d.pk: d for d in svc.declarations_for(job.organization).filter(pk__in=job.declaration_ids)
                 .defer("file_bytes")}
        declarations = [by_id[i] for i in job.declaration_ids if i in by_id]  # a discarded one is simply gone
        for d in declarations:
            d.preflight_summary = preflight_summary(d.preflight)  # type: ignore[attr-defined]  # shown beside it
    return {"job": job, "declarations": declarations, "left_out": job.left_out, "left_out_count": job.left_out_count,
            "finished": job.is_finished}


@member_required
def build_job_detail(request: OrgRequest, pk: int) -> HttpResponse:
    """A declaration build's progress (polled by htmx until done or failed), then its result."""
    job = get_object_or_404(build_jobs_for(_org(request)).select_related("organization"), pk=pk)
    ctx = build_job_context(job)
    if request.headers.get("HX-Request"):
        return render(request, "cape/_build_job_status.html", ctx)
    return render(request, "cape/build_job.html", ctx)


@member_required
def declaration_detail(request: OrgRequest, pk: int) -> HttpResponse:
    declaration = _declaration(request, pk)
    return _render_detail(request, declaration)


def _render_detail(request: OrgRequest, declaration: Declaration, **extra: Any) -> HttpResponse:
    checks = []
    for check in declaration.preflight.get("checks", []):
        checks.append(check | {"passing": svc.preflight_passing_entries(declaration, check)[:2000],
                               "groups": group_findings(check.get("failing", []))})
    items = Paginator(svc.declaration_items(declaration), 100).get_page(request.GET.get("page"))
    ctx = {
        "declaration": declaration, "checks": checks, "items": items, "page": items,
        "expected": expected_dates(declaration.accepted_on),
        "submission_form": extra.pop("submission_form", None) or SubmissionForm(initial={"submitted_on": timezone.localdate()}),
        "claims_form": extra.pop("claims_form", None) or ClaimDetailsForm(),
        "outcome_form": extra.pop("outcome_form", None) or OutcomeForm(),
        "preflight_summary": preflight_summary(declaration.preflight),
        "can_download": declaration.status in (S.DRAFT, S.EXPORTED) and not declaration.preflight.get("blocking", True),
    }
    ctx.update(extra)
    return render(request, "cape/declaration_detail.html", ctx)


@editor_required
@require_POST
def declaration_preflight_view(request: OrgRequest, pk: int) -> HttpResponse:
    declaration = _declaration(request, pk)
    report = svc.declaration_preflight(declaration=declaration, user=request.user)
    (messages.success if not report["blocking"] else messages.error)(request, preflight_summary(report))
    return redirect("cape_declaration", pk=pk)


@editor_for_post
def declaration_download(request: OrgRequest, pk: int) -> HttpResponse:
    """POST (editors): preflight, then the file; the first download marks the declaration exported.
    GET (every member, viewers included: reading is not a change): the stored file as it stands, a draft's
    too, named as a draft so that nobody takes it for the file that passed preflight."""
    declaration = _declaration(request, pk)
    if request.method == "POST":  # viewers get a 403 (editor_for_post): a download for filing changes the state
        try:
            data = svc.declaration_export(declaration=declaration, user=request.user)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("cape_declaration", pk=pk)
    else:
        if not declaration.file_bytes:
            raise Http404("This declaration has no file.")
        data = bytes(declaration.file_bytes)
    draft = request.method != "POST" and declaration.status == S.DRAFT
    name = f"cape-declaration-{declaration.pk}{'-draft' if draft else ''}.csv"
    response = HttpResponse(data, content_type="text/csv")
    response["Content-Disposition"] = content_disposition_header(True, name)
    response["X-Content-SHA256"] = declaration.sha256
    return response


@editor_required
@require_POST
def declaration_submission(request: OrgRequest, pk: int) -> HttpResponse:
    declaration = _declaration(request, pk)
    form = SubmissionForm(request.POST)
    if submit_form(form, lambda data: svc.declaration_record_submission(declaration=declaration, user=request.user, **data)):
        messages.success(request, "Submission recorded.")
        return redirect("cape_declaration", pk=pk)
    return _render_detail(request, declaration, submission_form=form)


@editor_required
@require_POST
def declaration_claim_details(request: OrgRequest, pk: int) -> HttpResponse:
    declaration = _declaration(request, pk)
    form = ClaimDetailsForm(request.POST, request.FILES)
    done = submit_form(form, lambda data: svc.declaration_import_claim_details(
        declaration=declaration, data=data["file"].read(), filename=data["file"].name, accepted_on=data["accepted_on"],
        user=request.user,
    ), error_field="file")
    if done:
        result = done.result
        if result.nothing_matched:
            messages.warning(request, result.message)
        else:
            messages.success(request, f"Claim details imported: {result.accepted} accepted, {result.rejected} rejected.")
        declaration.refresh_from_db()
        return _render_detail(request, declaration, claims_result=result)
    return _render_detail(request, declaration, claims_form=form)


@editor_required
@require_POST
def declaration_outcome(request: OrgRequest, pk: int) -> HttpResponse:
    declaration = _declaration(request, pk)
    form = OutcomeForm(request.POST)
    if submit_form(form, lambda data: svc.declaration_record_outcome(declaration=declaration, user=request.user, **data),
                   error_field=None):
        messages.success(request, "Outcome recorded.")
        return redirect("cape_declaration", pk=pk)
    return _render_detail(request, declaration, outcome_form=form)


@editor_required
@require_POST
def declaration_discard_view(request: OrgRequest, pk: int) -> HttpResponse:
    declaration = _declaration(request, pk)
    try:
        svc.declaration_discard(declaration=declaration, user=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("cape_declaration", pk=pk)
    messages.success(request, "Declaration discarded; its entries are free to declare again.")
    return redirect("cape_home")


@editor_for_post
def refile(request: OrgRequest) -> HttpResponse:
    """Rejected entries: mark post-summary corrections filed, then build a new declaration from the ready ones."""
    org = _org(request)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "mark_corrected":
                ids = [int(x) for x in request.POST.getlist("entry") if x.isdigit()]
                count = svc.declaration_entries_mark_corrected(organization=org, entry_ids=ids, user=request.user)
                messages.success(request, f"{count:,} entr{'y' if count == 1 else 'ies'} marked corrected.")
            else:
                result = svc.declaration_build_refile(organization=org, user=request.user, mixed=request.POST.get("mixed") == "on")
                messages.success(request, f"Built {len(result.declarations)} declaration(s) from {result.entry_count:,} corrected entries.")
                if result.declarations:
                    return redirect("cape_declaration", pk=result.declarations[0].pk)
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("cape_refile")
    ready = Paginator(svc.rejected_entries_ready(org), PAGE_SIZE).get_page(request.GET.get("ready_page"))
    waiting = Paginator(svc.rejected_entries_waiting(org), PAGE_SIZE).get_page(request.GET.get("waiting_page"))
    return render(request, "cape/refile.html", {"ready": ready, "waiting": waiting})


@editor_for_post
def refunds_home(request: OrgRequest) -> HttpResponse:
    org = _org(request)
    form = RefundReportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and (done := submit_form(form, lambda data: refund_report_import(
        organization=org, data=data["file"].read(), report=data["report"], filename=data["file"].name, user=request.user,
    ), error_field="file")):
        result = done.result
        messages.success(request, f"{result.created:,} refund event(s) recorded, {result.duplicates:,} already known.")
        form = RefundReportForm()
    page = Paginator(refund_overview_importers(org), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "cape/refunds.html", {"form": form, "result": result, "page": page,
                                                 "rows": refund_summaries(org, list(page.object_list))})


@member_required
def refund_timeline_view(request: OrgRequest, pk: int) -> HttpResponse:
    org = _org(request)
    importer = get_object_or_404(importers_for(org), pk=pk)
    return render(request, "cape/refund_timeline.html", {
        "importer": importer, "summary": refund_summary(org, importer), "timeline": refund_timeline(org, importer),
        "today": timezone.localdate(),
    })


def _importer_param(request: OrgRequest) -> Any:
    raw = request.GET.get("importer", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404
    return get_object_or_404(importers_for(_org(request)), pk=int(raw))


@member_required
@require_GET
def export_workbook(request: OrgRequest) -> HttpResponse:
    importer = _importer_param(request)
    data = workbook_bytes(_org(request), importer)
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = content_disposition_header(True, f"refundready-entries-{timezone.localdate():%Y%m%d}.xlsx")
    return response


@member_required
@require_GET
def export_calendar(request: OrgRequest) -> HttpResponse:
    importer = _importer_param(request)
    response = HttpResponse(deadlines_ics(_org(request), importer), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, "refundready-deadlines.ics")
    return response
