"""Request body limits, decided from the request line and headers before a byte of the body is read.

Django parses a form post's body the first time anything asks for ``request.POST`` (the CSRF check does,
for every POST), and a multipart file part larger than FILE_UPLOAD_MAX_MEMORY_SIZE is written to a
temporary file as it is read: without a limit in front, an anonymous 300 MB post to the log-in page put
315 MB on the disk before any check ran. ``RequestBodyLimitMiddleware`` runs first and refuses:

* a body whose Content-Length is over its route's limit (413), and
* a body sent without a Content-Length (``Transfer-Encoding: chunked``, 411): Django's WSGI handler reads
  no body without one, so such a request could only be misread as empty; refused, nothing of it is read.

Every route that takes a file has its own limit (``ROUTE_LIMITS``, by URL name: the file's own limit plus
the multipart framing); every other route accepts REQUEST_MAX_BODY_SIZE, which is below
FILE_UPLOAD_MAX_MEMORY_SIZE, so a body that reaches them is never spooled to disk. The file limits are
checked again, per file, by the forms and services. Production should set the same ceiling in the proxy
(nginx ``client_max_body_size``) so that an oversized body does not even reach a web worker.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve

from refundready.limits import REPORT_MAX_BYTES

# What a multipart body carries besides the files: boundaries, part headers, the CSRF token and the form's
# other fields.
REQUEST_FRAMING_ALLOWANCE = 64 * 1024


def _setting(name: str, default: int) -> Callable[[], int]:
    return lambda: int(getattr(settings, name, default))


def _report_limit() -> int:
    return min(REPORT_MAX_BYTES, int(getattr(settings, "MAX_UPLOAD_SIZE", REPORT_MAX_BYTES)))  # as cape.forms


_upload = _setting("MAX_UPLOAD_SIZE", 200 * 1024 * 1024)
_form5106 = _setting("FORM5106_MAX_IMPORT_BYTES", 5 * 1024 * 1024)
_evidence = _setting("ACH_EVIDENCE_MAX_SIZE", 5 * 1024 * 1024)
_form_data = _setting("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

# URL name -> the largest file (or, for form data, body) the route accepts. The multipart framing is added.
ROUTE_LIMITS: dict[str, Callable[[], int]] = {
    # CBP Form 5106 CSV import.
    "onboarding_5106_import": _form5106,
    "form5106-import-csv": _form5106,
    # CAPE Claim Details and the REV-603/REV-615 refund reports.
    "cape_declaration_claim_details": _report_limit,
    "declaration-claim-details": _report_limit,
    "cape_refunds": _report_limit,
    "refund-report-list": _report_limit,
    # The REV-613 ACH Rejected Refunds report (ach.views.ach_rev613 checks the file against MAX_UPLOAD_SIZE).
    "ach_rev613": _upload,
    # ACH evidence (a screenshot or PDF of the ACE page).
    "ach_confirm_active": _evidence,
    # A declaration build may be given a pasted list of entry numbers: Django's own cap on form data.
    "cape_home": _form_data,
    "declaration-build": _form_data,
}


# ES-003 reports: the page and the API refuse a body over MAX_UPLOAD_SIZE plus the framing themselves, from
# Content-Length and before reading it (entries.views_upload.upload_request_too_large), the page beside its
# file field with advice on splitting the report; the middleware leaves them to it.
REFUSED_BY_THE_VIEW = frozenset({"upload_new", "upload-list"})


def default_limit() -> int:
    """The body every other route accepts (REQUEST_MAX_BODY_SIZE)."""
    return int(getattr(settings, "REQUEST_MAX_BODY_SIZE", 1024 * 1024))


def body_limit(path_info: str) -> int | None:
    """The most bytes of body a request to ``path_info`` may declare (None: its view refuses it itself)."""
    try:
        name = resolve(path_info).view_name
    except Resolver404:
        return default_limit()
    if name in REFUSED_BY_THE_VIEW:
        return None
    limit = ROUTE_LIMITS.get(name)
    return limit() + REQUEST_FRAMING_ALLOWANCE if limit else default_limit()


def _size(n: int) -> str:
    return str(filesizeformat(n)).replace("\xa0", " ")


def _refusal(request: HttpRequest, message: str, status: int) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=status)
    else:
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    # The client may be waiting to send the rest of its body: tell it where the answer ends.
    response["Content-Length"] = str(len(response.content))
    return response


class RequestBodyLimitMiddleware:
    """Refuses a request body over its route's limit, or without a length, before any of it is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        raw_length = meta.get("CONTENT_LENGTH") or ""
        if not raw_length.strip():
            if meta.get("HTTP_TRANSFER_ENCODING"):
                return _refusal(request, "This request's body has no Content-Length (it was sent with Transfer-Encoding: "
                                         f"{meta['HTTP_TRANSFER_ENCODING']}). Send it with a Content-Length header.", 411)
            return self.get_response(request)
        try:
            length = int(raw_length)
        except ValueError:
            return _refusal(request, f"Content-Length {raw_length[:40]!r} is not a number of bytes.", 400)
        if length <= default_limit():
            return self.get_response(request)
        limit = body_limit(request.path_info)
        if limit is not None and length > limit:
            return _refusal(request, f"This request's body is {_size(length)}; this address accepts at most "
                                     f"{_size(limit)}. Nothing of it was read or stored.", 413)
        return self.get_response(request)
