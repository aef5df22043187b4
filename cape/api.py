"""/api/declarations/: list, build, preflight, download, record submission, import claim details.

Also /api/refund-reports/ (REV-603 / REV-615 import). Every object is fetched through selectors
scoped to the acting organisation (X-Organization header or the session's organisation).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.http import OrgApiRequest
from cape import declarations as svc
from cape.build_jobs import build_jobs_for, declaration_build_job_start
from cape.claims import REPORT_NAMES
from cape.forms import REPORT_MAX_BYTES
from cape.models import CAPE_PATHS, Declaration, DeclarationBuildJob
from cape.refunds import expected_dates, refund_report_import
from entries import entrynumber


class DeclarationSerializer(serializers.ModelSerializer):
    # A plain string (not an enum) so its name cannot collide with other apps' "status" enums in the schema.
    status = serializers.CharField(read_only=True, help_text="draft | exported | submitted | accepted | accepted_with_errors | rejected | failed_validation")
    importer_name = serializers.SerializerMethodField()
    expected_liquidation = serializers.SerializerMethodField()
    refund_expected_from = serializers.SerializerMethodField()
    refund_expected_by = serializers.SerializerMethodField()
    preflight_ok = serializers.SerializerMethodField()
    preflight_blocking = serializers.SerializerMethodField()

    class Meta:
        model = Declaration
        fields = ["id", "name", "importer", "importer_name", "status", "entry_count", "ieepa_duty", "sha256", "exported_at",
                  "submitted_on", "claim_number", "accepted_on", "expected_liquidation", "refund_expected_from",
                  "refund_expected_by", "preflight_ok", "preflight_blocking", "refiled_from", "created_at"]
        read_only_fields = fields

    def get_importer_name(self, obj: Declaration) -> str:
        return obj.importer.name if obj.importer else "Mixed importers"

    def _exp(self, obj: Declaration) -> Any:
        return expected_dates(obj.accepted_on)

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_expected_liquidation(self, obj: Declaration) -> Any:
        exp = self._exp(obj)
        return exp.liquidation if exp else None

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_refund_expected_from(self, obj: Declaration) -> Any:
        exp = self._exp(obj)
        return exp.refund_from if exp else None

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_refund_expected_by(self, obj: Declaration) -> Any:
        exp = self._exp(obj)
        return exp.refund_to if exp else None

    def get_preflight_ok(self, obj: Declaration) -> bool | None:
        return obj.preflight.get("ok") if obj.preflight else None

    def get_preflight_blocking(self, obj: Declaration) -> bool | None:
        return obj.preflight.get("blocking") if obj.preflight else None


class BuildSerializer(serializers.Serializer):
    importers = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, allow_empty=True)
    entry_numbers = serializers.ListField(child=serializers.CharField(max_length=20), required=False, allow_empty=True)
    paths = serializers.ListField(child=serializers.ChoiceField(choices=[p.value for p in CAPE_PATHS]), required=False)
    urgent_only = serializers.BooleanField(required=False, default=False)
    mixed = serializers.BooleanField(required=False, default=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class LeftOutSerializer(serializers.Serializer):
    entry_number = serializers.CharField()
    reason = serializers.CharField()


class BuildResultSerializer(serializers.Serializer):
    declarations = DeclarationSerializer(many=True)
    left_out = LeftOutSerializer(many=True)
    considered = serializers.IntegerField()


class BuildJobSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="pending | running | done | failed")
    percent = serializers.IntegerField(source="progress_percent", read_only=True)
    left_out = LeftOutSerializer(many=True, read_only=True)

    class Meta:
        model = DeclarationBuildJob
        fields = ["id", "status", "candidates", "total", "done", "percent", "message", "declaration_ids", "considered",
                  "left_out", "left_out_count", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class SubmissionSerializer(serializers.Serializer):
    submitted_on = serializers.DateField()
    claim_number = serializers.CharField(max_length=40)


class ClaimDetailsUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    accepted_on = serializers.DateField(required=False)


class RefundReportUploadSerializer(serializers.Serializer):
    report = serializers.ChoiceField(choices=list(REPORT_NAMES))
    file = serializers.FileField()


def _read_upload(f: Any) -> bytes:
    limit = min(REPORT_MAX_BYTES, int(getattr(settings, "MAX_UPLOAD_SIZE", REPORT_MAX_BYTES)))  # as cape.forms
    if f.size > limit:
        raise ValidationError({"file": [f"The file is {f.size:,} bytes; the limit is {limit:,} bytes."]})
    return f.read()


PREFLIGHT_SCHEMA = inline_serializer("PreflightReport", {
    "as_of": serializers.DateField(allow_null=True, help_text="null: the declaration was never checked"),
    "ok": serializers.BooleanField(), "blocking": serializers.BooleanField(),
    "warnings": serializers.IntegerField(), "checks": serializers.ListField(child=serializers.DictField()),
})
OUTCOME_SCHEMA = inline_serializer("ClaimDetailsResult", {
    "status": serializers.CharField(), "accepted": serializers.IntegerField(), "rejected": serializers.IntegerField(),
    "unchanged": serializers.IntegerField(), "matched": serializers.IntegerField(), "nothing_matched": serializers.BooleanField(),
    "message": serializers.CharField(), "unknown": serializers.ListField(child=serializers.DictField()),
    "missing": serializers.ListField(child=serializers.CharField()), "problems": serializers.ListField(child=serializers.DictField()),
})


class DeclarationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """CAPE declarations of the acting organisation."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = DeclarationSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Declaration]:
        if getattr(self, "swagger_fake_view", False):
            return Declaration.objects.none()
        qs = svc.declarations_for(self.request.organization)
        status_filter = self.request.query_params.get("status")
        if status_filter:
            qs = qs.filter(status=status_filter)
        return qs

    @extend_schema(request=BuildSerializer, responses={201: BuildResultSerializer, 202: BuildJobSerializer})
    @action(detail=False, methods=["post"])
    def build(self, request: OrgApiRequest) -> Response:
        """Build draft declarations from CAPE-path entries (one importer per file unless `mixed`).

        A small build (under 20,000 candidate entries) answers 201 with the declarations; a larger one
        answers 202 with the build job to poll at /api/declaration-builds/{id}/ (the page does the same)."""
        s = BuildSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        numbers = None
        if data.get("entry_numbers"):
            numbers = list(dict.fromkeys(entrynumber.repair(n) for n in data["entry_numbers"]))
        job = declaration_build_job_start(
            organization=request.organization, user=request.user,
            importer_ids=data.get("importers") or None, entry_numbers=numbers, paths=data.get("paths"),
            urgent_only=data["urgent_only"], mixed=data["mixed"], name=data["name"],
        )
        if not job.is_finished:
            return Response(BuildJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        if job.status == DeclarationBuildJob.Status.FAILED:
            raise ValidationError({"non_field_errors": [job.message]})
        by_id = {d.pk: d for d in self.get_queryset().filter(pk__in=job.declaration_ids)}
        body = {"declarations": DeclarationSerializer([by_id[i] for i in job.declaration_ids if i in by_id], many=True).data,
                "left_out": job.left_out, "considered": job.considered}
        # The body is what it always was; the job that recorded the build is named in Location.
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": f"/api/declaration-builds/{job.pk}/"})

    @extend_schema(request=None, responses={200: PREFLIGHT_SCHEMA})
    @action(detail=True, methods=["get", "post"])
    def preflight(self, request: Request, pk: str | None = None) -> Response:
        """GET: the last preflight report. POST (editors): run it again now."""
        declaration = self.get_object()
        if request.method == "POST":
            return Response(svc.declaration_preflight(declaration=declaration, user=request.user))
        if not declaration.preflight:
            # Never checked yet: the same shape as a report, saying so, rather than an empty object.
            return Response({"as_of": None, "ok": False, "blocking": True, "warnings": 0, "checks": [],
                             "checked": False})
        return Response(declaration.preflight)

    @extend_schema(request=None, responses={(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.BINARY, description="The CAPE CSV")})
    @action(detail=True, methods=["get", "post"])
    def download(self, request: Request, pk: str | None = None) -> HttpResponse:
        """POST (editors): preflight, then the exact stored bytes (draft → exported).
        GET: the stored file of a declaration already exported or filed."""
        declaration = self.get_object()
        if request.method == "POST":
            data = svc.declaration_export(declaration=declaration, user=request.user)
        else:
            if declaration.status == Declaration.Status.DRAFT or not declaration.file_bytes:
                raise ValidationError({"non_field_errors": ["Download a draft with POST (it runs preflight first)."]})
            data = bytes(declaration.file_bytes)
        response = HttpResponse(data, content_type="text/csv")
        response["Content-Disposition"] = content_disposition_header(True, f"cape-declaration-{declaration.pk}.csv")
        response["X-Content-SHA256"] = declaration.sha256
        return response

    @extend_schema(request=SubmissionSerializer, responses={200: DeclarationSerializer})
    @action(detail=True, methods=["post"])
    def submission(self, request: Request, pk: str | None = None) -> Response:
        """Record that the file was filed in the ACE Portal CAPE tab: date and CAPE claim number."""
        declaration = self.get_object()
        s = SubmissionSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        declaration = svc.declaration_record_submission(declaration=declaration, user=request.user, **s.validated_data)
        return Response(DeclarationSerializer(declaration).data)

    @extend_schema(request={"multipart/form-data": ClaimDetailsUploadSerializer}, responses={200: OUTCOME_SCHEMA})
    @action(detail=True, methods=["post"], url_path="claim-details")
    def claim_details(self, request: Request, pk: str | None = None) -> Response:
        """Import CBP's CAPE Claim Details CSV: sets each entry's outcome and the declaration's status."""
        declaration = self.get_object()
        s = ClaimDetailsUploadSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        f = s.validated_data["file"]
        result = svc.declaration_import_claim_details(declaration=declaration, data=_read_upload(f), filename=f.name,
                                                      accepted_on=s.validated_data.get("accepted_on"), user=request.user)
        return Response(result.as_dict())


class RefundReportViewSet(viewsets.GenericViewSet):
    """Import a REV-603 Trade Refund or REV-615 CAPE Details Refunds CSV."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = RefundReportUploadSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Declaration]:
        return Declaration.objects.none()

    @extend_schema(request={"multipart/form-data": RefundReportUploadSerializer}, responses={201: inline_serializer("RefundImportResult", {
        "report": serializers.CharField(), "created": serializers.IntegerField(), "duplicates": serializers.IntegerField(),
        "returned": serializers.IntegerField(), "by_kind": serializers.DictField(child=serializers.IntegerField()),
        "unknown": serializers.ListField(child=serializers.DictField()), "problems": serializers.ListField(child=serializers.DictField()),
        "notes": serializers.ListField(child=serializers.CharField())})})
    def create(self, request: OrgApiRequest) -> Response:
        if request.organization is None:
            raise PermissionDenied()
        s = RefundReportUploadSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        f = s.validated_data["file"]
        result = refund_report_import(organization=request.organization, data=_read_upload(f),
                                      report=s.validated_data["report"], filename=f.name, user=request.user)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)


class DeclarationBuildJobViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A declaration build's status and progress; its result once done (the organisation's own only)."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = BuildJobSerializer

    def get_queryset(self) -> QuerySet[DeclarationBuildJob]:
        if getattr(self, "swagger_fake_view", False):
            return DeclarationBuildJob.objects.none()
        return build_jobs_for(self.request.organization)


router = SimpleRouter()
router.register("declarations", DeclarationViewSet, basename="declaration")
router.register("refund-reports", RefundReportViewSet, basename="refund-report")
router.register("declaration-builds", DeclarationBuildJobViewSet, basename="declaration-build")
urlpatterns = router.urls
