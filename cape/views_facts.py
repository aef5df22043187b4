"""Entry facts page: upload a facts file (the facts no ES-003 carries), see each row's outcome; the template."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from accounts.http import OrgRequest
from accounts.permissions import editor_for_post, member_required
from accounts.services import ServiceError
from cape.facts import entry_facts_import
from entries.facts import COLUMNS, TEMPLATE_CSV, FactsFileError

MAX_FACTS_FILE = 20 * 1024 * 1024


class FactsFileForm(forms.Form):
    file = forms.FileField(label="Facts file (CSV or XLSX)",
                           help_text="Column Entry Number and any of " + ", ".join(list(COLUMNS.values())[1:]) + ".")


@editor_for_post
def facts_upload(request: OrgRequest) -> HttpResponse:
    form = FactsFileForm(request.POST or None, request.FILES or None)
    result, status = None, 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_FACTS_FILE:
            form.add_error("file", f"The file is larger than {MAX_FACTS_FILE // (1024 * 1024)} MB; split it.")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "facts"
                with path.open("wb") as fh:
                    for chunk in upload.chunks():
                        fh.write(chunk)
                try:
                    result = entry_facts_import(organization=request.organization,
                                                user=request.user, path=path, file_label=upload.name)
                except (FactsFileError, ServiceError) as exc:
                    form.add_error("file", str(exc))
    if form.errors:
        status = 400
    return render(request, "entries/facts_upload.html", {"form": form, "result": result, "columns": COLUMNS.values()},
                  status=status)


@member_required
@require_GET
def facts_template(request: OrgRequest) -> HttpResponse:
    response = HttpResponse(TEMPLATE_CSV, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, "entry_facts_template.csv")
    return response
