from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.irnumber import InvalidIRNumber, mask_ir_number
from accounts.models import Importer
from accounts.selectors import importers_for
from accounts.services import importer_create
from accounts.textcheck import no_control_characters


class ImporterSerializer(serializers.ModelSerializer):
    ir_number = serializers.SerializerMethodField()

    class Meta:
        model = Importer
        fields = ["id", "ir_number", "name", "status", "is_corporate", "owner", "cit_plaintiff", "cit_case_note",
                  "paper_check_waiver_granted", "paper_check_waiver_date"]
        read_only_fields = fields

    def get_ir_number(self, obj: Importer) -> str:
        return mask_ir_number(obj.ir_number)


class ImporterCreateSerializer(serializers.Serializer):
    ir_number = serializers.CharField(max_length=20)
    name = serializers.CharField(max_length=200, validators=[no_control_characters])


class ImporterFactsSerializer(serializers.Serializer):
    """Ruleset 2026.12 importer facts; omitted fields are left as they are."""

    cit_plaintiff = serializers.BooleanField(required=False, help_text="A plaintiff at the Court of International Trade")
    cit_case_note = serializers.CharField(required=False, allow_blank=True, max_length=120)
    paper_check_waiver_granted = serializers.BooleanField(required=False, help_text="31 CFR 208.4 waiver granted by CBP")
    paper_check_waiver_date = serializers.DateField(required=False, allow_null=True)


class ImporterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Importers of record the acting organisation owns or manages."""

    serializer_class = ImporterSerializer

    def get_queryset(self) -> QuerySet[Importer]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no organisation
            return Importer.objects.none()
        return importers_for(self.request.organization).order_by("name", "pk")  # type: ignore[attr-defined]

    def get_serializer_class(self) -> Any:
        return ImporterCreateSerializer if self.action == "create" else ImporterSerializer

    def perform_create(self, serializer: Any) -> None:
        try:
            importer = importer_create(organization=self.request.organization, user=self.request.user, **serializer.validated_data)  # type: ignore[attr-defined]
        except InvalidIRNumber as exc:
            raise ValidationError({"ir_number": [str(exc)]}) from None
        serializer.instance = importer

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().create(request, *args, **kwargs)
        response.data = ImporterSerializer(response.data.serializer.instance).data
        return response

    @extend_schema(request=ImporterFactsSerializer, responses={200: ImporterSerializer})
    @action(detail=True, methods=["post"], url_path="facts")
    def facts(self, request: Any, pk: Any = None) -> Response:
        """Set the importer's CIT plaintiff status and paper-check waiver (each change audited; its entries
        are classified again)."""
        from cape.facts import importer_facts_update

        importer = self.get_object()
        s = ImporterFactsSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        importer_facts_update(importer=importer, organization=request.organization, user=request.user, **s.validated_data)
        return Response(ImporterSerializer(importer).data)


router = SimpleRouter()
router.register("importers", ImporterViewSet, basename="importer")
urlpatterns = router.urls
