"""The sub-account request letter (PDF, WeasyPrint) for the Trade Account Owner to sign.

Seed 004, "Add Sub-Accounts To An Existing ACE Portal": a letter on company letterhead, signed by
the TAO or an authorised representative, that clearly asks CBP to add one or more importer
sub-accounts to the top account, with company details exactly as in the original ACE Portal
application, emailed to the address in accounts/data/cbp_contacts.json.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import AccountApplication, Form5106Record, Importer, Organization, ReadinessState
from accounts.onboarding.application import owner_name
from accounts.onboarding.data import load, sub_account_letter_rules
from accounts.services import ServiceError, audit


def _country_name(code: str) -> str:
    for c in load("org_structures.json")["countries"]:
        if c["code"] == code:
            return c["name"]
    return code


def letter_context(*, importers: list[Importer]) -> dict[str, Any]:
    """The letter's facts. Company details come from the submitted application on file (the details
    CBP must see repeated exactly); failing that from the 5106 record, and the letter says so."""
    if not importers:
        raise ServiceError("Choose at least one importer to add as a sub-account.")
    first = importers[0]
    application = None
    if first.owner_id is not None:
        application = (
            AccountApplication.objects.filter(
                organization_id=first.owner_id, status=AccountApplication.Status.SUBMITTED
            )
            .order_by("-submitted_at")
            .first()
        )
    record = Form5106Record.objects.filter(importer=first).first()
    company: dict[str, Any] = {
        "name": first.name,
        "address_lines": [],
        "telephone": "",
        "owner": "",
        "email": "",
        "source": "none",
    }
    if application is not None:
        d = application.details
        city_line = ", ".join(
            p for p in (d.get("city"), " ".join(p for p in (d.get("state"), d.get("postal_code")) if p)) if p
        )
        company = {
            # The 5106 record's spelling: CBP matched the application's name against it (see
            # record_company_name); what was typed may differ in case and punctuation.
            "name": (record.company_name.strip() if record is not None else "") or application.company_name,
            "address_lines": [
                line for line in (d.get("street"), city_line, _country_name(d.get("country", ""))) if line
            ],
            "telephone": d.get("telephone", ""),
            "owner": owner_name(d),
            "email": application.email,
            "source": "application",
            "applied_on": application.submitted_at,
        }
    elif record is not None:
        company.update(
            name=record.company_name,
            address_lines=[ln for ln in record.address.splitlines() if ln.strip()],
            source="5106",
        )
    readiness = ReadinessState.objects.filter(importer=first).first()
    if not company["owner"] and readiness is not None:
        company["owner"], company["email"] = readiness.tao_name, readiness.tao_email
    return {
        "company": company,
        "importers": importers,
        "today": timezone.localdate(),
        "rules": sub_account_letter_rules(),
    }


def subaccount_letter_html(*, importers: list[Importer]) -> str:
    return render_to_string("pdf/subaccount_letter.html", letter_context(importers=importers))


def subaccount_letter_pdf(*, importers: list[Importer], organization: Organization, user: Any) -> bytes:
    from weasyprint import HTML

    html = subaccount_letter_html(importers=importers)
    pdf = HTML(string=html).write_pdf()
    audit(
        action="onboarding.subaccount_letter",
        user=user,
        organization=organization,
        obj=importers[0],
        importer_ids=[i.pk for i in importers],
    )
    return pdf
