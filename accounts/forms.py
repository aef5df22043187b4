from __future__ import annotations

from typing import Any, cast

from django import forms

from accounts.api_tokens import DEFAULT_EXPIRY, EXPIRY_CHOICES
from accounts.audit_display import object_name
from accounts.irnumber import VALID_FORMATS_MESSAGE, InvalidIRNumber, canonical_ir_number
from accounts.textcheck import no_control_characters

DATE_INPUT_FORMATS = ["%m/%d/%Y", "%Y-%m-%d"]


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


class AuditLogFilterForm(forms.Form):
    """The audit log page's filters (GET). Menus offer only what the organisation's own rows hold."""

    user = forms.TypedChoiceField(label="User", required=False, coerce=int, empty_value=None)
    action = forms.ChoiceField(label="Action", required=False)
    object_type = forms.ChoiceField(label="Object", required=False)
    object_id = forms.CharField(
        label="Object number",
        required=False,
        max_length=64,
        help_text="The number shown after the object's name, e.g. 42 for “entry 42”.",
    )
    date_from = forms.DateField(
        label="From",
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        help_text="MM/DD/YYYY",
        widget=forms.DateInput(format="%m/%d/%Y", attrs={"placeholder": "MM/DD/YYYY"}),
    )
    date_to = forms.DateField(
        label="To (inclusive)",
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        help_text="MM/DD/YYYY",
        widget=forms.DateInput(format="%m/%d/%Y", attrs={"placeholder": "MM/DD/YYYY"}),
    )

    def __init__(self, *args: Any, choices: dict[str, list[Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["user"]).choices = [("", "Anyone")] + [(u.pk, u.get_username()) for u in choices["users"]]
        cast(forms.ChoiceField, self.fields["action"]).choices = [("", "Any action")] + [(a, a) for a in choices["actions"]]
        cast(forms.ChoiceField, self.fields["object_type"]).choices = [("", "Any object")] + [
            (t, object_name(t)) for t in choices["object_types"]
        ]

    def clean_object_id(self) -> str:
        value = self.cleaned_data["object_id"].strip()
        if value and not value.isdigit():
            raise forms.ValidationError(f"{value!r} is not an object number: digits only, e.g. 42.")
        return value

    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean returns cleaned_data
        if data.get("object_id") and not data.get("object_type") and "object_id" not in self.errors:
            self.add_error("object_id", "Choose the kind of object too: numbers repeat across kinds.")
            data.pop("object_id", None)
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", f"The end date {end:%m/%d/%Y} is before the start date {start:%m/%d/%Y}.")
            data.pop("date_to", None)
        return data


class ApiTokenForm(forms.Form):
    expires_in = forms.ChoiceField(
        label="Expires after",
        choices=EXPIRY_CHOICES,
        initial=DEFAULT_EXPIRY,
        help_text="After this the API answers 401 to the token; make a new one then. A shorter life limits the harm of a leaked token.",
    )


class ImporterAssignForm(forms.Form):
    """Client work: assign the importer to an owner or staff member of the organisation."""

    member = forms.ChoiceField(label="Assign to")

    def __init__(self, *args: Any, members: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = {str(u.pk): u for u in members}
        cast(forms.ChoiceField, self.fields["member"]).choices = [("", "Choose a member"), *[(pk, u.get_full_name() or u.get_username())
                                                                     for pk, u in self.members.items()]]

    def clean_member(self) -> Any:
        return self.members[self.cleaned_data["member"]]


class ImporterNoteForm(forms.Form):
    """Client work: a note on the importer, with an optional follow-up date."""

    text = forms.CharField(label="Note", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                           validators=[no_control_characters])
    follow_up_on = forms.DateField(label="Follow up on", required=False, input_formats=DATE_INPUT_FORMATS,
                                   help_text="Optional. The portfolio shows the date, and marks it overdue once it has passed.",
                                   widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
