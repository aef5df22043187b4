from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone

from accounts.models import Importer, Organization
from accounts.selectors import importers_for
from protests.models import Protest
from protests.services import MAX_REASON


class DraftForm(forms.Form):
    importers: forms.ModelMultipleChoiceField[Importer] = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Importers of record (IOR)",
        help_text="One protest per importer (more when its spreadsheet would pass 10 MB, the ACE attachment limit).",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelMultipleChoiceField[Importer]", self.fields["importers"]).queryset = importers_for(organization).order_by("name")


class FilingForm(forms.Form):
    protest_number = forms.CharField(max_length=20, label="Protest number (from the ACE Protest Module)",
                                     help_text="Port code, year and serial, for example 2704-26-100412.")
    filed_on = forms.DateField(label="Date filed", widget=forms.DateInput(attrs={"type": "date"}), initial=timezone.localdate)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Protest.Decision.choices, label="CBP's decision")
    decided_on = forms.DateField(label="Date of the decision", widget=forms.DateInput(attrs={"type": "date"}),
                                 initial=timezone.localdate)


class ReasonForm(forms.Form):
    reason_text = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), max_length=MAX_REASON, label="Reason for protest",
                                  help_text="Pasted into the ACE Protest Module as written.")


class OrganizationReasonForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 12}), max_length=MAX_REASON, required=False,
                           label="Reason for protest for new drafts",
                           help_text="Leave empty to use the default narrative (Learning Resources, Inc. v. Trump; interest under 19 U.S.C. 1505).")
