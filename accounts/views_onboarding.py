"""Onboarding pages: the workspace application (open to visitors and to logged-in users), 5106
records, readiness and the sub-account letter. Views parse, call one service, render."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from accounts.forms_onboarding import (
    ApplicationStartForm,
    AuthorizeForm,
    DetailsForm,
    Form5106Form,
    Form5106ImportForm,
    VerifyForm,
)
from accounts.http import OrgRequest
from accounts.middleware import SESSION_KEY
from accounts.models import AccountApplication, Form5106Record
from accounts.onboarding import (
    ApplicationRestarted,
    CheckFailed,
    application_ensure_alive,
    application_for_token,
    application_resend,
    application_restart,
    application_save_details,
    application_start,
    application_start_refused,
    application_submit,
    application_verify,
    form5106_confirm_poc_email,
    form5106_import_csv,
    form5106_save,
    mask_email,
    owner_name,
    seconds_left,
)
from accounts.onboarding.data import already_linked_guide, free_mail_domains, load
from accounts.onboarding.form5106 import email_domain
from accounts.onboarding.letter import subaccount_letter_pdf
from accounts.permissions import editor_for_post, editor_required, member_required
from accounts.readiness import broker_domains_for
from accounts.selectors import importers_for, memberships_for
from accounts.services import ServiceError
from accounts.throttle import client_ip
from refundready.redirects import redirect_to_next

SESSION_APPLICATION = "onboarding_application"
SESSION_DONE = "onboarding_done_org"
STEP_NAMES = [
    "Company, IR# and email",
    "Checks",
    "Verification code",
    "Company and owner details",
    "Authorisation",
    "Submitted",
]


def _ip(request: HttpRequest) -> str:
    # REMOTE_ADDR, or X-Forwarded-For only as far as TRUSTED_PROXY_COUNT proxies vouch for it (the header is
    # client-controlled beyond them).

    return client_ip(request)


def _ctx(step: int, **extra: Any) -> dict[str, Any]:
    return {"step": step, "step_names": STEP_NAMES, **extra}


def _current(request: HttpRequest) -> AccountApplication | None:
    """The application of this browser session, restarted when its ten minutes are up."""
    application = application_for_token(request.session.get(SESSION_APPLICATION))
    if application is None:
        request.session.pop(SESSION_APPLICATION, None)
        return None
    try:
        application_ensure_alive(application=application)
    except ApplicationRestarted as exc:
        request.session.pop(SESSION_APPLICATION, None)
        messages.warning(request, exc.message)
        return None
    return application


def _restarted(request: HttpRequest, exc: ApplicationRestarted) -> HttpResponse:
    request.session.pop(SESSION_APPLICATION, None)
    messages.warning(request, exc.message)
    return redirect("onboarding_apply")


def _no_application(request: HttpRequest) -> HttpResponse:
    return redirect("onboarding_apply")


# ----------------------------------------------------------------------------- the application


def index(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and cast(OrgRequest, request).membership:  # None: a user with no organisation
        return redirect("onboarding_readiness")
    return redirect("onboarding_apply")


def apply_start(request: HttpRequest) -> HttpResponse:
    """Steps 1 and 2: company name, IR#, business email; then CBP's four checks."""
    form = ApplicationStartForm(request.POST or None, user=request.user)
    failure: CheckFailed | None = None
    if request.method == "POST" and form.is_valid():
        previous = application_for_token(request.session.get(SESSION_APPLICATION))
        if previous is not None:
            application_restart(application=previous, reason="new_application")
            request.session.pop(SESSION_APPLICATION, None)
        try:
            application = application_start(
                company_name=form.cleaned_data["company_name"],
                ir_number=form.cleaned_data["ir_number"],
                email=form.fixed_email or form.cleaned_data["email"],
                requester=request.user,
                ip=_ip(request),
            )
        except CheckFailed as exc:
            failure = exc
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            request.session[SESSION_APPLICATION] = application.token
            return redirect("onboarding_verify")
    elif request.method == "POST" and "ir_number" in form.errors:
        # Refused before the checks ran: still audited and counted toward the per-IP start limit.
        if limit_message := application_start_refused(requester=request.user, ip=_ip(request)):
            form.add_error(None, limit_message)
    return render(request, "onboarding/apply_start.html", _ctx(1, form=form, failure=failure))


def apply_verify(request: HttpRequest) -> HttpResponse:
    """Step 3: the code sent to the 5106 POC email, valid ten minutes."""
    application = _current(request)
    if application is None:
        return _no_application(request)
    if application.status == AccountApplication.Status.VERIFIED:
        return redirect("onboarding_details")
    form = VerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            application_verify(application=application, code=form.cleaned_data["code"])
        except ApplicationRestarted as exc:
            return _restarted(request, exc)
        except ServiceError as exc:
            form.add_error("code", exc.message)
        else:
            return redirect("onboarding_details")
    record = getattr(application.importer, "form5106", None) if application.importer else None
    return render(
        request,
        "onboarding/apply_verify.html",
        _ctx(
            3,
            form=form,
            application=application,
            seconds_left=seconds_left(application),
            poc_hint=mask_email(record.poc_email) if record else "",
        ),
    )


@require_POST
def apply_resend(request: HttpRequest) -> HttpResponse:
    application = _current(request)
    if application is None:
        return _no_application(request)
    try:
        application_resend(application=application, ip=_ip(request))
    except ApplicationRestarted as exc:
        return _restarted(request, exc)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, "A new code was sent to the 5106 point of contact; the previous code no longer works."
        )
    return redirect("onboarding_verify")


@require_POST
def apply_back(request: HttpRequest) -> HttpResponse:
    """ACE's '< Back': the application restarts and everything typed is discarded (seed 001)."""
    application = application_for_token(request.session.get(SESSION_APPLICATION))
    request.session.pop(SESSION_APPLICATION, None)
    if application is not None:
        application_restart(application=application, reason="back")
        messages.warning(request, "You went back, so the application restarted and what you typed was discarded.")
    return redirect("onboarding_apply")


def apply_details(request: HttpRequest) -> HttpResponse:
    """Step 4: company and account owner details (company name, IR# and email read-only)."""
    application = _current(request)
    if application is None:
        return _no_application(request)
    if application.status != AccountApplication.Status.VERIFIED:
        return redirect("onboarding_verify")
    form = DetailsForm(request.POST or None, initial=application.details or None)
    if request.method == "POST" and form.is_valid():
        try:
            application_save_details(application=application, details=form.cleaned_data)
        except ApplicationRestarted as exc:
            return _restarted(request, exc)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("onboarding_authorize")
    return render(
        request,
        "onboarding/apply_details.html",
        _ctx(
            4,
            form=form,
            application=application,
            seconds_left=seconds_left(application),
            us_states=load("org_structures.json")["us_states"],
        ),
    )


def apply_authorize(request: HttpRequest) -> HttpResponse:
    """Step 5 and 6: the authorisation (owner name and today's date filled, not editable), then submit."""
    application = _current(request)
    if application is None:
        return _no_application(request)
    if application.status != AccountApplication.Status.VERIFIED:
        return redirect("onboarding_verify")
    if not application.details:
        return redirect("onboarding_details")
    anonymous = not request.user.is_authenticated
    form = AuthorizeForm(request.POST or None, needs_password=anonymous)
    if request.method == "POST" and form.is_valid():
        try:
            organization = application_submit(
                application=application,
                user=request.user,
                authorized=form.cleaned_data["authorized"],
                password=form.cleaned_data.get("password1", ""),
                login_url=request.build_absolute_uri(reverse("login")),
            )
        except ApplicationRestarted as exc:
            return _restarted(request, exc)
        except ServiceError as exc:
            field = {"password": "password1"}.get(exc.field or "", exc.field)
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            if anonymous:
                application.refresh_from_db()
                login(request, application.requester, backend="django.contrib.auth.backends.ModelBackend")
            request.session.pop(SESSION_APPLICATION, None)
            request.session[SESSION_KEY] = organization.pk
            request.session[SESSION_DONE] = organization.pk
            return redirect("onboarding_done")
    return render(
        request,
        "onboarding/apply_authorize.html",
        _ctx(
            5,
            form=form,
            application=application,
            seconds_left=seconds_left(application),
            owner_name=owner_name(application.details),
            today=timezone.localdate(),
        ),
    )


def apply_done(request: HttpRequest) -> HttpResponse:
    org_id = request.session.get(SESSION_DONE)
    membership = memberships_for(request.user).filter(organization_id=org_id).first() if org_id else None
    if membership is None:
        return redirect("onboarding_apply")
    importers = list(importers_for(membership.organization))
    return render(
        request, "onboarding/apply_done.html", _ctx(6, organization=membership.organization, importers=importers)
    )


def already_linked(request: HttpRequest) -> HttpResponse:
    return render(request, "onboarding/already_linked.html", {"guide": already_linked_guide()})


# ----------------------------------------------------------------------------- 5106 records


def _records(request: OrgRequest) -> Any:
    return Form5106Record.objects.filter(importer__in=importers_for(request.organization)).select_related("importer")


@member_required
def form5106_list(request: OrgRequest) -> HttpResponse:
    page = Paginator(_records(request).order_by("company_name", "pk"), 100).get_page(request.GET.get("page"))
    records = list(page)
    brokers = broker_domains_for([r.importer_id for r in records])
    free = free_mail_domains()
    rows = []
    for r in records:
        d = email_domain(r.poc_email)
        warning = ""
        if d in brokers.get(r.importer_id, {}):
            warning = f"Broker's domain ({brokers[r.importer_id][d]})"
        elif d in free:
            warning = "Free-mail provider"
        rows.append({"record": r, "warning": warning})
    return render(request, "onboarding/form5106_list.html", {"rows": rows, "page": page})


@editor_required
def form5106_new(request: OrgRequest) -> HttpResponse:
    form = Form5106Form(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            record, _created, warnings = form5106_save(
                organization=request.organization,
                user=request.user,
                **form.cleaned_data,
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"5106 record of {record.company_name} saved.")
            for warning in warnings:
                messages.warning(request, warning)
            return redirect("onboarding_5106_list")
    return render(request, "onboarding/form5106_form.html", {"form": form, "record": None})


@editor_for_post
def form5106_edit(request: OrgRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(_records(request), pk=pk)
    initial = {
        "ir_number": record.importer.ir_number,
        "company_name": record.company_name,
        "poc_email": record.poc_email,
        "address": record.address,
        "last_updated": record.last_updated,
    }
    form = Form5106Form(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            record, _created, warnings = form5106_save(
                organization=request.organization,
                user=request.user,
                **form.cleaned_data,
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"5106 record of {record.company_name} saved.")
            for warning in warnings:
                messages.warning(request, warning)
            return redirect("onboarding_5106_list")
    return render(request, "onboarding/form5106_form.html", {"form": form, "record": record})


@editor_required
@require_POST
def form5106_confirm(request: OrgRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(_records(request), pk=pk)
    form5106_confirm_poc_email(record=record, organization=request.organization, user=request.user)
    messages.success(request, f"POC email of {record.company_name} marked confirmed today.")
    return redirect_to_next(request, "onboarding_5106_list")


@editor_required
def form5106_import(request: OrgRequest) -> HttpResponse:
    form = Form5106ImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        result = form5106_import_csv(
            organization=request.organization,
            user=request.user,
            data=upload.read(),
            filename=upload.name,
        )
    return render(request, "onboarding/form5106_import.html", {"form": form, "result": result})


# ----------------------------------------------------------------------------- readiness


@member_required
def subaccount_letter(request: OrgRequest, pk: int) -> HttpResponse:
    importer = get_object_or_404(importers_for(request.organization), pk=pk)
    extra_ids = [int(i) for i in request.GET.getlist("also") if i.isdigit() and int(i) != importer.pk]
    extra = list(importers_for(request.organization).filter(pk__in=extra_ids).order_by("ir_number"))
    try:
        pdf = subaccount_letter_pdf(importers=[importer, *extra], organization=request.organization, user=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("onboarding_readiness_detail", pk=importer.pk)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, f"subaccount-request-{importer.pk}.pdf")
    return response
