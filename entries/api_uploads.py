"""API: /api/uploads/ — list, retrieve and create (multipart, one or several files) ES-003 uploads."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.http import OrgApiRequest
from accounts.services import ServiceError
from entries.ingest.intake import upload_create
from entries.models import Upload
from entries.selectors import uploads_for
from entries.views_upload import latest_runs, upload_request_too_large, with_classification


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is larger than the upload size limit."
    default_code = "request_too_large"


class ClassificationRunSerializer(serializers.Serializer):
    """The classification that follows an upload (each entry's refund path and deadlines)."""

    status = serializers.CharField(help_text="pending, running, done or failed")
    done = serializers.IntegerField(help_text="entries classified so far")
    total = serializers.IntegerField(help_text="entries to classify")
    percent = serializers.IntegerField()
    as_of = serializers.DateField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class UploadSerializer(serializers.ModelSerializer):
    # Plain text rather than an enum: several models have a "status" choice set and drf-spectacular
    # cannot name them all without a settings override.
    status = serializers.CharField(read_only=True, help_text="pending, running, done or failed")
    progress_percent = serializers.IntegerField(read_only=True)
    errors_count = serializers.SerializerMethodField()
    classification = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = ["id", "original_name", "size", "sha256", "status", "rows_total", "rows_read", "progress_percent",
                  "summary", "warnings", "error_message", "errors_count", "classification", "created_at", "started_at",
                  "finished_at"]
        read_only_fields = fields

    def get_errors_count(self, obj: Upload) -> int:
        return len(obj.errors or [])

    @extend_schema_field(ClassificationRunSerializer(allow_null=True))
    def get_classification(self, obj: Upload) -> dict[str, Any] | None:
        """The classification run after ingestion (null before it is queued, and for uploads made
        before runs were recorded). Poll until both the upload and this are done or failed."""
        run = with_classification(obj).classification  # type: ignore[attr-defined]  # set by with_classification
        return ClassificationRunSerializer(run).data if run is not None else None


class UploadDetailSerializer(UploadSerializer):
    class Meta(UploadSerializer.Meta):
        fields = UploadSerializer.Meta.fields + ["errors"]
        read_only_fields = fields


class UploadCreateSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False,
                                  help_text="One or several ES-003 reports (CSV or XLSX).")


class UploadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """ES-003 uploads of the acting organisation. Processing is asynchronous: poll the upload until done."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = UploadSerializer
    parser_classes = [MultiPartParser, FormParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication: session authentication's CSRF check reads a multipart body, and an
        # oversized one must be refused before any of it is read.
        if request.method == "POST":
            too_large = upload_request_too_large(request)
            if too_large:
                raise RequestTooLarge(too_large)
        super().initial(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Upload]:
        if getattr(self, "swagger_fake_view", False):
            return Upload.objects.none()
        return uploads_for(self.request.organization).prefetch_related(latest_runs())

    def get_serializer_class(self) -> Any:
        if self.action == "retrieve":
            return UploadDetailSerializer
        if self.action == "create":
            return UploadCreateSerializer
        return UploadSerializer

    @extend_schema(request={"multipart/form-data": UploadCreateSerializer}, responses={
        201: UploadSerializer(many=True),
        413: OpenApiResponse(description="The request declares more than MAX_UPLOAD_SIZE (plus multipart framing); "
                                         "nothing was read or stored."),
    })
    def create(self, request: OrgApiRequest) -> Response:
        data = request.data
        files = data.getlist("files") if hasattr(data, "getlist") else []
        if not files and hasattr(data, "getlist"):
            files = data.getlist("file")
        serializer = UploadCreateSerializer(data={"files": files})
        serializer.is_valid(raise_exception=True)
        created, problems = [], []
        for f in serializer.validated_data["files"]:
            try:
                created.append(upload_create(organization=request.organization, user=request.user, file=f))
            except ServiceError as exc:
                problems.append(exc.message)
        if problems and not created:
            raise ValidationError({"files": problems})
        body = UploadSerializer(created, many=True).data
        headers = {"X-Upload-Problems": " | ".join(problems)} if problems else {}
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)


router = SimpleRouter()
router.register("uploads", UploadViewSet, basename="upload")
urlpatterns = router.urls
