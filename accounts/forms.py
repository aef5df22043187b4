from __future__ import annotations

from django import forms

from accounts.irnumber import VALID_FORMATS_MESSAGE, InvalidIRNumber, canonical_ir_number
from accounts.textcheck import no_control_characters


class ImporterForm(forms.Form):
    ir_number = forms.CharField(label="Importer number (IR#)", max_length=20, help_text=VALID_FORMATS_MESSAGE)
    # The importer's name is in the subject of the account application's confirmation email.
    name = forms.CharField(label="Company name", max_length=200, validators=[no_control_characters])

    def clean_ir_number(self) -> str:
        try:
            return canonical_ir_number(self.cleaned_data["ir_number"])
        except InvalidIRNumber as exc:
            raise forms.ValidationError(str(exc)) from None


class MembershipSettingsForm(forms.Form):
    """One's own settings in one organisation (prefixed by the membership, so each checkbox has its own label)."""

    email_digest = forms.BooleanField(
        label="Daily deadline digest",
        required=False,
        help_text="An email each morning with CAPE windows closing within 14 days, protest deadlines within 30 days "
        "and entries that moved since yesterday.",
    )


class OrganizationSettingsForm(forms.Form):
    email_domains = forms.CharField(
        label="Your organisation's email domains",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line or separated by commas, e.g. harborcb.com. Besides your members' login domains, these "
        "are checked when a client's 5106 point-of-contact email is entered: at one of them, CBP's verification "
        "code would reach you, not the importer.",
    )
