"""The workspace application: CBP's automated ACE importer application, step for step (seed 001).

1. company name, IR number, business email (the Trade Account Owner's login);
2. four checks in CBP's order, each failure with guidance of its own;
3. a 6-digit code emailed to the 5106 POC email: stored as an HMAC, compared in constant time, valid
   ten minutes on the server, five wrong attempts at most, resends limited per IR number and per IP;
   ten minutes passing or Back restarts the application and discards everything typed;
4. company and account owner details; 5. authorisation; 6. submit: the importer organisation, its
   owner (TAO), the importer linked (brokers keep their grants), two emails.
Every event goes to the audit log (anonymous events have no organisation).
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Q
from django.template import engines
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.irnumber import InvalidIRNumber, canonical_ir_number, mask_ir_number
from accounts.models import (
    AccountApplication,
    AuditLog,
    Form5106Record,
    Importer,
    Organization,
    ReadinessState,
    VerificationCode,
)
from accounts.names import company_names_match
from accounts.onboarding.data import already_linked_guide, form5106_update_text, limit
from accounts.onboarding.form5106 import poc_email_error
from accounts.services import ServiceError, audit, audit_everywhere, organization_create, organizations_involved
from accounts.textcheck import CONTROL_CHARACTERS_MESSAGE, has_control_characters, strip_control_characters

User = get_user_model()

CODE_RE = re.compile(r"^\d{6}$")


class CheckFailed(ServiceError):
    """One of the four checks of step 2 failed. ``check`` names it; ``guidance`` says what to do."""

    def __init__(
        self,
        check: str,
        message: str,
        *,
        guidance: list[str],
        field: str | None = None,
        guide: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.check = check
        self.guidance = guidance
        self.guide = guide


class ApplicationRestarted(ServiceError):
    """The application was restarted (ten minutes passed, Back, too many wrong codes): start again."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# ----------------------------------------------------------------------------- helpers


def _hmac(purpose: str, value: str) -> str:
    """Keyed with SECRET_KEY: a stolen database alone does not reveal a 6-digit code."""
    return salted_hmac(f"accounts.onboarding.{purpose}", value, algorithm="sha256").hexdigest()


def _code_hash(application: AccountApplication, code: str) -> str:
    return _hmac("code", f"{application.token}:{code}")


def mask_email(email: str) -> str:
    """j•••@b•••.com: enough for the requester to know whom to ask, not the address itself."""
    local, _, domain = (email or "").partition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}•••@{host[:1]}•••.{tld}" if host else f"{local[:1]}•••"


def _send(template: str, context: dict[str, Any], to: str) -> None:
    """Render now, send once the transaction commits: a rolled-back code or account sends nothing.

    The template's first line is the subject. It is rendered on its own and made one line, because it quotes
    names typed by brokers or read from files: a line break there would be header injection (BadHeaderError)."""
    engine = engines["django"]
    source = engine.get_template(f"email/{template}.txt").template.source  # type: ignore[attr-defined]  # the Django engine's wraps a Template
    subject_source, _, body_source = source.partition("\n")
    subject = strip_control_characters(engine.from_string(subject_source).render(context))
    body = engine.from_string(body_source).render(context).lstrip("\n")
    transaction.on_commit(lambda: send_mail(subject, body, None, [to]))


def _lock_code_limits(*, importer_id: int | None, ip_key: str) -> None:
    """Serialise the sends that count toward one IR number's and one network's code limits, so that the
    count and the new code's row are one step (12 simultaneous starts must not send 10 codes when 5 are
    allowed). The importer's 5106 record row is the per-IR lock; on PostgreSQL a transaction-level advisory
    lock on the network's key is the per-IP one (SQLite runs one writer at a time anyway)."""
    list(Form5106Record.objects.select_for_update().filter(importer_id=importer_id).values_list("pk", flat=True))  # type: ignore[misc]  # None: IS NULL, no row
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ADVISORY_LOCK_CLASS, ip_key])


# pg_advisory_xact_lock's first key: this module's code-limit locks (any constant other modules do not use).
ADVISORY_LOCK_CLASS = 5106


def _email_user(email: str, *, exclude: Any = None) -> Any:
    qs = User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email))
    if exclude is not None and getattr(exclude, "pk", None):
        qs = qs.exclude(pk=exclude.pk)
    return qs.first()


# ----------------------------------------------------------------------------- step 2: the four checks


def run_checks(*, company_name: str, ir_number: str, email: str, requester: Any = None) -> Form5106Record:
    """CBP's four checks in CBP's order (seed 001, step 2). Returns the matching 5106 record."""
    if _email_user(email, exclude=requester) is not None:
        raise CheckFailed(
            "email_in_use",
            "This email already belongs to a RefundReady user.",
            field="email",
            guidance=[
                "The business email becomes the Trade Account Owner's login, so it must not already have one.",
                "If it is yours: log in with it (use 'forgot password' if needed) and apply from your account.",
                "Otherwise use another business email of yours.",
            ],
        )
    record = (
        Form5106Record.objects.select_related("importer", "importer__owner")
        .filter(importer__ir_number=ir_number)
        .first()
    )
    if record is None or not company_names_match(record.company_name, company_name):
        raise CheckFailed(
            "no_5106_match",
            "The IR number and company name do not match a 5106 importer record.",
            guidance=[
                "Type the company name as it appears on your CBP Form 5106 (case, punctuation and endings "
                "such as Inc or LLC do not matter) and the IR number with its suffix, e.g. 12-345678900.",
                "Your customs broker must have entered your 5106 record in RefundReady first: ask them to.",
                "If your company name has changed, update the 5106 first. " + form5106_update_text(),
            ],
        )
    if error := poc_email_error(record.poc_email):
        raise CheckFailed(
            "no_poc_email",
            "The 5106 importer record has no current, valid point-of-contact (POC) email.",
            guidance=[
                error,
                "The verification code is sent only to the 5106 POC email.",
                form5106_update_text(),
            ],
        )
    if record.importer.owner_id is not None:
        guide = already_linked_guide()
        raise CheckFailed(
            "already_linked",
            "This importer is already linked to an account.",
            guidance=[guide["intro"]] + [step["title"] for step in guide["steps"]],
            guide=guide,
        )
    return record


NEUTRAL_FAILURE = "The application could not start with these details."


def neutral_guidance() -> list[str]:
    """What to check, the same for every failed check (CBP's four checks, seed 001, step 2)."""
    return [
        "Type the company name as it appears on your CBP Form 5106 (case, punctuation and endings such as Inc or "
        "LLC do not matter) and the IR number with its suffix, e.g. 12-345678900.",
        "Your customs broker must have entered your 5106 record in RefundReady first, with a current point-of-contact "
        "(POC) email (box 2E). If your company name or POC has changed, update the 5106 first. "
        + form5106_update_text(),
        "The business email becomes the Trade Account Owner's login, so it must not already have one: if you have a "
        "RefundReady login, log in and apply from your account.",
        "When the company name and IR number match a 5106 record with a valid POC email, that point of contact has "
        "been emailed the exact reason and what to do next (for example, when the importer already has an account).",
    ]


def _notify_poc_of_failure(*, failure: CheckFailed, company_name: str, ir_number: str, email: str, user: Any) -> None:
    """Tell the 5106 POC (only the POC) why the application could not start. Only when the IR number and the
    company name match a record with a valid POC email: otherwise there is nobody the reason belongs to. At most
    ONBOARDING_CODES_PER_IR notices per IR number per window, like the codes, so that nobody can flood the POC."""
    record = Form5106Record.objects.filter(importer__ir_number=ir_number).first()
    if record is None or not company_names_match(record.company_name, company_name) or poc_email_error(record.poc_email):
        return
    ir_key = _hmac("ir", ir_number)
    since = timezone.now() - timedelta(minutes=limit("ONBOARDING_CODE_WINDOW_MINUTES"))
    sent = AuditLog.objects.filter(action="onboarding.check_failed_notice", at__gte=since, detail__ir_key=ir_key)
    if sent.count() >= limit("ONBOARDING_CODES_PER_IR"):
        return
    context = {
        "company_name": record.company_name,
        "email": email,
        "ir_display": mask_ir_number(ir_number),
        "message": failure.message,
        "guidance": failure.guidance,
        "guide": failure.guide,
    }
    _send("onboarding_check_failed", context, record.poc_email)
    audit(action="onboarding.check_failed_notice", user=user, check=failure.check, ir_key=ir_key,
          to=mask_email(record.poc_email))


# ----------------------------------------------------------------------------- step 3: the code


def _limits_reached(*, ir_key: str, ip_key: str) -> str | None:
    since = timezone.now() - timedelta(minutes=limit("ONBOARDING_CODE_WINDOW_MINUTES"))
    window = limit("ONBOARDING_CODE_WINDOW_MINUTES")
    if VerificationCode.objects.filter(ir_key=ir_key, sent_at__gte=since).count() >= limit("ONBOARDING_CODES_PER_IR"):
        return (
            f"Too many verification codes were sent for this importer number in the last {window} minutes. "
            "Wait a while, agree a time with the 5106 point of contact, then try again."
        )
    if VerificationCode.objects.filter(ip_key=ip_key, sent_at__gte=since).count() >= limit("ONBOARDING_CODES_PER_IP"):
        return f"Too many verification codes were requested from your network in the last {window} minutes. Try again later."
    return None


def _send_code(*, application: AccountApplication, ip: str, poc_email: str) -> VerificationCode:
    now = timezone.now()
    code = f"{secrets.randbelow(10**6):06d}"
    expires = now + timedelta(minutes=limit("ONBOARDING_CODE_VALID_MINUTES"))
    application.codes.filter(superseded_at__isnull=True).update(superseded_at=now)
    row = VerificationCode.objects.create(
        application=application,
        ir_key=_hmac("ir", application.ir_number),
        ip_key=_hmac("ip", ip or "unknown"),
        code_hash=_code_hash(application, code),
        sent_at=now,
        expires_at=expires,
    )
    application.expires_at = expires
    application.save(update_fields=["expires_at"])
    _send(
        "onboarding_code",
        {
            "application": application,
            "code": code,
            "minutes": limit("ONBOARDING_CODE_VALID_MINUTES"),
            "ir_display": mask_ir_number(application.ir_number),
        },
        poc_email,
    )
    return row


def _start_limit_reached(*, user: Any, ip_key: str) -> str | None:
    """The checks tell whether an email has a login and whether an IR number and name match a 5106
    record: limit how often one network may ask (every start counts, refused or not), so that neither
    can be harvested."""
    since = timezone.now() - timedelta(minutes=limit("ONBOARDING_CODE_WINDOW_MINUTES"))
    attempts = AuditLog.objects.filter(
        action__in=["onboarding.check_failed", "onboarding.application_start"], at__gte=since, detail__ip_key=ip_key
    ).count()
    if attempts >= limit("ONBOARDING_STARTS_PER_IP"):
        audit(action="onboarding.start_limit", user=user, ip_key=ip_key)
        return "Too many applications were started from your network in the last hour. Try again later."
    return None


def _audit_ir_format(*, user: Any, ip_key: str) -> None:
    # The rejected value itself is not kept: it may be an SSN typed wrongly.
    audit(action="onboarding.check_failed", user=user, check="ir_format", ip_key=ip_key)


def application_start_refused(*, requester: Any = None, ip: str = "") -> str | None:
    """The start form refused the IR number before the checks could run: audit it and count it
    toward the per-IP start limit like any other start. Returns the limit message instead when the
    network has already started too many applications."""
    user = requester if getattr(requester, "is_authenticated", False) else None
    ip_key = _hmac("ip", ip or "unknown")
    if reason := _start_limit_reached(user=user, ip_key=ip_key):
        return reason
    _audit_ir_format(user=user, ip_key=ip_key)
    return None


def application_start(
    *, company_name: str, ir_number: str, email: str, requester: Any = None, ip: str = ""
) -> AccountApplication:
    """Steps 1–3: check, then email a verification code to the 5106 POC. Raises CheckFailed,
    ServiceError (format, limits)."""
    company_name = (company_name or "").strip()
    email = (email or "").strip()
    user = requester if getattr(requester, "is_authenticated", False) else None
    ip_key = _hmac("ip", ip or "unknown")
    if reason := _start_limit_reached(user=user, ip_key=ip_key):
        raise ServiceError(reason)
    # The company name is in the code email's subject, the email its To: a line break there is header injection.
    for name, value in (("company_name", company_name), ("email", email)):
        if has_control_characters(value):
            raise ServiceError(CONTROL_CHARACTERS_MESSAGE, field=name)
    try:
        canonical = canonical_ir_number(ir_number)
    except InvalidIRNumber as exc:
        _audit_ir_format(user=user, ip_key=ip_key)
        raise ServiceError(str(exc), field="ir_number") from None
    try:
        record = run_checks(company_name=company_name, ir_number=canonical, email=email, requester=user)
    except CheckFailed as exc:
        audit(
            action="onboarding.check_failed",
            user=user,
            check=exc.check,
            ir_number=mask_ir_number(canonical),
            ip_key=ip_key,
        )
        _notify_poc_of_failure(failure=exc, company_name=company_name, ir_number=canonical, email=email, user=user)
        # The page says the same whatever failed: which check failed would tell a visitor whether an email has a
        # login or an importer is a customer. The exact reason goes only to the 5106 POC (above).
        raise CheckFailed(exc.check, NEUTRAL_FAILURE, guidance=neutral_guidance()) from None
    with transaction.atomic():
        _lock_code_limits(importer_id=record.importer_id, ip_key=ip_key)
        if reason := _limits_reached(ir_key=_hmac("ir", canonical), ip_key=ip_key):
            audit(action="onboarding.code_limit", user=user, ir_number=mask_ir_number(canonical), at_step="start")
        else:
            application = AccountApplication.objects.create(
                token=secrets.token_urlsafe(32),
                company_name=company_name,
                ir_number=canonical,
                email=email,
                importer=record.importer,
                requester=user,
                expires_at=timezone.now(),
            )
            audit(
                action="onboarding.application_start",
                user=user,
                obj=application,
                ir_number=mask_ir_number(canonical),
                ip_key=ip_key,
            )
            _send_code(application=application, ip=ip, poc_email=record.poc_email)
            audit(action="onboarding.code_sent", user=user, obj=application, to=mask_email(record.poc_email))
    if reason:
        raise ServiceError(reason)
    return application


def application_for_token(token: str | None) -> AccountApplication | None:
    if not token:
        return None
    return (
        AccountApplication.objects.filter(
            token=token, status__in=[AccountApplication.Status.CODE_SENT, AccountApplication.Status.VERIFIED]
        )
        .select_related("importer")
        .first()
    )


def application_restart(*, application: AccountApplication, reason: str) -> None:
    """Discard the application and everything typed into it (seed 001: 'Data entered in the previous
    fields will be lost'). The codes' rows stay (HMACs only) so that the resend limits still count."""
    with transaction.atomic():
        audit(
            action="onboarding.application_restart",
            user=application.requester,
            obj=application,
            reason=reason,
            step=application.status,
        )
        application.delete()


RESTART_MESSAGES = {
    "expired": "Ten minutes passed, so the application restarted and what you typed was discarded. "
    "Agree a time with the 5106 point of contact so that the code can be entered at once, then start again.",
    "back": "You went back, so the application restarted and what you typed was discarded.",
    "too_many_wrong_codes": "Five wrong codes: the application restarted and what you typed was discarded.",
    "requester_changed": "You logged in or out during the application, so it restarted.",
    "gone": "This application was restarted or has ended; start again.",
    "already_linked": "The importer was linked to another account meanwhile, so the application restarted.",
}


def restart_message(reason: str) -> str:
    """The message for a restart. The details phase has its own deadline (ONBOARDING_DETAILS_MINUTES
    after a valid code), which is not CBP's ten minutes and is said so."""
    if reason == "details_expired":
        minutes = limit("ONBOARDING_DETAILS_MINUTES")
        return (
            f"The {minutes} minutes allowed to finish the company and owner details after the code was verified "
            "have passed, so the application restarted and what you typed was discarded. Start again: a new code "
            "will be sent to the 5106 point of contact. Have the details ready before you start."
        )
    return RESTART_MESSAGES[reason]


def application_ensure_alive(*, application: AccountApplication) -> None:
    """Restart (and raise) when the server-side deadline has passed: at the deadline itself, not after.
    Also raise when the application is gone (restarted in another tab or request)."""
    alive = [AccountApplication.Status.CODE_SENT, AccountApplication.Status.VERIFIED]
    if application.pk is None or not AccountApplication.objects.filter(pk=application.pk, status__in=alive).exists():
        raise ApplicationRestarted(RESTART_MESSAGES["gone"], reason="gone")
    if timezone.now() >= application.expires_at:
        # After a valid code the deadline is the details phase's own, not the code's ten minutes.
        reason = "details_expired" if application.status == AccountApplication.Status.VERIFIED else "expired"
        application_restart(application=application, reason=reason)
        raise ApplicationRestarted(restart_message(reason), reason=reason)


def seconds_left(application: AccountApplication) -> int:
    return max(0, int((application.expires_at - timezone.now()).total_seconds()))


def application_resend(*, application: AccountApplication, ip: str = "") -> VerificationCode:
    application_ensure_alive(application=application)
    if application.status != AccountApplication.Status.CODE_SENT:
        raise ServiceError("The code has already been verified.")
    ip_key = _hmac("ip", ip or "unknown")
    with transaction.atomic():
        _lock_code_limits(importer_id=application.importer_id, ip_key=ip_key)
        locked = _locked(application)
        if locked.status != AccountApplication.Status.CODE_SENT:
            raise ServiceError("The code has already been verified.")
        record = Form5106Record.objects.filter(importer_id=application.importer_id).first()  # type: ignore[misc]  # None: IS NULL, no row
        if record is None or poc_email_error(record.poc_email):
            raise ServiceError("The 5106 record no longer has a valid POC email; start again once it is updated.")
        if reason := _limits_reached(ir_key=_hmac("ir", application.ir_number), ip_key=ip_key):
            audit(action="onboarding.code_limit", user=application.requester, obj=application, at_step="resend")
        else:
            row = _send_code(application=locked, ip=ip, poc_email=record.poc_email)
            audit(action="onboarding.code_resent", user=application.requester, obj=application,
                  to=mask_email(record.poc_email))
    if reason:
        raise ServiceError(reason)
    application.expires_at = locked.expires_at
    return row


def _locked(application: AccountApplication) -> AccountApplication:
    """The application's row, locked until the transaction ends: concurrent requests on one application
    (guesses, resends) run one after another, each seeing what the previous one wrote."""
    alive = [AccountApplication.Status.CODE_SENT, AccountApplication.Status.VERIFIED]
    locked = AccountApplication.objects.select_for_update().filter(pk=application.pk, status__in=alive).first()
    if locked is None:
        raise ApplicationRestarted(RESTART_MESSAGES["gone"], reason="gone")
    return locked


def application_verify(*, application: AccountApplication, code: str) -> AccountApplication:
    """Step 3. A wrong code counts against the five attempts; the fifth restarts the application.

    The application's row is locked for the whole check, so simultaneous guesses are counted one after
    another: at most ONBOARDING_MAX_WRONG_CODES codes are ever compared, and none after the restart."""
    application_ensure_alive(application=application)
    if application.status != AccountApplication.Status.CODE_SENT:
        return application
    code = re.sub(r"[\s-]", "", code or "")
    if not CODE_RE.match(code):
        raise ServiceError("The verification code is 6 digits.", field="code")
    maximum = limit("ONBOARDING_MAX_WRONG_CODES")
    refusal: ServiceError | None = None
    with transaction.atomic():
        locked = _locked(application)
        if locked.status != AccountApplication.Status.CODE_SENT:
            _copy_state(locked, application)
            return application
        now = timezone.now()
        if now >= locked.expires_at or locked.failed_attempts >= maximum:
            reason = "expired" if now >= locked.expires_at else "too_many_wrong_codes"
            application_restart(application=locked, reason=reason)
            refusal = ApplicationRestarted(restart_message(reason), reason=reason)
        else:
            current = locked.codes.filter(superseded_at__isnull=True, used_at__isnull=True).order_by("-sent_at").first()
            ok = (
                current is not None
                and now < current.expires_at
                and constant_time_compare(current.code_hash, _code_hash(locked, code))
            )
            if ok and current is not None:  # ok says it is; this tells mypy
                current.used_at = now
                current.save(update_fields=["used_at"])
                locked.status = AccountApplication.Status.VERIFIED
                locked.verified_at = now
                locked.expires_at = now + timedelta(minutes=limit("ONBOARDING_DETAILS_MINUTES"))
                locked.save(update_fields=["status", "verified_at", "expires_at"])
                audit(action="onboarding.code_verified", user=locked.requester, obj=locked)
            else:
                locked.failed_attempts += 1
                locked.save(update_fields=["failed_attempts"])
                audit(action="onboarding.code_wrong", user=locked.requester, obj=locked, attempt=locked.failed_attempts)
                if locked.failed_attempts >= maximum:
                    application_restart(application=locked, reason="too_many_wrong_codes")
                    refusal = ApplicationRestarted(RESTART_MESSAGES["too_many_wrong_codes"], reason="too_many_wrong_codes")
                else:
                    left = maximum - locked.failed_attempts
                    refusal = ServiceError(
                        f"That code is not right: {left} attempt{'s' if left != 1 else ''} left.", field="code"
                    )
        _copy_state(locked, application)
    if refusal is not None:
        raise refusal
    return application


def _copy_state(source: AccountApplication, target: AccountApplication) -> None:
    for name in ("status", "failed_attempts", "verified_at", "expires_at"):
        setattr(target, name, getattr(source, name))


# ----------------------------------------------------------------------------- steps 4–6


def application_save_details(*, application: AccountApplication, details: dict[str, Any]) -> AccountApplication:
    application_ensure_alive(application=application)
    if application.status != AccountApplication.Status.VERIFIED:
        raise ServiceError("Enter the verification code first.")
    application.details = details
    application.save(update_fields=["details"])
    audit(action="onboarding.details_saved", user=application.requester, obj=application)
    return application


def owner_name(details: dict[str, Any]) -> str:
    return " ".join(
        p
        for p in (details.get("owner_first_name"), details.get("owner_middle_name"), details.get("owner_last_name"))
        if p
    )


def application_submit(
    *, application: AccountApplication, user: Any, authorized: bool, password: str = "", login_url: str = ""
) -> Organization:
    """Step 6: create the importer organisation, make the requester its owner (TAO), link the importer
    (broker grants stay: the owner may revoke them), send the two emails."""
    application_ensure_alive(application=application)
    if application.status != AccountApplication.Status.VERIFIED or not application.details:
        raise ServiceError("Complete the company and account owner details first.")
    if not authorized:
        raise ServiceError("Tick the box to confirm that you are authorised to bind the company.", field="authorized")
    acting = user if getattr(user, "is_authenticated", False) else None
    if (acting.pk if acting else None) != application.requester_id:
        application_restart(application=application, reason="requester_changed")
        raise ApplicationRestarted(RESTART_MESSAGES["requester_changed"], reason="requester_changed")
    details = application.details
    if acting is None:
        candidate = User(
            username=application.email.lower(),
            email=application.email,
            first_name=details.get("owner_first_name", ""),
            last_name=details.get("owner_last_name", ""),
        )
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            raise ServiceError(" ".join(exc.messages), field="password") from None
    try:
        organization, importer, acting = _submit_atomic(application=application, acting=acting, password=password)
    except _LinkedMeanwhile:
        application_restart(application=application, reason="already_linked")
        raise ApplicationRestarted(RESTART_MESSAGES["already_linked"], reason="already_linked") from None
    context = {
        "application": application,
        "organization": organization,
        "importer": importer,
        "user": acting,
        "owner_name": owner_name(details),
        "login_url": login_url,
        "ir_display": mask_ir_number(importer.ir_number),
    }
    _send("onboarding_view_confirmed", context, application.email)
    _send("onboarding_login", context, application.email)
    audit(action="onboarding.emails_sent", user=acting, organization=organization, obj=application, count=2)
    return organization


class _LinkedMeanwhile(Exception):
    pass


def record_company_name(importer: Importer) -> str:
    """The company name on the importer's CBP Form 5106 record, or "" when it has none.

    CBP's automated ACE Portal application (Oct 2025) checks the typed company name against the 5106
    importer record, which is the name of record at CBP; the typed name matches it only up to case
    and punctuation ("osprey marine supply inc." for "Osprey Marine Supply Inc"), so the workspace and
    the letters to CBP use the record's spelling.
    """
    record = Form5106Record.objects.filter(importer=importer).only("company_name").first()
    return record.company_name.strip() if record is not None else ""


@transaction.atomic
def _submit_atomic(
    *, application: AccountApplication, acting: Any, password: str
) -> tuple[Organization, Importer, Any]:
    details = application.details
    importer = Importer.objects.select_for_update().get(pk=application.importer_id)  # type: ignore[misc]  # set before submit
    if importer.owner_id is not None:
        raise _LinkedMeanwhile
    if acting is None:
        if _email_user(application.email) is not None:
            raise ServiceError("This email already belongs to a RefundReady user: log in and apply from your account.")
        acting = User.objects.create_user(
            username=application.email.lower(),
            email=application.email,
            password=password,
            first_name=details.get("owner_first_name", ""),
            last_name=details.get("owner_last_name", ""),
        )
        audit(action="onboarding.user_create", user=acting, obj=application)
    elif not acting.email:
        acting.email = application.email
        acting.save(update_fields=["email"])
    name = record_company_name(importer) or application.company_name
    organization = organization_create(name=name, kind=Organization.Kind.IMPORTER, owner=acting)
    importer.owner = organization
    importer.status = Importer.Status.ACTIVE
    importer.name = importer.name or name
    importer.save(update_fields=["owner", "status", "name"])
    today = timezone.localdate()
    ReadinessState.objects.update_or_create(
        importer=importer,
        defaults={
            "tao_name": owner_name(details),
            "tao_email": application.email,
            "tao_changed_on": today,
            "updated_at": timezone.now(),
        },
    )
    application.status = AccountApplication.Status.SUBMITTED
    application.submitted_at = timezone.now()
    application.organization = organization
    application.requester = acting
    application.save(update_fields=["status", "submitted_at", "organization", "requester"])
    audit(
        action="onboarding.application_submit",
        user=acting,
        organization=organization,
        obj=application,
        ir_number=mask_ir_number(importer.ir_number),
        authorized_on=today.isoformat(),
        signer=owner_name(details),
    )
    audit(
        action="importer.link",
        user=acting,
        organization=organization,
        obj=importer,
        kept_broker_grants=importer.grants.filter(revoked_at__isnull=True).count(),
    )
    # A change of owner is in the log of every organisation it concerns: each broker with an active grant
    # and the organisation that created the record learn who now owns their client.
    audit_everywhere(
        action="importer.link",
        organizations=[o for o in organizations_involved(importer) if o.pk != organization.pk],
        user=acting,
        obj=importer,
        owner=organization.name,
        ir_number=mask_ir_number(importer.ir_number),
    )
    return organization, importer, acting
