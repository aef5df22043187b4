from __future__ import annotations

from typing import Any, cast

from django import forms
from django.views.decorators.debug import sensitive_variables

from accounts.irnumber import VALID_FORMATS_MESSAGE, InvalidIRNumber, canonical_ir_number
from accounts.models import ReadinessState
from accounts.services import ServiceError
from ach.aba import InvalidRoutingNumber, parse_routing_number
from ach.models import AchEnrollment
from ach.services import clean_account_number


class NoEchoTextInput(forms.TextInput):
    """A text input that never renders its value back (the bank account number is not echoed on error)."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        return super().get_context(name, None, attrs)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class EnrollmentForm(forms.Form):
    bank_name = forms.CharField(label="Bank name", max_length=120)
    routing_number = forms.CharField(
        label="Routing number (ABA)", max_length=20, help_text="9 digits, printed at the bottom left of a check.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    account_number = forms.CharField(
        label="Account number", max_length=40, strip=True,
        help_text="Up to 17 digits. Stored encrypted; shown only as its last four digits.",
        widget=NoEchoTextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}),
    )
    account_number_confirm = forms.CharField(
        label="Account number again", max_length=40, strip=True, help_text="Type it again to catch a typo.",
        widget=NoEchoTextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}),
    )
    account_type = forms.ChoiceField(label="Account type", choices=AchEnrollment.AccountType.choices, widget=forms.RadioSelect)
    account_holder = forms.CharField(label="Account holder", max_length=200, help_text="The importer of record's name, as the bank has it.")

    def clean_routing_number(self) -> str:
        try:
            return parse_routing_number(self.cleaned_data["routing_number"])
        except InvalidRoutingNumber as exc:
            raise forms.ValidationError(str(exc)) from None

    @sensitive_variables()
    def clean_account_number(self) -> str:
        try:
            return clean_account_number(self.cleaned_data["account_number"])
        except ServiceError as exc:
            raise forms.ValidationError(exc.message) from None

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean returns cleaned_data
        number, again = data.get("account_number"), data.get("account_number_confirm")
        if number and again is not None:
            try:
                again = clean_account_number(again)
            except ServiceError:
                again = None
            if again != number:
                self.add_error("account_number_confirm", "The two account numbers differ: type both again.")
        return data


class EnteredForm(forms.Form):
    entered_on = forms.DateField(label="Date entered in ACE", widget=DateInput)
    entered_by = forms.CharField(label="Entered by", max_length=120, help_text="The Trade Account Owner (TAO) or the authorised user who entered it.")


class ConfirmActiveForm(forms.Form):
    seen_on = forms.DateField(label="Date seen active in ACE", widget=DateInput)
    evidence = forms.FileField(
        label="Evidence (optional)", required=False,
        help_text="A screenshot (PNG or JPEG) or PDF of the ACE ACH Refund Authorization tab. Up to 5 MB. Crop it or blank out "
        "the bank account number before uploading: the status and the last four digits are enough.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"}),
    )


class SpecialCasesForm(forms.Form):
    foreign_no_us_bank = forms.BooleanField(label="Foreign importer without a U.S. bank account", required=False)
    ace_account = forms.ChoiceField(
        label="ACE Portal account", choices=ReadinessState.AceAccount.choices, initial=ReadinessState.AceAccount.NONE,
        help_text="The same state as on the readiness checklist: changing it here changes it there.",
    )
    paper_check_waiver = forms.ChoiceField(label="Paper-check waiver (31 CFR 208.4)", choices=AchEnrollment.Waiver.choices, required=False)


class NotifyPartyForm(forms.Form):
    name = forms.CharField(label="Notify party name", max_length=200, help_text="Often the customs broker or an express carrier.")
    ir_number = forms.CharField(label="Notify party IR number", max_length=20, help_text=VALID_FORMATS_MESSAGE)
    on_ace_profile = forms.BooleanField(label="On the importer's ACE profile (CBP Form 4811 filed)", required=False)
    in_box_28 = forms.BooleanField(label="Its IR number is in box 28 of the entry summaries (CBP Form 7501)", required=False)
    ach_enrolled = forms.BooleanField(label="It has its own ACH refund enrollment in ACE", required=False)

    def clean_ir_number(self) -> str:
        try:
            return canonical_ir_number(self.cleaned_data["ir_number"])
        except InvalidIRNumber as exc:
            raise forms.ValidationError(str(exc)) from None


class RejectionForm(forms.Form):
    amount = forms.DecimalField(label="Refund amount ($)", max_digits=16, decimal_places=2, min_value=0)
    rejected_on = forms.DateField(label="Date rejected", widget=DateInput)
    reason = forms.CharField(label="Reason CBP gave", max_length=300, required=False)
    reference = forms.CharField(label="Refund reference (from CBP's notice or the report)", max_length=80, required=False)


class SupportEmailedForm(forms.Form):
    emailed_on = forms.DateField(label="Date you emailed CBP ACH refund support", widget=DateInput)


class ResolveForm(forms.Form):
    resolved_on = forms.DateField(label="Date the replacement refund arrived", widget=DateInput)


class Rev613UploadForm(forms.Form):
    file = forms.FileField(label="REV-613 ACH Rejected Refunds report (CSV)", help_text="Download it from ACE Reports as CSV.")
