from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils import timezone

from accounts.models import Importer, Organization
from accounts.selectors import importers_for
from cape.claims import REPORT_NAMES
from cape.models import CAPE_PATHS, Declaration
from entries import entrynumber
from refundready.limits import REPORT_MAX_BYTES  # claim details and refund reports (tests lower it here)


def _check_size(f: Any) -> Any:
    limit = min(REPORT_MAX_BYTES, getattr(settings, "MAX_UPLOAD_SIZE", REPORT_MAX_BYTES))
    if f.size > limit:
        raise forms.ValidationError(f"The file is {f.size:,} bytes; the limit is {limit:,} bytes.")
    return f


class BuildForm(forms.Form):
    importers: forms.ModelMultipleChoiceField[Importer] = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple,
        label="Importers of record (IOR)", help_text="Leave all unticked to include every importer.",
    )
    paths = forms.MultipleChoiceField(
        choices=[(p.value, p.label) for p in CAPE_PATHS], initial=[p.value for p in CAPE_PATHS],
        widget=forms.CheckboxSelectMultiple, label="CAPE paths",
    )
    entry_numbers = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "placeholder": "One entry number per line (dashes allowed)"}),
        label="Only these entries (optional)", help_text="Paste a selection; leave empty for every eligible entry.",
    )
    urgent_only = forms.BooleanField(required=False, label="Only entries whose CAPE window closes within 14 days")
    mixed = forms.BooleanField(required=False, label="Mix importers in one file",
                               help_text="Default: one importer per declaration, so results and refunds are easier to follow.")
    name = forms.CharField(required=False, max_length=100, label="Declaration name (optional)")

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelMultipleChoiceField[Importer]", self.fields["importers"]).queryset = importers_for(organization).order_by("name")

    def clean_entry_numbers(self) -> list[str] | None:
        """One number per line or between commas, typed any way entries.entrynumber repairs ("3BZ 5500120 4" is one
        number); a line of several numbers separated by spaces is read as those numbers."""
        raw = self.cleaned_data.get("entry_numbers", "")
        pieces = [p.strip() for p in re.split(r"[\r\n,;]+", raw) if p.strip()]
        if not pieces:
            return None
        numbers, bad = [], []
        for item, piece in enumerate(pieces, start=1):
            n = entrynumber.repair(piece)
            if entrynumber.is_valid(n):
                numbers.append(n)
                continue
            words = [entrynumber.repair(w) for w in piece.split()]
            if len(words) > 1 and all(entrynumber.is_valid(w) for w in words):
                numbers += words
            else:
                bad.append(f"{piece} (item {item})")
        if bad:
            raise forms.ValidationError(
                f"Not valid entry numbers (11 characters with a correct check digit): {', '.join(bad[:10])}"
                + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
            )
        return list(dict.fromkeys(numbers))


class SubmissionForm(forms.Form):
    submitted_on = forms.DateField(label="Date filed in the ACE Portal CAPE tab", widget=forms.DateInput(attrs={"type": "date"}),
                                   initial=timezone.localdate)
    claim_number = forms.CharField(max_length=40, label="CAPE claim/declaration number", help_text="Digits, for example 100000241223.")


class ClaimDetailsForm(forms.Form):
    file = forms.FileField(label="CAPE Claim Details CSV", help_text="Export it from the ACE Portal CAPE tab (ENTRY_NUMBER, CLAIM_NUMBER, STATUS, ERROR_DESCRIPTION).")
    accepted_on = forms.DateField(required=False, label="Accepted on (default today)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean_file(self) -> Any:
        return _check_size(self.cleaned_data["file"])


class OutcomeForm(forms.Form):
    status = forms.ChoiceField(choices=[(Declaration.Status.FAILED_VALIDATION.value, "Failed initial validation"),
                                        (Declaration.Status.REJECTED.value, "Rejected (whole declaration)")], label="CBP outcome")
    error_text = forms.CharField(required=False, max_length=200, label="CBP message")


class RefundReportForm(forms.Form):
    report = forms.ChoiceField(choices=list(REPORT_NAMES.items()), label="ACE report")
    file = forms.FileField(label="Report CSV")

    def clean_file(self) -> Any:
        return _check_size(self.cleaned_data["file"])



class PortfolioBuildForm(forms.Form):
    """The broker portfolio's bulk build: the importers ticked in the table, or every client importer
    when the explicit "all" button is pressed. An empty selection is refused, never read as "all"."""

    SCOPE_SELECTED = "selected"
    SCOPE_ALL = "all"
    EMPTY_SELECTION = ("No importer is ticked. Tick the importers to build CAPE files for, "
                       "or use “Build CAPE files for every client importer”.")

    importers: forms.ModelMultipleChoiceField[Importer] = forms.ModelMultipleChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple,
                                               label="Importers of record (IOR)")
    scope = forms.ChoiceField(choices=[(SCOPE_SELECTED, "The ticked importers"), (SCOPE_ALL, "Every client importer")],
                              required=False, label="Which importers")

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelMultipleChoiceField[Importer]", self.fields["importers"]).queryset = importers_for(organization).order_by("name")

    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean returns cleaned_data
        # A submission without a scope (Enter pressed, an old page) means the ticked ones: the safe reading.
        data["scope"] = data.get("scope") or self.SCOPE_SELECTED
        if data["scope"] == self.SCOPE_SELECTED and not data.get("importers") and "importers" not in self.errors:
            self.add_error("importers", self.EMPTY_SELECTION)
        return data

    def importer_ids(self) -> list[int] | None:
        """The ids to build for; None means every importer the organisation manages (scope "all")."""
        if self.cleaned_data["scope"] == self.SCOPE_ALL:
            return None
        return [i.pk for i in self.cleaned_data["importers"]]
