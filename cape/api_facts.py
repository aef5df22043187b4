"""API: POST /api/entry-facts/ — apply a facts file (the facts no ES-003 carries) to the organisation's entries."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import OrgApiRequest
from accounts.services import ServiceError
from cape.facts import entry_facts_import
from cape.views_facts import MAX_FACTS_FILE
from entries.facts import FactsFileError


class FactsFileSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV or XLSX: Entry Number and any of Drawback, Type 09 Filed, Surety Paid, "
                                           "Protest Number, Protest Status")


class FactsResultSerializer(serializers.Serializer):
    file = serializers.CharField()
    rows_read = serializers.IntegerField()
    rows_applied = serializers.IntegerField()
    changes = serializers.ListField(child=serializers.DictField(), help_text="entry_number, fact, old, new")
    errors = serializers.ListField(child=serializers.DictField(), help_text="file, row, column, value, reason")  # type: ignore[assignment]  # a declared field: the serializer's metaclass takes it off the class
    paths = serializers.ListField(child=serializers.DictField(), help_text="entry_number, path, reason after reclassifying")


class EntryFactsApi(APIView):
    """Apply a facts file: bad rows are held back and reported; the others are applied, audited and reclassified."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": FactsFileSerializer}, responses={200: FactsResultSerializer})
    def post(self, request: OrgApiRequest) -> Response:
        s = FactsFileSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        upload = s.validated_data["file"]
        if upload.size > MAX_FACTS_FILE:
            raise ValidationError({"file": [f"The file is larger than {MAX_FACTS_FILE // (1024 * 1024)} MB; split it."]})
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "facts"
            with target.open("wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            try:
                r = entry_facts_import(organization=request.organization, user=request.user, path=target,
                                       file_label=upload.name)
            except (FactsFileError, ServiceError) as exc:
                raise ValidationError({"file": [str(exc)]}) from None
        body: dict[str, Any] = {
            "file": r.file, "rows_read": r.rows_read, "rows_applied": r.rows_applied,
            "changes": [{k: c[k] for k in ("entry_number", "fact", "old", "new")} for c in r.changes],
            "errors": r.errors,
            "paths": [{"entry_number": n, "path": p, "reason": why} for n, p, why in r.paths.values()],
        }
        return Response(body, status=status.HTTP_200_OK)


urlpatterns = [path("entry-facts/", EntryFactsApi.as_view(), name="api_entry_facts")]
