"""Pages of the top layer that read every app: the audit log (with links to each object's page), the
readiness checklist (ACH, ES-003 and CAPE steps) and the organisation's own data (export, delete).
Mounted beside the accounts, onboarding and organisation pages under the same paths (portfolio/root_urls.py)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from accounts.forms import AuditLogFilterForm
from accounts.forms_onboarding import ReadinessStateForm
from accounts.http import OrgRequest
from accounts.models import Form5106Record, ReadinessState
from accounts.onboarding.data import sub_account_letter_rules
from accounts.permissions import editor_for_post, member_required
from accounts.readiness import readiness_state_update
from accounts.selectors import audit_log_choices, audit_log_filtered, importers_for
from accounts.services import ServiceError
from accounts.views_org import _owner_only
from portfolio.audit_display import audit_rows
from portfolio.dataexport import organization_delete, organization_export
from portfolio.readiness import STEPS, importer_readiness, readiness_for_importers, readiness_importers
from portfolio.readiness_pdf import readiness_pdf

# ----------------------------------------------------------------------------- audit log (/accounts/audit/)

AUDIT_LOG_PER_PAGE = 50


def _day_start(day: date | None) -> datetime | None:
    # Days are the organisation's days (settings.TIME_ZONE), not UTC's.
    return timezone.make_aware(datetime.combine(day, time.min)) if day else None


@member_required
def audit_log(request: OrgRequest) -> HttpResponse:
    """The organisation's own audit rows, filtered by user, action, object and date range (GET)."""
    organization = request.organization
    form = AuditLogFilterForm(request.GET or None, choices=audit_log_choices(organization))
    filters: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()  # errors show beside their fields; the valid filters still apply
        data = form.cleaned_data
        end = data.get("date_to")
        filters = {
            "user_id": data.get("user"),
            "action": data.get("action") or "",
            "object_type": data.get("object_type") or "",
            "object_id": data.get("object_id") or "",
            "since": _day_start(data.get("date_from")),
            "before": _day_start(end + timedelta(days=1)) if end else None,
        }
    page = Paginator(audit_log_filtered(organization, **filters), AUDIT_LOG_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/audit_log.html",
        {
            "page": page,
            "rows": audit_rows(organization, page.object_list),
            "form": form,
            "filtered": any(v for v in filters.values()),
            "query_string": query.urlencode(),
        },
    )


# ----------------------------------------------------------------------------- readiness (/onboarding/readiness/)

READINESS_PER_PAGE = 50


@member_required
def readiness_list(request: OrgRequest) -> HttpResponse:
    page = Paginator(readiness_importers(request.organization), READINESS_PER_PAGE).get_page(request.GET.get("page"))
    rows = readiness_for_importers(page.object_list, organization=request.organization)
    return render(request, "onboarding/readiness_list.html", {"rows": rows, "steps": STEPS, "page": page})


@editor_for_post
def readiness_detail(request: OrgRequest, pk: int) -> HttpResponse:
    importer = get_object_or_404(importers_for(request.organization), pk=pk)
    state = ReadinessState.objects.filter(importer=importer).first() or ReadinessState(importer=importer)
    form = ReadinessStateForm(request.POST or None, instance=state)
    if request.method == "POST" and form.is_valid():
        readiness_state_update(
            importer=importer,
            organization=request.organization,
            user=request.user,
            **{k: form.cleaned_data[k] for k in ReadinessStateForm.Meta.fields},
        )
        messages.success(request, "Readiness updated.")
        return redirect("onboarding_readiness_detail", pk=importer.pk)
    record = Form5106Record.objects.filter(importer=importer).first()
    return render(
        request,
        "onboarding/readiness_detail.html",
        {
            "importer": importer,
            "steps": importer_readiness(importer, organization=request.organization),
            "form": form,
            "record": record,
            "letter_rules": sub_account_letter_rules(),
        },
    )


# ----------------------------------------------------------------------------- the organisation's data (/organization/data/)


@member_required
def organization_data(request: OrgRequest) -> HttpResponse:
    _owner_only(request)
    error = ""
    if request.method == "POST":
        try:
            organization_delete(
                organization=request.organization,
                user=request.user,
                confirmation=request.POST.get("confirmation", ""),
            )
        except ServiceError as exc:
            error = exc.message
        else:
            logout(request)
            messages.success(request, "The organisation and all its data were deleted.")
            return redirect("login")
    return render(request, "organization/data.html", {"error": error}, status=400 if error else 200)


@member_required
@require_POST
def organization_export_view(request: OrgRequest) -> FileResponse:
    _owner_only(request)
    path = organization_export(organization=request.organization, user=request.user)
    handle = path.open("rb")
    path.unlink()  # the open handle keeps the data until the response is sent (POSIX)
    name = f"refundready-{request.organization.slug}-data.zip"
    return FileResponse(handle, as_attachment=True, filename=name, content_type="application/zip")


# ----------------------------------------------------------------------------- the readiness PDF (/cape/exports/...)


@member_required
@require_GET
def export_readiness(request: OrgRequest, pk: int) -> HttpResponse:
    importer = get_object_or_404(importers_for(request.organization), pk=pk)
    response = HttpResponse(readiness_pdf(request.organization, importer), content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, f"refund-readiness-{importer.pk}-{timezone.localdate():%Y%m%d}.pdf")
    return response
