"""/api/ach/: each importer's ACH refund position (account number masked) and its 4811 notify party."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.http import OrgApiRequest
from accounts.irnumber import mask_ir_number
from accounts.models import Importer
from ach.models import AchEnrollment, AchRejection, NotifyParty
from ach.selectors import AccountFacts, _recipient, account_facts, ach_importers, rejections_visible_to


def _get(obj: Importer, related: str) -> Any:
    try:
        return getattr(obj, related)
    except (AchEnrollment.DoesNotExist, NotifyParty.DoesNotExist):
        return None


class NotifyPartySerializer(serializers.ModelSerializer):
    ir_number = serializers.CharField(source="ir_display")

    class Meta:
        model = NotifyParty
        fields = ["name", "ir_number", "on_ace_profile", "in_box_28", "ach_enrolled", "receives_refund"]
        read_only_fields = fields


class EnrollmentSerializer(serializers.ModelSerializer):
    account_number = serializers.CharField(source="account_masked", help_text="Masked: the last four digits only.")
    has_evidence = serializers.SerializerMethodField()
    ach_status = serializers.ChoiceField(source="status", choices=AchEnrollment.Status.choices, read_only=True)

    class Meta:
        model = AchEnrollment
        fields = ["ach_status", "bank_name", "routing_number", "account_number", "account_type", "account_holder", "entered_on",
                  "entered_by", "confirmed_on", "has_evidence", "rejected_on", "foreign_no_us_bank", "paper_check_waiver"]
        read_only_fields = fields

    def get_has_evidence(self, obj: AchEnrollment) -> bool:
        return bool(obj.evidence)


class RecipientSerializer(serializers.Serializer):
    receiver = serializers.ChoiceField(choices=["importer", "notify_party"])
    name = serializers.CharField()
    can_be_paid = serializers.BooleanField()
    by_paper_check = serializers.BooleanField(help_text="A paper-check waiver (31 CFR 208.4) is granted: CBP pays by check.")
    level = serializers.ChoiceField(choices=["ok", "warn", "bounce"])
    warnings = serializers.ListField(child=serializers.CharField())
    special_cases = serializers.SerializerMethodField()

    def get_special_cases(self, obj: Any) -> list[str]:
        return [c["code"] for c in obj.special_cases]


class AchImporterSerializer(serializers.ModelSerializer):
    importer_id = serializers.IntegerField(source="pk")
    ir_number = serializers.SerializerMethodField()
    ach_status = serializers.SerializerMethodField()
    enrollment = serializers.SerializerMethodField()
    notify_party = serializers.SerializerMethodField()
    refund_recipient = serializers.SerializerMethodField()
    open_rejections = serializers.SerializerMethodField()
    ace_account = serializers.SerializerMethodField(help_text="ACE Portal account state, as on the readiness checklist (blank: not recorded).")

    class Meta:
        model = Importer
        fields = ["importer_id", "name", "ir_number", "ach_status", "ace_account", "enrollment", "notify_party", "refund_recipient",
                  "open_rejections"]
        read_only_fields = fields

    def get_ir_number(self, obj: Importer) -> str:
        return mask_ir_number(obj.ir_number)

    @extend_schema_field(serializers.ChoiceField(choices=AchEnrollment.Status.choices))
    def get_ach_status(self, obj: Importer) -> str:
        e = _get(obj, "ach_enrollment")
        return e.status if e else AchEnrollment.Status.NOT_STARTED

    @extend_schema_field(EnrollmentSerializer(allow_null=True))
    def get_enrollment(self, obj: Importer) -> dict[str, Any] | None:
        e = _get(obj, "ach_enrollment")
        return EnrollmentSerializer(e).data if e else None

    @extend_schema_field(NotifyPartySerializer(allow_null=True))
    def get_notify_party(self, obj: Importer) -> dict[str, Any] | None:
        n = _get(obj, "notify_party")
        return NotifyPartySerializer(n).data if n else None

    def _facts(self, obj: Importer) -> AccountFacts:
        facts = self.context.get("facts")
        if facts is None or obj.pk not in facts:  # one importer (retrieve): read its facts now
            facts = cast("dict[str, Any]", self.context)["facts"] = {**(facts or {}), **account_facts([obj.pk])}  # a dict
        return facts[obj.pk]

    def get_ace_account(self, obj: Importer) -> str:
        return self._facts(obj).ace_account

    @extend_schema_field(RecipientSerializer)
    def get_refund_recipient(self, obj: Importer) -> dict[str, Any]:
        return RecipientSerializer(_recipient(obj, _get(obj, "ach_enrollment"), _get(obj, "notify_party"), self._facts(obj))).data

    def get_open_rejections(self, obj: Importer) -> int:
        return sum(1 for r in obj.ach_rejections.all() if r.resolved_on is None)


class AchViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """ACH refund readiness per importer (lookup by importer id). Account numbers are masked."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = AchImporterSerializer

    def get_queryset(self) -> QuerySet[Importer]:
        if getattr(self, "swagger_fake_view", False):
            return Importer.objects.none()
        return ach_importers(self.request.organization).prefetch_related("ach_rejections").order_by("name", "pk")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The special-case facts (ACE account state, country) of the whole page in a fixed number of queries.
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        items = list(page if page is not None else queryset)
        context = {**self.get_serializer_context(), "facts": account_facts([i.pk for i in items])}
        data = self.get_serializer_class()(items, many=True, context=context).data
        return self.get_paginated_response(data) if page is not None else Response(data)


class AchRejectionSerializer(serializers.ModelSerializer):
    step = serializers.CharField(read_only=True)

    class Meta:
        model = AchRejection
        fields = ["id", "importer", "amount", "reason", "source", "reference", "entry_number", "rejected_on", "re_enrolled_on",
                  "support_emailed_on", "resolved_on", "step"]
        read_only_fields = fields


class AchRejectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Rejected refunds on the organisation's importers and where each stands in the replacement procedure."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = AchRejectionSerializer

    def get_queryset(self) -> QuerySet[AchRejection]:
        if getattr(self, "swagger_fake_view", False):
            return AchRejection.objects.none()
        return rejections_visible_to(self.request.organization).order_by("-rejected_on", "-pk")


router = SimpleRouter()
router.register("ach/rejections", AchRejectionViewSet, basename="ach-rejection")
router.register("ach", AchViewSet, basename="ach")
urlpatterns = router.urls
