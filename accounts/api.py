from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.routers import SimpleRouter

from accounts.irnumber import InvalidIRNumber, mask_ir_number
from accounts.models import Importer
from accounts.selectors import importers_for
from accounts.services import ServiceError, importer_create
from accounts.textcheck import no_control_characters


class ImporterSerializer(serializers.ModelSerializer):
    ir_number = serializers.SerializerMethodField()

    class Meta:
        model = Importer
        fields = ["id", "ir_number", "name", "status", "is_corporate", "owner"]
        read_only_fields = fields

    def get_ir_number(self, obj: Importer) -> str:
        return mask_ir_number(obj.ir_number)


class ImporterCreateSerializer(serializers.Serializer):
    ir_number = serializers.CharField(max_length=20)
    name = serializers.CharField(max_length=200, validators=[no_control_characters])


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
        except ServiceError as exc:
            raise ValidationError({exc.field or "non_field_errors": [exc.message]}) from None
        serializer.instance = importer

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().create(request, *args, **kwargs)
        response.data = ImporterSerializer(response.data.serializer.instance).data
        return response


router = SimpleRouter()
router.register("importers", ImporterViewSet, basename="importer")
urlpatterns = router.urls
