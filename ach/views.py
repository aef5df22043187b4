"""ACH refund readiness pages. Views parse, call one service, render; importers are fetched through
selectors scoped to request.organization (another tenant's importer is a 404)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from accounts.http import OrgRequest
from accounts.models import Importer, ReadinessState
from accounts.permissions import editor_for_post, editor_required, member_required
from accounts.services import ServiceError
from ach import services
from ach.forms import (
    ConfirmActiveForm,
    EnrollmentForm,
    EnteredForm,
    NotifyPartyForm,
    RejectionForm,
    ResolveForm,
    Rev613UploadForm,
    SpecialCasesForm,
    SupportEmailedForm,
)
from ach.guidance import guidance
from ach.models import AchEnrollment, AchRejection
from ach.selectors import (
    account_facts,
    ach_importers,
    ach_overview,
    enrollment_for,
    refund_recipient,
    rejections_for,
    rejections_visible_to,
)
from refundready.forms import submit_form

SENSITIVE = ("account_number", "account_number_confirm")


def _importer(request: OrgRequest, importer_id: int) -> Importer:
    return get_object_or_404(ach_importers(request.organization), pk=importer_id)


def _form_error(form: Any, exc: ServiceError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@member_required
def ach_home(request: OrgRequest) -> HttpResponse:
    rows = ach_overview(request.organization)
    totals = {
        "importers": len(rows),
        "ready": sum(1 for r in rows if r.has_route),
        "at_risk": sum((r.at_risk for r in rows), start=Decimal("0.00")),
        "open_rejections": sum(r.open_rejections for r in rows),
    }
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(request, "ach/home.html", {"page": page, "totals": totals, "g": guidance()})


@member_required
def ach_export(request: OrgRequest) -> HttpResponse:
    """The broker view as CSV. Account numbers appear masked (last four digits), as everywhere."""
    text = services.ach_csv_export(organization=request.organization, user=request.user)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, "ach-readiness.csv")
    return response


def _detail(request: OrgRequest, importer: Importer, status: int = 200, **forms: Any) -> HttpResponse:
    enrollment = enrollment_for(importer)
    notify = getattr(importer, "notify_party", None) if hasattr(importer, "notify_party") else None
    rejections = list(rejections_for(importer))
    facts = account_facts([importer.pk])[importer.pk]
    defaults = {
        "enrollment_form": EnrollmentForm(initial={
            "bank_name": enrollment.bank_name if enrollment else "",
            "routing_number": enrollment.routing_number if enrollment else "",
            "account_type": enrollment.account_type if enrollment else "",
            "account_holder": (enrollment.account_holder if enrollment else "") or importer.name,
        }),
        "entered_form": EnteredForm(initial={"entered_on": enrollment.entered_on if enrollment else None,
                                             "entered_by": enrollment.entered_by if enrollment else ""}),
        "active_form": ConfirmActiveForm(),
        "special_form": SpecialCasesForm(initial={
            "foreign_no_us_bank": enrollment.foreign_no_us_bank if enrollment else False,
            "paper_check_waiver": enrollment.paper_check_waiver if enrollment else "",
            "ace_account": facts.ace_account or ReadinessState.AceAccount.NONE,
        }),
        "notify_form": NotifyPartyForm(initial={"name": notify.name, "ir_number": notify.ir_number, "on_ace_profile": notify.on_ace_profile,
                                                "in_box_28": notify.in_box_28, "ach_enrolled": notify.ach_enrolled} if notify else None),
        "rejection_form": RejectionForm(),
        "emailed_form": SupportEmailedForm(),
    }
    defaults.update(forms)
    g = guidance()
    context = {
        "importer": importer,
        "enrollment": enrollment,
        "status": enrollment.status if enrollment else AchEnrollment.Status.NOT_STARTED,
        "notify": notify,
        "recipient": refund_recipient(importer),
        "rejections": rejections,
        "open_rejections": [r for r in rejections if not r.resolved_on],
        "g": g,
        "support": g["contacts"]["ach_refund_support"],
        "can_edit": request.membership.can_edit,
        "resolve_form": ResolveForm(),
        # A CBP-assigned number (YYDDPP-NNNNN) is a hint only; a non-U.S. country on file is recognised as a fact.
        "suggest_foreign": (not facts.foreign and importer.ir_number.count("-") == 1 and len(importer.ir_number) == 12
                            and importer.ir_number[6] == "-"),
        **defaults,
    }
    return render(request, "ach/importer.html", context, status=status)


@member_required
def ach_importer(request: OrgRequest, importer_id: int) -> HttpResponse:
    return _detail(request, _importer(request, importer_id))


def _org_kwargs(request: OrgRequest) -> dict[str, Any]:
    return {"organization": request.organization, "user": request.user}


@sensitive_post_parameters(*SENSITIVE)
@editor_required
@require_POST
@sensitive_variables()  # innermost, so that the view's own frame (form data) is hidden in error reports
def ach_enrollment_save(request: OrgRequest, importer_id: int) -> HttpResponse:
    importer = _importer(request, importer_id)
    form = EnrollmentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            enrollment = services.enrollment_details_save(
                importer=importer, bank_name=data["bank_name"], routing_number=data["routing_number"],
                account_number=data["account_number"], account_type=data["account_type"], account_holder=data["account_holder"],
                **_org_kwargs(request),
            )
        except ServiceError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Bank details recorded (account {enrollment.account_masked}). Now enter them in ACE and record the date.")
            return redirect("ach_importer", importer_id=importer.pk)
    return _detail(request, importer, status=400, enrollment_form=form)


@editor_required
@require_POST
def ach_entered(request: OrgRequest, importer_id: int) -> HttpResponse:
    importer = _importer(request, importer_id)
    form = EnteredForm(request.POST)
    if submit_form(form, lambda data: services.enrollment_mark_entered(
        importer=importer, entered_on=data["entered_on"], entered_by=data["entered_by"], **_org_kwargs(request),
    )):
        messages.success(request, "Recorded as entered in ACE. When ACE shows it active, record the date you saw it.")
        return redirect("ach_importer", importer_id=importer.pk)
    return _detail(request, importer, status=400, entered_form=form)


@editor_required
@require_POST
def ach_confirm_active(request: OrgRequest, importer_id: int) -> HttpResponse:
    importer = _importer(request, importer_id)
    form = ConfirmActiveForm(request.POST, request.FILES)
    if submit_form(form, lambda data: services.enrollment_confirm_active(
        importer=importer, seen_on=data["seen_on"], evidence=data.get("evidence"), **_org_kwargs(request),
    )):
        messages.success(request, "Recorded as active in ACE: refunds to this importer have an account to go to.")
        return redirect("ach_importer", importer_id=importer.pk)
    return _detail(request, importer, status=400, active_form=form)


@member_required
def ach_evidence(request: OrgRequest, importer_id: int) -> FileResponse:
    importer = _importer(request, importer_id)
    try:
        handle, name = services.evidence_open(importer=importer, **_org_kwargs(request))
    except AchEnrollment.DoesNotExist:
        raise Http404("No evidence recorded") from None
    return FileResponse(handle, as_attachment=False, filename=name)


@editor_required
@require_POST
def ach_special_cases(request: OrgRequest, importer_id: int) -> HttpResponse:
    importer = _importer(request, importer_id)
    form = SpecialCasesForm(request.POST)
    if submit_form(form, lambda d: services.special_cases_save(
        importer=importer, foreign_no_us_bank=bool(d["foreign_no_us_bank"]), ace_account=d["ace_account"],
        paper_check_waiver=d["paper_check_waiver"] or "", **_org_kwargs(request),
    )):
        messages.success(request, "Special cases saved.")
        return redirect("ach_importer", importer_id=importer.pk)
    return _detail(request, importer, status=400, special_form=form)


@editor_required
@require_POST
def ach_notify_party(request: OrgRequest, importer_id: int) -> HttpResponse:
    importer = _importer(request, importer_id)
    if request.POST.get("remove"):
        services.notify_party_remove(importer=importer, **_org_kwargs(request))
        messages.success(request, "4811 notify party removed: refunds go to the importer's own ACH account.")
        return redirect("ach_importer", importer_id=importer.pk)
    form = NotifyPartyForm(request.POST)
    if submit_form(form, lambda data: services.notify_party_save(importer=importer, **data, **_org_kwargs(request))):
        messages.success(request, "4811 notify party saved.")
        return redirect("ach_importer", importer_id=importer.pk)
    return _detail(request, importer, status=400, notify_form=form)


@editor_required
@require_POST
def ach_rejection_new(request: OrgRequest, importer_id: int) -> HttpResponse:
    importer = _importer(request, importer_id)
    form = RejectionForm(request.POST)
    done = submit_form(form, lambda d: services.rejection_record(
        importer=importer, amount=d["amount"], reason=d["reason"], source=AchRejection.Source.MANUAL,
        reference=d["reference"], rejected_on=d["rejected_on"], **_org_kwargs(request),
    ))
    if done:
        if getattr(done.result, "created", True):
            messages.warning(request, "Rejected refund recorded: the importer's ACH is now rejected. Follow the replacement steps below.")
        else:
            messages.info(request, "This refund reference was already recorded; nothing changed.")
        return redirect("ach_importer", importer_id=importer.pk)
    return _detail(request, importer, status=400, rejection_form=form)


@editor_required
@require_POST
def ach_support_emailed(request: OrgRequest, importer_id: int) -> HttpResponse:
    importer = _importer(request, importer_id)
    form = SupportEmailedForm(request.POST)
    done = submit_form(form, lambda data: services.rejection_support_emailed(
        importer=importer, emailed_on=data["emailed_on"], **_org_kwargs(request),
    ))
    if done:
        messages.success(request, f"Recorded for {done.result} rejected refund(s). Allow 4–6 weeks for the replacement.")
        return redirect("ach_importer", importer_id=importer.pk)
    return _detail(request, importer, status=400, emailed_form=form)


@editor_required
@require_POST
def ach_rejection_resolve(request: OrgRequest, pk: int) -> HttpResponse:
    rejection = get_object_or_404(rejections_visible_to(request.organization), pk=pk)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            services.rejection_resolve(rejection=rejection, resolved_on=form.cleaned_data["resolved_on"], **_org_kwargs(request))
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Replacement refund recorded as received.")
    else:
        messages.error(request, "Give the date the replacement refund arrived.")
    return redirect("ach_importer", importer_id=rejection.importer_id)


@editor_for_post
def ach_rev613(request: OrgRequest) -> HttpResponse:
    form = Rev613UploadForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        limit = int(getattr(settings, "MAX_UPLOAD_SIZE", 200 * 1024 * 1024))
        if upload.size > limit:
            form.add_error("file", f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes.")
        else:
            result = services.rev613_import(organization=request.organization, content=upload.read(),
                                            filename=upload.name[:200], user=request.user)
    return render(request, "ach/rev613.html", {"form": form, "result": result}, status=400 if form.errors else 200)
