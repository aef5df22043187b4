"""Importer onboarding services (issue 6): 5106 records, the workspace application that mirrors
CBP's automated ACE importer application, and the sub-account request letter."""

from __future__ import annotations

from accounts.onboarding.application import (
    RESTART_MESSAGES,
    ApplicationRestarted,
    CheckFailed,
    application_ensure_alive,
    application_for_token,
    application_resend,
    application_restart,
    application_save_details,
    application_start,
    application_start_refused,
    application_submit,
    application_verify,
    mask_email,
    owner_name,
    restart_message,
    run_checks,
    seconds_left,
)
from accounts.onboarding.form5106 import (
    ImportResult,
    form5106_confirm_poc_email,
    form5106_import_csv,
    form5106_save,
    poc_email_error,
    poc_email_warnings,
)

__all__ = [
    "RESTART_MESSAGES",
    "ApplicationRestarted",
    "CheckFailed",
    "ImportResult",
    "application_ensure_alive",
    "application_for_token",
    "application_restart",
    "application_resend",
    "application_save_details",
    "application_start",
    "application_start_refused",
    "application_submit",
    "application_verify",
    "form5106_confirm_poc_email",
    "form5106_import_csv",
    "form5106_save",
    "mask_email",
    "owner_name",
    "restart_message",
    "poc_email_error",
    "poc_email_warnings",
    "run_checks",
    "seconds_left",
]
