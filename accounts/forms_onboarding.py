"""Forms of the onboarding pages. Field rules follow CBP's automated application form (seed 001)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast

from django import forms
from django.conf import settings

from accounts.irnumber import VALID_FORMATS_MESSAGE, InvalidIRNumber, canonical_ir_number
from accounts.models import ReadinessState
from accounts.onboarding.data import country_choices, load, org_structure_choices
from accounts.textcheck import no_control_characters

# CBP stores a telephone number with its parts separated by dashes (CBP, Automated ACE Portal Account
# Application for Importers, Oct 2025: "Include a dash (-) to separate the parts of a phone number",
# e.g. 305-821-8995). People type spaces, dots or (305) too: those are read and stored in CBP's form.
US_PHONE = re.compile(r"^(1-)?\d{3}-\d{3}-\d{4}( ?(x|ext\.?) ?\d{1,6})?$", re.IGNORECASE)
INTL_PHONE = re.compile(r"^\+?\d{1,4}(-\d{1,8}){1,5}( ?(x|ext\.?) ?\d{1,6})?$", re.IGNORECASE)
_US_PHONE_TYPED = re.compile(r"^(?:\+?(1)[\s.-]*)?(?:\((\d{3})\)|(\d{3}))[\s.-]*(\d{3})[\s.-]*(\d{4})$")
_PHONE_EXTENSION = re.compile(r"^(.*?\d)\s*(?:x|ext\.?)\s*(\d{1,6})$", re.IGNORECASE)
US_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$")


def normalize_phone(value: str, *, us: bool) -> str | None:
    """The number in CBP's form (parts separated by dashes), or None when it cannot be read.

    U.S.: ``3058218995``, ``305 821 8995``, ``(305) 821-8995`` and ``305.821.8995`` all become
    ``305-821-8995`` (``1-`` kept when typed, an extension becomes `` x123``). Elsewhere the
    spaces, dots and parentheses between the parts become dashes: ``+44 20 7946 0958`` ->
    ``+44-20-7946-0958``.
    """
    text = " ".join((value or "").split())
    extension = ""
    if m := _PHONE_EXTENSION.match(text):
        text, extension = m.group(1), f" x{m.group(2)}"
    if us:
        if not (m := _US_PHONE_TYPED.match(text)):
            return None
        country, area = m.group(1), m.group(2) or m.group(3)
        number = f"{'1-' if country else ''}{area}-{m.group(4)}-{m.group(5)}{extension}"
        return number if US_PHONE.match(number) else None
    plus = "+" if text.startswith("+") else ""
    parts = [p for p in re.split(r"[\s().-]+", text.removeprefix("+")) if p]
    number = plus + "-".join(parts) + extension
    return number if INTL_PHONE.match(number) else None


def _ir_field() -> forms.CharField:
    return forms.CharField(label="Importer record number (IR#)", max_length=20, help_text=VALID_FORMATS_MESSAGE)


def _clean_ir(value: str) -> str:
    try:
        return canonical_ir_number(value)
    except InvalidIRNumber as exc:
        raise forms.ValidationError(str(exc)) from None


class ApplicationStartForm(forms.Form):
    # Both reach an email header (the code's subject; the login email's To): control characters are refused.
    company_name = forms.CharField(
        label="Company name",
        max_length=200,
        help_text="Exactly as on your CBP Form 5106 importer record.",
        validators=[no_control_characters],
    )
    ir_number = _ir_field()
    email = forms.EmailField(
        label="Business email address (account owner login email)",
        max_length=254,
        validators=[no_control_characters],
        help_text="This becomes the Trade Account Owner's login.",
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fixed_email = user.email if getattr(user, "is_authenticated", False) and user.email else ""
        if self.fixed_email:
            self.fields["email"].initial = self.fixed_email
            self.fields["email"].disabled = True
            self.fields["email"].help_text = "Your login email: it becomes the Trade Account Owner's login."

    def clean_ir_number(self) -> str:
        return _clean_ir(self.cleaned_data["ir_number"])


class VerifyForm(forms.Form):
    code = forms.CharField(
        label="Verification code",
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
        help_text="The 6-digit code emailed to the 5106 point of contact.",
    )


class DetailsForm(forms.Form):
    """Step 4: company and account owner information."""

    org_structure = forms.ChoiceField(label="Company organizational structure", choices=[])
    fiscal_year_end = forms.CharField(
        label="Account's fiscal year end date",
        required=False,
        max_length=10,
        help_text="MM/DD/YYYY",
        widget=forms.TextInput(attrs={"placeholder": "MM/DD/YYYY"}),
    )
    duns = forms.CharField(label="DUNS#", required=False, max_length=11, help_text="9 digits")
    website = forms.CharField(label="Company website", required=False, max_length=200)
    owner_first_name = forms.CharField(label="Account owner first name", max_length=60)
    owner_middle_name = forms.CharField(label="Account owner middle name", required=False, max_length=60)
    owner_last_name = forms.CharField(label="Account owner last name", max_length=60)
    country = forms.ChoiceField(label="Country", choices=[], initial="US")
    street = forms.CharField(label="Street address", max_length=200)
    city = forms.CharField(label="City", max_length=100)
    state = forms.CharField(
        label="State",
        required=False,
        max_length=60,
        help_text="Required for U.S. addresses: name or 2-letter abbreviation.",
        widget=forms.TextInput(attrs={"list": "us-states", "autocomplete": "address-level1"}),
    )
    postal_code = forms.CharField(label="Zip code", max_length=10, help_text="U.S.: 12345 or 12345-6789")
    telephone = forms.CharField(
        label="Telephone number", max_length=30, help_text="Separate the parts with dashes, e.g. 305-821-8995."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["org_structure"]).choices = [("", "Select…")] + org_structure_choices()
        cast(forms.ChoiceField, self.fields["country"]).choices = country_choices()

    def clean_fiscal_year_end(self) -> str:
        value = self.cleaned_data["fiscal_year_end"].strip()
        if not value:
            return ""
        if not re.fullmatch(r"\d{2}/\d{2}/\d{4}", value):
            raise forms.ValidationError("Use MM/DD/YYYY, e.g. 12/31/2026.")
        try:
            datetime.strptime(value, "%m/%d/%Y")
        except ValueError:
            raise forms.ValidationError(f"{value} is not a real date (MM/DD/YYYY).") from None
        return value

    def clean_duns(self) -> str:
        value = re.sub(r"[\s-]", "", self.cleaned_data["duns"])
        if value and not re.fullmatch(r"\d{9}", value):
            raise forms.ValidationError("A DUNS number has 9 digits.")
        return value

    def clean_website(self) -> str:
        value = self.cleaned_data["website"].strip()
        if not value:
            return ""
        candidate = value if re.match(r"^https?://", value, re.I) else f"https://{value}"
        try:
            forms.URLField(assume_scheme="https").clean(candidate)
        except forms.ValidationError:
            raise forms.ValidationError(f"{value!r} is not a website address, e.g. www.example.com.") from None
        return candidate

    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean returns cleaned_data
        country = data.get("country")
        us = country == "US"
        state = (data.get("state") or "").strip()
        if us:
            states = {s["code"]: s["code"] for s in load("org_structures.json")["us_states"]}
            states.update({s["name"].lower(): s["code"] for s in load("org_structures.json")["us_states"]})
            code = states.get(state.upper()) or states.get(state.lower())
            if not state:
                self.add_error("state", "The state is required for U.S. addresses.")
            elif code is None:
                self.add_error("state", f"{state!r} is not a U.S. state or territory.")
            else:
                data["state"] = code
        postal = (data.get("postal_code") or "").strip()
        if postal and country:
            if us and not US_ZIP.match(postal):
                self.add_error("postal_code", "A U.S. zip code is 5 digits, or 5 digits, a dash and 4 digits.")
            elif not us and not POSTAL.match(postal):
                self.add_error("postal_code", "Letters, digits, spaces and dashes only (2 to 10 characters).")
        phone = (data.get("telephone") or "").strip()
        if phone and country:
            normalized = normalize_phone(phone, us=us)
            if normalized is None and us:
                self.add_error(
                    "telephone",
                    f"{phone!r} is not a U.S. telephone number: give the 3-digit area code, 3-digit exchange and "
                    "4-digit number, e.g. 305-821-8995.",
                )
            elif normalized is None:
                self.add_error(
                    "telephone",
                    f"{phone!r} is not a telephone number: give the country code and the parts of the number, "
                    "e.g. 44-20-7946-0958.",
                )
            else:
                data["telephone"] = normalized
        return data


class AuthorizeForm(forms.Form):
    authorized = forms.BooleanField(
        label="By selecting this box I am verifying that I am legally authorized to bind my company to RefundReady "
        "and its terms and conditions (electronic signature).",
        required=True,
        error_messages={"required": "Tick the box to confirm that you are authorised to bind the company."},
    )

    def __init__(self, *args: Any, needs_password: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if needs_password:
            self.fields["password1"] = forms.CharField(
                label="Choose a password",
                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                help_text="At least 10 characters; not only digits.",
            )
            self.fields["password2"] = forms.CharField(
                label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
            )

    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean returns cleaned_data
        if "password1" in self.fields and data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


class Form5106Form(forms.Form):
    ir_number = _ir_field()
    company_name = forms.CharField(
        label="Company name (as on the 5106)", max_length=200, validators=[no_control_characters]
    )
    poc_email = forms.EmailField(
        label="Point-of-contact (POC) email, box 2E",
        max_length=254,
        validators=[no_control_characters],
        help_text="CBP's ACE verification code goes to this address.",
    )
    address = forms.CharField(label="Address", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    last_updated = forms.DateField(
        label="Date last updated (in ACE)",
        required=False,
        input_formats=["%m/%d/%Y", "%Y-%m-%d"],
        help_text="MM/DD/YYYY",
        widget=forms.DateInput(format="%m/%d/%Y"),
    )
    poc_email_confirmed = forms.BooleanField(
        label="The broker confirmed today that this is the current POC email", required=False
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["ir_number"].disabled = True
            self.fields["ir_number"].help_text = "The IR number of a 5106 record does not change."

    def clean_ir_number(self) -> str:
        return _clean_ir(self.cleaned_data["ir_number"])


class Form5106ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: IR Number, Company Name, POC Email, Address, Date Last Updated (MM/DD/YYYY).",
    )

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        limit = int(getattr(settings, "FORM5106_MAX_IMPORT_BYTES", 5 * 1024 * 1024))
        if f.size > limit:
            raise forms.ValidationError(f"{f.name} is {f.size:,} bytes; the limit is {limit:,} bytes.")
        return f


class ReadinessStateForm(forms.ModelForm):
    class Meta:
        model = ReadinessState
        fields = ["ace_account", "sub_account", "tao_name", "tao_email"]
        labels = {"ace_account": "ACE Portal account", "sub_account": "Importer sub-account view"}
