"""Protest pages: draft from the protest path, the files to file, the lifecycle, counsel packets."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from accounts.http import OrgRequest
from accounts.permissions import editor_for_post, editor_required, member_required
from accounts.selectors import importers_for
from accounts.services import ServiceError
from protests import exports, services
from protests.forms import DecisionForm, DraftForm, FilingForm, OrganizationReasonForm, ReasonForm
from protests.models import Protest
from protests.selectors import cit_counts, counsel_packet, protest_items, protest_path_counts, protests_for, reason_for
from refundready.forms import submit_form

S = Protest.Status
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
    "txt": "text/plain; charset=utf-8",
}


def _org(request: OrgRequest) -> Any:
    return request.organization


def _protest(request: OrgRequest, pk: int) -> Protest:
    return get_object_or_404(protests_for(_org(request)).select_related("organization"), pk=pk)


@editor_for_post
def protests_home(request: OrgRequest) -> HttpResponse:
    """Protests of the organisation; the draft form (one importer or several); counsel packets by importer."""
    org = _org(request)
    initial = {"importers": [int(i) for i in request.GET.getlist("importer") if i.isdigit()]}
    form = DraftForm(request.POST or None, organization=org, initial=initial)
    result = None
    if request.method == "POST" and (done := submit_form(form, lambda data: services.protest_drafts_build(
        organization=org, user=request.user, importer_ids=[i.pk for i in data["importers"]],
    ))):
        result = done.result
        (messages.success if result.protests else messages.warning)(request, result.message)
        form = DraftForm(organization=org)
    status = request.GET.get("status", "")
    qs = protests_for(org)
    if status in S.values:
        qs = qs.filter(status=status)
    page = Paginator(qs.order_by("status", "deadline", "pk"), 50).get_page(request.GET.get("page"))
    from protests.services import today

    ready = protest_path_counts(org, today())
    cit = cit_counts(org)
    importers = [(i, ready.get(i.pk), cit.get(i.pk)) for i in importers_for(org).order_by("name") if i.pk in ready or i.pk in cit]
    return render(request, "protests/home.html", {
        "form": form, "result": result, "page": page, "status": status, "statuses": S.choices,
        "query_string": f"status={status}" if status else "", "importers": importers,
    })


@member_required
@require_GET
def protest_detail(request: OrgRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _protest(request, pk))


def _render_detail(request: OrgRequest, protest: Protest, **forms: Any) -> HttpResponse:
    items = Paginator(protest_items(protest), 100).get_page(request.GET.get("page"))
    return render(request, "protests/detail.html", {
        "protest": protest, "items": items, "page": items,
        "filing_form": forms.get("filing_form") or FilingForm(),
        "decision_form": forms.get("decision_form") or DecisionForm(),
        "reason_form": forms.get("reason_form") or ReasonForm(initial={"reason_text": protest.reason_text}),
        "can_change": protest.status in (S.DRAFT, S.EXPORTED),
    })


@editor_for_post
def protest_download(request: OrgRequest, pk: int, kind: str) -> HttpResponse:
    """GET (every member, viewers included): the file, no change. POST (owners and staff): the file downloaded
    for filing, which marks a draft exported (once, audited)."""
    protest = _protest(request, pk)
    if request.method == "POST":
        try:
            protest = services.protest_export(protest=protest, user=request.user)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("protest_detail", pk=pk)
    elif request.method not in ("GET", "HEAD"):
        raise Http404
    if kind == "xlsx":
        data, name = exports.protest_xlsx(protest), exports.file_stem(protest) + "-details.xlsx"
    elif kind == "csv":
        data, name = exports.protest_csv(protest), exports.file_stem(protest) + "-details.csv"
    elif kind == "pdf":
        data, name = exports.protest_form19_pdf(protest), exports.file_stem(protest) + "-form19-content.pdf"
    else:
        data, name = exports.reason_plain_text(protest), exports.file_stem(protest) + "-reason.txt"
    response = HttpResponse(data, content_type=CONTENT_TYPES[kind])
    response["Content-Disposition"] = content_disposition_header(kind != "txt", name)  # type: ignore[assignment]  # str: a name is given
    return response


def _record(request: OrgRequest, pk: int, form_class: Any, form_name: str, call: Any, done: str) -> HttpResponse:
    """One lifecycle step from the detail page: the form, the service (its error beside the field), then back."""
    protest = _protest(request, pk)
    form = form_class(request.POST)
    if submit_form(form, lambda data: call(protest, data)):
        messages.success(request, done)
        return redirect("protest_detail", pk=pk)
    return _render_detail(request, protest, **{form_name: form})


@editor_required
@require_POST
def protest_filing(request: OrgRequest, pk: int) -> HttpResponse:
    return _record(request, pk, FilingForm, "filing_form",
                   lambda p, data: services.protest_record_filing(protest=p, user=request.user, **data),
                   "Filing recorded: the entries are now under protest.")


@editor_required
@require_POST
def protest_decision(request: OrgRequest, pk: int) -> HttpResponse:
    return _record(request, pk, DecisionForm, "decision_form",
                   lambda p, data: services.protest_record_decision(protest=p, user=request.user, **data),
                   "CBP's decision recorded.")


@editor_required
@require_POST
def protest_reason(request: OrgRequest, pk: int) -> HttpResponse:
    return _record(request, pk, ReasonForm, "reason_form",
                   lambda p, data: services.protest_reason_update(protest=p, user=request.user, text=data["reason_text"]),
                   "Reason for protest saved.")


@editor_required
@require_POST
def protest_discard_view(request: OrgRequest, pk: int) -> HttpResponse:
    protest = _protest(request, pk)
    try:
        services.protest_discard(protest=protest, user=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("protest_detail", pk=pk)
    messages.success(request, "Protest discarded; its entries can go on another.")
    return redirect("protests_home")


@editor_for_post
def organization_reason(request: OrgRequest) -> HttpResponse:
    org = _org(request)
    form = OrganizationReasonForm(request.POST or None, initial={"text": reason_for(org)})
    if request.method == "POST" and submit_form(
        form, lambda data: services.protest_reason_set(organization=org, user=request.user, text=data["text"])
    ):
        messages.success(request, "Reason for protest saved for new drafts.")
        return redirect("protests_reason")
    return render(request, "protests/reason.html", {"form": form})


@member_required
@require_GET
def counsel_download(request: OrgRequest, pk: int, kind: str) -> HttpResponse:
    """The counsel packet of one importer (every member may export it)."""
    from protests.services import today

    importer = get_object_or_404(importers_for(_org(request)), pk=pk)
    as_of = today()
    packet = counsel_packet(_org(request), importer, as_of=as_of)
    data = exports.counsel_xlsx(packet) if kind == "xlsx" else exports.counsel_pdf(packet)
    response = HttpResponse(data, content_type=CONTENT_TYPES[kind])
    response["Content-Disposition"] = content_disposition_header(True, f"{exports.counsel_stem(packet, as_of)}.{kind}")
    return response
