from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.forms import (
    ImporterAssignForm,
    ImporterForm,
    ImporterNoteForm,
    MembershipSettingsForm,
)
from accounts.http import OrgRequest
from accounts.middleware import SESSION_KEY
from accounts.models import Membership
from accounts.permissions import editor_required, member_required
from accounts.selectors import (
    assignable_members,
    assignments_for,
    grants_for_owner,
    importers_for,
    memberships_for,
    notes_for,
)
from accounts.services import (
    ServiceError,
    grant_revoke,
    importer_assign,
    importer_create,
    importer_facts_update,
    importer_note_add,
    importer_note_follow_up_done,
    importer_unassign,
    membership_digest_set,
)
from refundready.dates import today_eastern
from refundready.forms import submit_form


@member_required
def home(request: OrgRequest) -> HttpResponse:
    return redirect("dashboard")


@login_required
def no_organization(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/no_organization.html")


@login_required
@require_POST
def switch_organization(request: HttpRequest) -> HttpResponse:
    org_id = request.POST.get("organization")
    membership = memberships_for(request.user).filter(organization_id=org_id).first() if org_id and org_id.isdigit() else None
    if membership is None:
        messages.error(request, "You are not a member of that organisation.")
    else:
        request.session[SESSION_KEY] = membership.organization_id
        messages.success(request, f"Now working as {membership.organization.name}.")
    return redirect("home")


@member_required
def importer_list(request: OrgRequest) -> HttpResponse:
    qs = importers_for(request.organization).select_related("owner")
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(name__icontains=query) | qs.filter(ir_number__icontains=query)
    page = Paginator(qs.order_by("name", "ir_number"), 50).get_page(request.GET.get("page"))
    return render(request, "accounts/importer_list.html", {"page": page, "q": query})


@member_required
def importer_detail(request: OrgRequest, pk: int) -> HttpResponse:
    importer = get_object_or_404(importers_for(request.organization), pk=pk)
    grants = []
    if importer.owner_id == request.organization.pk:
        grants = list(grants_for_owner(request.organization).filter(importer=importer, revoked_at__isnull=True))
    facts_form = ImporterFactsForm(initial={f: getattr(importer, f) for f in ImporterFactsForm.base_fields})
    return render(request, "accounts/importer_detail.html",
                  {"importer": importer, "grants": grants, "facts_form": facts_form, **_client_work(request, importer)})


def _client_work(request: OrgRequest, importer: Any, *, assign_form: Any = None, note_form: Any = None) -> dict[str, Any]:
    """The importer page's client-work section: who the importer is assigned to and the notes, the acting
    organisation's own."""
    org = request.organization
    members = list(assignable_members(org))
    return {
        "assignments": list(assignments_for(org).filter(importer=importer).select_related("member").order_by("member__username")),
        "assign_form": assign_form or ImporterAssignForm(members=members),
        "notes": list(notes_for(org, importer)[:50]),
        "note_form": note_form or ImporterNoteForm(),
        "today": today_eastern(),
    }


@editor_required
@require_POST
def importer_assign_view(request: OrgRequest, pk: int) -> HttpResponse:
    """POST: assign the importer to a member (``action=assign``) or take it off a member's clients (``unassign``)."""
    org = request.organization
    importer = get_object_or_404(importers_for(org), pk=pk)
    form = ImporterAssignForm(request.POST, members=assignable_members(org))
    if form.is_valid():
        member = form.cleaned_data["member"]
        try:
            if request.POST.get("action") == "unassign":
                importer_unassign(organization=org, importer=importer, member=member, user=request.user)
                messages.success(request, f"{importer.name} is no longer assigned to {member.get_username()}.")
            else:
                importer_assign(organization=org, importer=importer, member=member, user=request.user)
                messages.success(request, f"{importer.name} is assigned to {member.get_username()}.")
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect(f"{reverse('importer_detail', args=[importer.pk])}#client-work")
    return _importer_page(request, importer, assign_form=form)


@editor_required
@require_POST
def importer_note_new(request: OrgRequest, pk: int) -> HttpResponse:
    org = request.organization
    importer = get_object_or_404(importers_for(org), pk=pk)
    form = ImporterNoteForm(request.POST)
    if submit_form(form, lambda data: importer_note_add(organization=org, importer=importer, text=data["text"],
                                                        follow_up_on=data["follow_up_on"], user=request.user)):
        messages.success(request, "Note added.")
        return redirect(f"{reverse('importer_detail', args=[importer.pk])}#client-work")
    return _importer_page(request, importer, note_form=form)


@editor_required
@require_POST
def importer_note_done(request: OrgRequest, pk: int, note_pk: int) -> HttpResponse:
    """POST: the note's follow-up is done. Another organisation's note is a 404."""
    org = request.organization
    note = get_object_or_404(notes_for(org).filter(importer_id=pk), pk=note_pk)
    try:
        importer_note_follow_up_done(organization=org, note=note, user=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Follow-up marked done.")
    return redirect(f"{reverse('importer_detail', args=[pk])}#client-work")


def _importer_page(request: OrgRequest, importer: Any, **forms_: Any) -> HttpResponse:
    """The importer page again with a refused client-work form and its errors beside the fields."""
    facts_form = ImporterFactsForm(initial={f: getattr(importer, f) for f in ImporterFactsForm.base_fields})
    return render(request, "accounts/importer_detail.html",
                  {"importer": importer, "grants": [], "facts_form": facts_form, **_client_work(request, importer, **forms_)},
                  status=400)


class ImporterFactsForm(forms.Form):
    cit_plaintiff = forms.BooleanField(
        label="CIT plaintiff (the importer's number was reported for the court-ordered CAPE phase)", required=False)
    cit_case_note = forms.CharField(label="CIT case number or note", required=False, max_length=120)
    paper_check_waiver_granted = forms.BooleanField(label="Paper-check waiver granted by CBP (31 CFR 208.4)",
                                                    required=False)
    paper_check_waiver_date = forms.DateField(label="Waiver granted on", required=False,
                                              widget=forms.DateInput(attrs={"type": "date"}))


@editor_required
def importer_facts(request: OrgRequest, pk: int) -> HttpResponse:
    """POST: set the importer's CIT plaintiff status and paper-check waiver (audited; entries reclassified)."""
    importer = get_object_or_404(importers_for(request.organization), pk=pk)
    form = ImporterFactsForm(request.POST or None)
    if request.method == "POST" and (done := submit_form(form, lambda data: importer_facts_update(
        importer=importer, organization=request.organization, user=request.user, **data,
    ))):
        changes = done.result
        messages.success(request, f"{len(changes)} fact{'s' if len(changes) != 1 else ''} changed; "
                                  "the importer's entries were classified again." if changes else "Nothing changed.")
        return redirect("importer_detail", pk=importer.pk)
    return render(request, "accounts/importer_detail.html",
                  {"importer": importer, "grants": [], "facts_form": form, **_client_work(request, importer)},
                  status=400 if form.errors else 200)


@editor_required
def importer_new(request: OrgRequest) -> HttpResponse:
    form = ImporterForm(request.POST or None)
    if request.method == "POST" and (done := submit_form(form, lambda data: importer_create(
        organization=request.organization, ir_number=data["ir_number"], name=data["name"], user=request.user,
    ))):
        importer = done.result
        messages.success(request, f"Importer {importer.name} added.")
        return redirect("importer_detail", pk=importer.pk)
    return render(request, "accounts/importer_form.html", {"form": form})


@editor_required
@require_POST
def grant_revoke_view(request: OrgRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(grants_for_owner(request.organization), pk=pk, revoked_at__isnull=True)
    if request.membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the owner can revoke a broker's access.")
    grant_revoke(grant=grant, user=request.user)
    messages.success(request, f"{grant.organization.name} no longer has access to {grant.importer.name}.")
    return redirect("importer_detail", pk=grant.importer_id)


@login_required
def my_settings(request: HttpRequest) -> HttpResponse:
    """The user's own settings, per organisation they belong to: the daily deadline digest on or off.
    Another user's membership is a 404 (the list is the user's own memberships)."""
    memberships = list(memberships_for(request.user))
    if request.method == "POST":
        raw = request.POST.get("membership", "")
        membership = get_object_or_404(memberships_for(request.user), pk=int(raw) if raw.isdigit() else 0)
        form = MembershipSettingsForm(request.POST, prefix=f"m{membership.pk}")
        if form.is_valid():
            membership_digest_set(membership=membership, email_digest=form.cleaned_data["email_digest"], user=request.user)
            state = "on" if form.cleaned_data["email_digest"] else "off"
            messages.success(request, f"Daily deadline digest for {membership.organization.name}: {state}.")
            return redirect("my_settings")
    rows = [(m, MembershipSettingsForm(initial={"email_digest": m.email_digest}, prefix=f"m{m.pk}")) for m in memberships]
    return render(request, "accounts/my_settings.html", {"rows": rows})
