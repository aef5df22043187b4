"""Entry pages: the list (per importer and across a broker's portfolio) and one entry's detail."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.http import OrgRequest
from accounts.irnumber import mask_ir_number
from accounts.permissions import editor_for_post, member_required
from accounts.selectors import assigned_importer_ids, importers_for
from accounts.services import ServiceError
from cape import rules
from cape.classify import entry_facts_update, today_eastern
from cape.interest import LABEL as INTEREST_LABEL
from cape.refunds import entry_refunds
from cape.selectors import (
    LIST_SORTS,
    EntryFilters,
    changes_for_entry,
    entry_count,
    entry_numbered_page,
    explain_reasons,
    fact_history,
    path_totals,
    reason_choices,
    reclassifying,
    timeline,
)
from cape.selectors import (
    entry_detail as select_entry,
)
from cape.templatetags.entry_rows import FIELDS as ROW_FIELDS
from entries.models import Entry
from refundready.widgets import QuickSelect

# The list's columns in order: (sort key, header). Every column sorts (cape.selectors.LIST_SORTS).
COLUMNS = (
    ("entry", "Entry number"), ("importer", "Importer"), ("type", "Type"), ("path", "Path"), ("reasons", "Reasons"),
    ("deadline", "Deadline"), ("amount", "IEEPA duty"),
)


class EntryFilterForm(forms.Form):
    q = forms.CharField(
        label="Search", required=False, max_length=100,
        help_text="An entry number as typed anywhere (3BZ-5500120-4, 3BZ 5500120 4, =\"3BZ55001204\"), part of one, "
                  "an importer's name or IR number.",
    )
    port = forms.RegexField(
        label="Port", required=False, regex=r"^\s*\d{4}\s*$", max_length=8,
        error_messages={"invalid": "Enter a CBP port code: 4 digits, e.g. 2704 (Los Angeles) or 1001 (New York)."},
    )
    # QuickSelect: the same HTML as forms.Select without a template include per option (a broker's
    # importer list has one option per client).
    path = forms.ChoiceField(label="Path", required=False, choices=[("", "Any path")] + list(rules.PATH_LABELS.items()),
                             widget=QuickSelect)
    reason = forms.ChoiceField(label="Reason", required=False, widget=QuickSelect)
    urgency = forms.ChoiceField(
        label="Urgency", required=False,
        choices=[("", "Any"), ("urgent", "Deadline within 14 days"), ("deadline_passed", "Deadline passed"),
                 ("any", "Urgent or passed")],
        widget=QuickSelect,
    )
    within_days = forms.IntegerField(label="Deadline within (days)", required=False, min_value=0, max_value=3650)
    importer = forms.TypedChoiceField(
        label="Importer", required=False, coerce=int, empty_value=None, widget=QuickSelect,
        error_messages={"invalid_choice": forms.ModelChoiceField.default_error_messages["invalid_choice"]},
    )
    mine = forms.BooleanField(label="My clients only", required=False,
                              help_text="Importers assigned to you.")
    ruleset_changed = forms.ChoiceField(
        label="Path changed by ruleset", required=False, widget=QuickSelect,
        choices=[("", "Any"), (rules.RULESET, f"Path changed by ruleset {rules.RULESET}")],
    )
    sort = forms.ChoiceField(label="Sort by", required=False, widget=forms.HiddenInput,
                             choices=[(key, key) for key in LIST_SORTS])
    dir = forms.ChoiceField(label="Direction", required=False, widget=forms.HiddenInput,
                            choices=[("asc", "Ascending"), ("desc", "Descending")])

    def __init__(self, *args: Any, organization: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization, self.user = organization, user
        # Labels in plain words from the ruleset's reason table (the code is in each badge's description).
        cast(forms.ChoiceField, self.fields["reason"]).choices = [("", "Any reason")] + reason_choices()
        # The organisation's importers as plain choices, read once: a ModelChoiceField would read them
        # again for every rendering (through a server-side cursor) and once more to validate.
        rows = importers_for(organization).order_by("name", "ir_number").values_list("pk", "name", "ir_number")
        cast(forms.ChoiceField, self.fields["importer"]).choices = [("", "All importers")] + [
            (pk, f"{name or 'Unnamed importer'} ({mask_ir_number(ir)})") for pk, name, ir in rows  # Importer.__str__
        ]

    def filters(self) -> EntryFilters:
        """The valid part of the query (an invalid field is reported beside it and ignored)."""
        data = self.cleaned_data if self.is_bound else {}
        clean = {name: data.get(name) for name in self.fields if name not in self.errors}
        return EntryFilters(
            path=clean.get("path") or "", reason=clean.get("reason") or "", urgency=clean.get("urgency") or "",
            within_days=clean.get("within_days"), importer_id=clean.get("importer"),
            sort=clean.get("sort") or "deadline", direction=clean.get("dir") or "",
            q=(clean.get("q") or "").strip(), port=(clean.get("port") or "").strip(),
            ruleset_changed=clean.get("ruleset_changed") or "",
            importer_ids=tuple(sorted(assigned_importer_ids(self.organization, self.user))) if clean.get("mine") and self.user else None,
        )


class EntryFactsForm(forms.Form):
    type09_filed = forms.BooleanField(label="Type 09 reconciliation entry already filed", required=False)
    drawback = forms.BooleanField(label="Drawback claimed on this entry (CBP Form 7551)", required=False)
    protest_status = forms.ChoiceField(label="Protest status (CBP Form 19)", choices=Entry.ProtestStatus.choices)
    importer_is_corporate = forms.TypedChoiceField(
        label="Importer is a corporation (interest rate, 19 U.S.C. 1505(c))",
        choices=[("true", "Corporate"), ("false", "Non-corporate")], coerce=lambda v: v == "true",
    )


def _querystring(request: HttpRequest, drop: tuple[str, ...] = ("page",)) -> str:
    return urlencode([(k, v) for k, v in request.GET.items() if k not in drop and v != ""])


def _headers(request: HttpRequest, filters: EntryFilters) -> list[dict[str, Any]]:
    """Each column header: a link sorting by it (the current column's link reverses the direction), and
    aria-sort on the current one."""
    base = _querystring(request, drop=("page", "sort", "dir", "after"))
    out = []
    for key, label in COLUMNS:
        if not key:
            out.append({"label": label, "href": "", "aria_sort": ""})
            continue
        default = LIST_SORTS[key][1]
        current = (filters.direction or LIST_SORTS[filters.sort][1]) if filters.sort == key else ""
        new_dir = ("desc" if current == "asc" else "asc") if current else default
        query = urlencode([("sort", key), ("dir", new_dir)])
        out.append({
            "label": label, "href": f"?{base}&{query}" if base else f"?{query}",
            "aria_sort": {"asc": "ascending", "desc": "descending"}.get(current, ""),
        })
    return out


@require_GET
@member_required
def entry_reclassifying(request: OrgRequest) -> HttpResponse:
    """The "reclassifying…" notice, polled while runs are in progress; once they are done, the page reloads
    (HX-Refresh) to show the new paths rather than leave the old ones on screen."""
    state = reclassifying(request.organization)
    response = render(request, "entries/reclassifying.html", {"reclassifying": state})
    if not state and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@member_required
def entry_list(request: OrgRequest) -> HttpResponse:
    org = request.organization
    form = EntryFilterForm(request.GET or None, organization=org, user=request.user)
    if form.is_bound:
        form.is_valid()
    filters = form.filters()
    visible = [pk for pk, _label in form.fields["importer"].choices if pk != ""]  # type: ignore[attr-defined]  # a ChoiceField
    totals = path_totals(org, EntryFilters(importer_id=filters.importer_id, importer_ids=filters.importer_ids), importer_ids=visible)
    try:
        number = int(request.GET.get("page") or 1)
    except ValueError:
        number = 1
    count = entry_count(org, filters, totals=totals)
    page = entry_numbered_page(org, filters, number=number, count=count, fields=ROW_FIELDS)
    context = {
        "form": form,
        "page": page,
        "totals": totals,
        "totals_count": sum(t.count for t in totals),
        "totals_duty": sum((t.ieepa_duty for t in totals), start=type(totals[0].ieepa_duty)(0)) if totals else 0,
        "filters": filters,
        "query_string": _querystring(request),
        "totals_query": _querystring(request, drop=("page", "after", "path")),
        "headers": _headers(request, filters),
        "today": today_eastern(),
        "path_labels": rules.PATH_LABELS,
        "ruleset": rules.RULESET,
    }
    return render(request, "entries/browse_list.html", context)


@editor_for_post
def entry_detail(request: OrgRequest, pk: int) -> HttpResponse:
    org = request.organization
    entry = select_entry(org, pk)
    classification = getattr(entry, "classification", None)
    initial = {
        "type09_filed": entry.type09_filed, "drawback": entry.drawback, "protest_status": entry.protest_status,
        "importer_is_corporate": "true" if entry.importer.is_corporate else "false",
    }
    if request.method == "POST":
        if not request.membership.can_edit:
            raise PermissionDenied
        form = EntryFactsForm(request.POST, initial=initial)
        if form.is_valid():
            try:
                entry_facts_update(entry=entry, user=request.user, organization=org, **form.cleaned_data)
            except ServiceError as exc:
                form.add_error(exc.field, exc.message)
            else:
                messages.success(request, "Saved. The entry was classified again with the new facts.")
                return redirect("entry_detail", pk=entry.pk)
    else:
        form = EntryFactsForm(initial=initial)
    context = {
        "entry": entry,
        "c": classification,
        "lines": list(entry.lines.all()),
        "timeline": timeline(entry, classification),
        "reasons": explain_reasons(list(classification.reasons)) if classification else [],
        "changes": list(changes_for_entry(org, entry)[:20]),
        "fact_history": fact_history(entry),
        "form": form,
        "path_label": rules.path_label(classification.path) if classification else "",
        "interest_label": INTEREST_LABEL,
        "today": today_eastern(),
        "refunds": entry_refunds(org, entry),
    }
    return render(request, "entries/browse_detail.html", context)
