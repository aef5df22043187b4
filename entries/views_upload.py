"""Upload pages: choose or drop ES-003 files, watch progress, read the summary, download the error report."""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from accounts.http import OrgRequest
from accounts.permissions import editor_required, member_required
from accounts.services import ServiceError
from entries.forms import UploadForm
from entries.ingest.intake import upload_create
from entries.models import Upload
from entries.selectors import uploads_for
from refundready.bodylimit import REQUEST_FRAMING_ALLOWANCE
from refundready.spreadsheet import neutralise


def latest_runs() -> Prefetch:
    # The runs are cape's (cape.models.ClassificationRun): read through the reverse relation its model adds to
    # Upload (as with_classification does), so entries imports nothing of cape.
    runs = Upload._meta.get_field("classification_runs").related_model
    return Prefetch("classification_runs", queryset=runs.objects.order_by("-pk"), to_attr="runs")  # type: ignore[attr-defined]  # cape's model


def with_classification(upload: Upload) -> Upload:
    """``upload.classification``: its latest classification run (the one after ingestion), or None."""
    runs = getattr(upload, "runs", None)
    if runs is None:
        runs = list(upload.classification_runs.order_by("-pk")[:1])
    upload.classification = runs[0] if runs else None  # type: ignore[attr-defined]  # shown on the page, not a field
    # Polled until the ingest has finished and so has the classification that follows it.
    upload.all_finished = upload.is_finished and (upload.classification is None or upload.classification.finished)  # type: ignore[attr-defined]  # as above
    return upload


def upload_request_too_large(request: HttpRequest) -> str:
    """Why a request's body is refused (it declares more than MAX_UPLOAD_SIZE plus the multipart
    framing), or "". Decided from CONTENT_LENGTH alone, before a byte of the body is read or spooled
    to disk; each file is checked again against MAX_UPLOAD_SIZE by upload_create."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""  # Django reads no body for an unreadable length either
    max_size = int(getattr(settings, "MAX_UPLOAD_SIZE", 200 * 1024 * 1024))
    if length <= max_size + REQUEST_FRAMING_ALLOWANCE:
        return ""
    size, limit = (str(filesizeformat(n)).replace("\xa0", " ") for n in (length, max_size))
    return (f"This upload is {size}; the most accepted at once is {limit}. Upload the files in several goes, "
            "or split the report by date range in ACE Reports.")


def _create_all(request: OrgRequest, form: UploadForm) -> list[Upload]:
    created = []
    for f in form.cleaned_data["files"]:
        try:
            created.append(upload_create(organization=request.organization, user=request.user, file=f))
        except ServiceError as exc:
            form.add_error("files", exc.message)
    return created


@member_required
def upload_list(request: OrgRequest) -> HttpResponse:
    page = Paginator(uploads_for(request.organization).prefetch_related(latest_runs()), 25).get_page(request.GET.get("page"))
    for upload in page:
        with_classification(upload)
    return render(request, "entries/upload_list.html", {"page": page, "form": UploadForm()})


@csrf_exempt  # checked by _upload_new, after the size: the CSRF check reads a form post's body for its token
@editor_required
def upload_new(request: OrgRequest) -> HttpResponse:
    if request.method == "POST":
        too_large = upload_request_too_large(request)
        if too_large:
            form = UploadForm()
            form.cleaned_data = {}  # unbound (the files were never read); add_error expects what clean() sets
            form.add_error("files", too_large)
            return render(request, "entries/upload_new.html", {"form": form}, status=413)
    return _upload_new(request)


@csrf_protect
def _upload_new(request: OrgRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        created = _create_all(request, form)
        if created and not form.errors:
            if len(created) == 1:
                return redirect("upload_detail", pk=created[0].pk)
            messages.success(request, f"{len(created)} files uploaded; they are being processed.")
            return redirect("upload_list")
        if created:
            messages.success(request, f"{len(created)} file(s) uploaded; the others were refused (see below).")
    return render(request, "entries/upload_new.html", {"form": form})


@member_required
def upload_detail(request: OrgRequest, pk: int) -> HttpResponse:
    upload = with_classification(get_object_or_404(uploads_for(request.organization), pk=pk))
    context = {"upload": upload, "summary": upload.summary or {}, "finished": upload.all_finished,  # type: ignore[attr-defined]  # set by with_classification
               "classification": upload.classification}  # type: ignore[attr-defined]  # as above
    if request.headers.get("HX-Request"):
        # "compact": one line of a list (the importer dashboard); "row": one row of the uploads table.
        fragment = {"compact": "entries/upload_compact.html", "row": "entries/upload_row.html"}.get(
            request.GET.get("view", ""), "entries/upload_status.html"
        )
        return render(request, fragment, context)
    return render(request, "entries/upload_detail.html", context)


@member_required
def upload_errors(request: OrgRequest, pk: int) -> HttpResponse:
    upload = get_object_or_404(uploads_for(request.organization), pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stem = upload.original_name.rsplit(".", 1)[0][:80] or "upload"
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}-errors.csv")
    writer = csv.writer(response)
    writer.writerow(["File", "Row", "Column", "Value", "Reason"])
    for e in upload.errors:  # never hand a spreadsheet a formula to evaluate, in any column
        writer.writerow(
            [neutralise(str(e.get(k, ""))) for k in ("file", "row", "column", "value", "reason")]
        )
    return response
