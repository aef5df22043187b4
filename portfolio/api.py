"""API of the top layer: the readiness checklist (it reads ACH, ES-003 and CAPE data). Mounted at /api/ beside
accounts.api_onboarding (portfolio/root_urls.py)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.irnumber import mask_ir_number
from portfolio.readiness import readiness_for_organization


class ReadinessStepSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field: the serializer's metaclass takes it off the class
    state = serializers.CharField()
    status = serializers.CharField()
    changed_on = serializers.DateField(allow_null=True)
    next_step = serializers.CharField()
    contact = serializers.DictField(allow_null=True)


class ReadinessSerializer(serializers.Serializer):
    importer = serializers.IntegerField(source="importer.pk")
    name = serializers.CharField(source="importer.name")
    ir_number = serializers.SerializerMethodField()
    ready = serializers.BooleanField(source="is_ready")
    steps = ReadinessStepSerializer(many=True)

    def get_ir_number(self, obj: Any) -> str:
        return mask_ir_number(obj.importer.ir_number)


class ReadinessViewSet(viewsets.ViewSet):
    """The readiness checklist of every importer the acting organisation owns or manages."""

    @extend_schema(responses={200: ReadinessSerializer(many=True)})
    def list(self, request: Any) -> Response:
        return Response(ReadinessSerializer(readiness_for_organization(request.organization), many=True).data)


router = SimpleRouter()
router.register("readiness", ReadinessViewSet, basename="readiness")
urlpatterns = router.urls
