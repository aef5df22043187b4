from __future__ import annotations

from django import forms

from accounts.irnumber import VALID_FORMATS_MESSAGE, InvalidIRNumber, canonical_ir_number


class ImporterForm(forms.Form):
    ir_number = forms.CharField(label="Importer number (IR#)", max_length=20, help_text=VALID_FORMATS_MESSAGE)
    name = forms.CharField(label="Company name", max_length=200)

    def clean_ir_number(self) -> str:
        try:
            return canonical_ir_number(self.cleaned_data["ir_number"])
        except InvalidIRNumber as exc:
            raise forms.ValidationError(str(exc)) from None
