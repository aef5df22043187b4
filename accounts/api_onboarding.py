"""API for 5106 records (the readiness checklist: portfolio.api). Mount with ``path("api/", include("accounts.api_onboarding"))``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.http import OrgApiRequest
from accounts.irnumber import mask_ir_number
from accounts.models import Form5106Record
from accounts.onboarding import form5106_import_csv, form5106_save, poc_email_warnings
from accounts.selectors import importers_for


class Form5106Serializer(serializers.ModelSerializer):
    ir_number = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = Form5106Record
        fields = [
            "id",
            "importer",
            "ir_number",
            "company_name",
            "poc_email",
            "address",
            "last_updated",
            "poc_email_confirmed_on",
            "updated_at",
            "warnings",
        ]
        read_only_fields = fields

    def get_ir_number(self, obj: Form5106Record) -> str:
        return mask_ir_number(obj.importer.ir_number)

    def get_warnings(self, obj: Form5106Record) -> list[str]:
        return poc_email_warnings(email=obj.poc_email, importer=obj.importer)


class Form5106WriteSerializer(serializers.Serializer):
    ir_number = serializers.CharField(max_length=20)
    company_name = serializers.CharField(max_length=200)
    poc_email = serializers.CharField(max_length=254)
    address = serializers.CharField(required=False, allow_blank=True, default="")
    last_updated = serializers.DateField(
        required=False, allow_null=True, default=None, input_formats=["%m/%d/%Y", "%Y-%m-%d"]
    )
    poc_email_confirmed = serializers.BooleanField(required=False, default=False)


class Form5106UpdateSerializer(Form5106WriteSerializer):
    ir_number = None  # type: ignore[assignment]  # DRF: None removes the inherited field


class Form5106ViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """CBP Form 5106 records of the importers the acting organisation owns or manages."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = Form5106Serializer

    def get_queryset(self) -> QuerySet[Form5106Record]:
        if getattr(self, "swagger_fake_view", False):
            return Form5106Record.objects.none()
        return (
            Form5106Record.objects.filter(importer__in=importers_for(self.request.organization))
            .select_related("importer")
            .order_by("company_name", "pk")
        )

    def get_serializer_class(self) -> Any:
        if self.action == "create":
            return Form5106WriteSerializer
        if self.action in ("update", "partial_update"):
            return Form5106UpdateSerializer
        return Form5106Serializer

    def _save(self, data: dict[str, Any]) -> Response:
        record, created, _ = form5106_save(organization=self.request.organization, user=self.request.user, **data)
        return Response(
            Form5106Serializer(record).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(request=Form5106WriteSerializer, responses={201: Form5106Serializer})
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        serializer = Form5106WriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._save(dict(serializer.validated_data))

    @extend_schema(request=Form5106UpdateSerializer, responses={200: Form5106Serializer})
    def update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        record = self.get_object()
        partial = kwargs.pop("partial", False)
        current = {
            "company_name": record.company_name,
            "poc_email": record.poc_email,
            "address": record.address,
            "last_updated": record.last_updated,
        }
        serializer = Form5106UpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = {**current, **serializer.validated_data} if partial else dict(serializer.validated_data)
        return self._save({**data, "ir_number": record.importer.ir_number})

    @extend_schema(
        request={"multipart/form-data": inline_serializer("Form5106Import", {"file": serializers.FileField()})},
        responses={
            200: inline_serializer(
                "Form5106ImportResult",
                {
                    "created": serializers.IntegerField(),
                    "updated": serializers.IntegerField(),
                    "errors": serializers.ListField(child=serializers.DictField()),
                    "warnings": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_csv(self, request: Any) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": ["Attach the CSV file as 'file'."]})
        limit = int(getattr(settings, "FORM5106_MAX_IMPORT_BYTES", 5 * 1024 * 1024))  # as the page's form
        if upload.size > limit:
            raise ValidationError({"file": [f"{upload.name} is {upload.size:,} bytes; the limit is {limit:,} bytes."]})
        result = form5106_import_csv(
            organization=request.organization, user=request.user, data=upload.read(), filename=upload.name
        )
        return Response(
            {"created": result.created, "updated": result.updated, "errors": result.errors, "warnings": result.warnings}
        )


router = SimpleRouter()
router.register("form5106", Form5106ViewSet, basename="form5106")
urlpatterns = router.urls
