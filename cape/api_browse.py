"""Entries and classifications API: the same data and filters as the entry pages.

/api/entries/            keyset-paginated list (``next`` carries the cursor; no COUNT over the table)
/api/entries/{id}/       one entry with its tariff lines and classification (reasons explained)
/api/classifications/    totals by path (count and IEEPA duty)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.http import OrgApiRequest
from accounts.irnumber import mask_ir_number
from accounts.selectors import assigned_importer_ids, importers_for
from cape import rules
from cape.models import Classification
from cape.selectors import MAX_PAGE_SIZE, PAGE_SIZE, SORTS, EntryFilters, entries_for, entry_page, path_totals
from entries.models import Entry, TariffLine


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    rule = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # a declared field: the serializer's metaclass takes it off the class
    text = serializers.CharField()


class ClassificationSerializer(serializers.ModelSerializer):
    reasons_explained = serializers.SerializerMethodField()

    class Meta:
        model = Classification
        fields = [
            "path", "reasons", "reasons_explained", "deadline", "urgent", "deadline_passed",
            "projected_liquidation_date", "cape_window_closes", "protest_deadline", "protest_deadline_projected",
            "cit_deadline", "days_since_liquidation", "liquidated", "estimated_interest", "interest_uncertain", "interest_note",
            "stable_until", "ruleset",
            "as_of", "computed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ReasonSerializer(many=True))
    def get_reasons_explained(self, obj: Classification) -> list[dict[str, str]]:
        out = []
        for code in obj.reasons:
            rule, source, text = rules.explain(code)
            out.append({"code": code, "rule": rule, "source": source, "text": text})
        return out


class TariffLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = TariffLine
        fields = ["line_number", "ordinal", "hts", "goods_value", "duty", "country_of_origin", "is_ieepa", "country_of_export",
                  "spi_code", "manufacturer_id", "quantity", "uom"]
        read_only_fields = fields


class EntrySummarySerializer(serializers.ModelSerializer):
    importer_number = serializers.SerializerMethodField()
    importer_name = serializers.CharField(source="importer.name", read_only=True)

    class Meta:
        model = Entry
        fields = [
            "id", "entry_number", "importer_id", "importer_number", "importer_name", "entry_type", "entry_date",
            "entry_summary_date", "liquidation_status", "liquidation_date", "recon_flag", "protest_status",
            "type09_filed", "drawback", "ieepa_duty", "total_duty",
        ]
        read_only_fields = fields

    def get_importer_number(self, obj: Entry) -> str:
        return mask_ir_number(obj.importer.ir_number)


class EntryListItemSerializer(EntrySummarySerializer):
    classification = serializers.SerializerMethodField()

    class Meta(EntrySummarySerializer.Meta):
        fields = EntrySummarySerializer.Meta.fields + ["classification"]
        read_only_fields = fields

    @extend_schema_field(ClassificationSerializer(allow_null=True))
    def get_classification(self, obj: Entry) -> dict[str, Any] | None:
        c = getattr(obj, "classification", None)
        return ClassificationSerializer(c).data if c is not None else None


class RefundEventSerializer(serializers.Serializer):
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    event_date = serializers.DateField(allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    principal = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    interest = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    source = serializers.CharField()  # type: ignore[assignment]  # a declared field: the serializer's metaclass takes it off the class
    reference = serializers.CharField()
    declaration_id = serializers.IntegerField(allow_null=True)


class EntryRefundsSerializer(serializers.Serializer):
    """After CAPE acceptance (README §6): expected liquidation = acceptance + 45 days; refund expected
    60–90 days after acceptance; and the REV-603 / REV-615 events recorded for the entry."""

    declaration_id = serializers.IntegerField(allow_null=True)
    declaration_name = serializers.CharField(allow_null=True)
    claim_number = serializers.CharField(allow_null=True)
    accepted_on = serializers.DateField(allow_null=True)
    expected_liquidation = serializers.DateField(allow_null=True)
    refund_window_from = serializers.DateField(allow_null=True)
    refund_window_to = serializers.DateField(allow_null=True)
    events = RefundEventSerializer(many=True)


class FactChangeSerializer(serializers.Serializer):
    """A fact of the entry set by a person (the entry is shared: each change names who and which organisation)."""

    at = serializers.DateTimeField()
    what = serializers.CharField()
    old = serializers.CharField()
    new = serializers.CharField()
    who = serializers.CharField()


class EntryDetailSerializer(EntryListItemSerializer):
    lines = TariffLineSerializer(many=True, read_only=True)
    refunds = serializers.SerializerMethodField()
    fact_history = serializers.SerializerMethodField()

    class Meta(EntryListItemSerializer.Meta):
        fields = EntryListItemSerializer.Meta.fields + ["port_code", "filer_code", "filer_name", "protest_number",
                                                        "importation_date", "lines", "refunds", "fact_history"]
        read_only_fields = fields

    @extend_schema_field(FactChangeSerializer(many=True))
    def get_fact_history(self, obj: Entry) -> list[dict[str, Any]]:
        from cape.selectors import fact_history

        return FactChangeSerializer(fact_history(obj), many=True).data  # type: ignore[return-value]  # a ReturnList of dicts

    @extend_schema_field(EntryRefundsSerializer)
    def get_refunds(self, obj: Entry) -> dict[str, Any]:
        from cape.refunds import entry_refunds

        r = entry_refunds(self.context["request"].organization, obj)
        d, exp = r.declaration, r.expected
        return EntryRefundsSerializer({
            "declaration_id": d.pk if d else None, "declaration_name": d.name if d else None,
            "claim_number": (d.claim_number or None) if d else None, "accepted_on": d.accepted_on if d else None,
            "expected_liquidation": exp.liquidation if exp else None, "refund_window_from": exp.refund_from if exp else None,
            "refund_window_to": exp.refund_to if exp else None, "events": r.events,
        }).data


@extend_schema_serializer(many=False)  # a keyset page object, not a list
class EntryPageSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    results = EntryListItemSerializer(many=True)


class PathTotalSerializer(serializers.Serializer):
    path = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field: the serializer's metaclass takes it off the class
    count = serializers.IntegerField()
    ieepa_duty = serializers.DecimalField(max_digits=18, decimal_places=2)


@extend_schema_serializer(many=False)  # one totals object
class PathTotalsSerializer(serializers.Serializer):
    ruleset = serializers.CharField()
    paths = PathTotalSerializer(many=True)


class FilterSerializer(serializers.Serializer):
    path = serializers.ChoiceField(choices=list(rules.PATHS), required=False)
    reason = serializers.CharField(required=False, max_length=200)
    urgency = serializers.ChoiceField(choices=["urgent", "deadline_passed", "any"], required=False)
    within_days = serializers.IntegerField(required=False, min_value=0, max_value=3650)
    importer = serializers.IntegerField(required=False, min_value=1)
    mine = serializers.BooleanField(required=False, default=False)
    q = serializers.CharField(required=False, max_length=100, allow_blank=True)
    port = serializers.RegexField(r"^\s*\d{4}\s*$", required=False, max_length=8, allow_blank=True, error_messages={
        "invalid": "Enter a CBP port code: 4 digits, e.g. 2704 (Los Angeles) or 1001 (New York)."})
    sort = serializers.ChoiceField(choices=list(SORTS), required=False, default="deadline")
    after = serializers.CharField(required=False, max_length=100)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=PAGE_SIZE)


_FILTER_PARAMS = [
    OpenApiParameter("path", str, enum=list(rules.PATHS)),
    OpenApiParameter("reason", str, description="A reason code, e.g. within_80_days or cape_rejected"),
    OpenApiParameter("urgency", str, enum=["urgent", "deadline_passed", "any"]),
    OpenApiParameter("within_days", int, description="Path deadline between today and today + N days"),
    OpenApiParameter("importer", int, description="Importer id"),
    OpenApiParameter("mine", bool, description="Only the importers assigned to you (client work)"),
    OpenApiParameter("q", str, description="An entry number in any typed form (3BZ-5500120-4, 3BZ 5500120 4, "
                                           '="3BZ55001204", lost leading zeros), part of one (4+ characters), '
                                           "or an importer's name or IR number"),
    OpenApiParameter("port", str, description="CBP port code, 4 digits (e.g. 2704)"),
    OpenApiParameter("sort", str, enum=list(SORTS)),
    OpenApiParameter("after", str, description="Cursor from the previous page's `next`"),
    OpenApiParameter("page_size", int),
]


def _filters(request: Request, organization: Any) -> tuple[EntryFilters, dict[str, Any]]:
    s = FilterSerializer(data=request.query_params)
    s.is_valid(raise_exception=True)
    data = s.validated_data
    importer_id = data.get("importer")
    if importer_id is not None and not importers_for(organization).filter(pk=importer_id).exists():
        raise ValidationError({"importer": ["No such importer in your organisation."]})
    return (
        EntryFilters(
            path=data.get("path", ""), reason=data.get("reason", ""), urgency=data.get("urgency", ""),
            within_days=data.get("within_days"), importer_id=importer_id, sort=data.get("sort") or "deadline",
            q=(data.get("q") or "").strip(), port=(data.get("port") or "").strip(),
            importer_ids=tuple(sorted(assigned_importer_ids(organization, request.user))) if data.get("mine") else None,
        ),
        data,
    )


class EntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Entries the acting organisation can see, with their classification."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = EntryDetailSerializer
    pagination_class = None  # keyset pages of its own (next cursor), described in the schema below

    def get_queryset(self) -> QuerySet[Entry]:
        if getattr(self, "swagger_fake_view", False):
            return Entry.objects.none()
        return (
            entries_for(self.request.organization)
            .select_related("importer", "classification")
            .prefetch_related("lines")
            .order_by("pk")
        )

    @extend_schema(
        parameters=_FILTER_PARAMS,
        responses=EntryPageSerializer,
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        org = self.request.organization
        filters, data = _filters(request, org)
        page = entry_page(org, filters, after=data.get("after"), size=data["page_size"])
        entries = []
        for c in page.rows:
            e = c.entry
            e.importer = c.importer
            e.classification = c
            entries.append(e)
        next_url = None
        if page.next_cursor:
            params = {k: v for k, v in request.query_params.items() if k != "after"}
            params["after"] = page.next_cursor
            next_url = request.build_absolute_uri(request.path) + "?" + urlencode(params)
        return Response({"next": next_url, "results": EntryListItemSerializer(entries, many=True).data})


class ClassificationSummaryViewSet(viewsets.GenericViewSet):
    """Totals by path: number of entries and IEEPA duty (filters as on the list)."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = inline_serializer(  # type: ignore[assignment]  # an instance: drf-spectacular reads it for the schema
        "PathTotal",
        {"path": serializers.CharField(), "label": serializers.CharField(), "count": serializers.IntegerField(),
         "ieepa_duty": serializers.DecimalField(max_digits=18, decimal_places=2)},
    )

    pagination_class = None

    def get_queryset(self) -> QuerySet[Classification]:
        return Classification.objects.none()  # totals only; nothing is listed row by row here

    @extend_schema(parameters=[p for p in _FILTER_PARAMS if p.name not in ("sort", "after", "page_size")],
                   responses=PathTotalsSerializer)
    def list(self, request: OrgApiRequest) -> Response:
        org = request.organization
        filters, _ = _filters(request, org)
        totals = path_totals(org, filters)
        return Response({
            "ruleset": rules.RULESET,
            "paths": [
                {"path": t.path, "label": t.label, "count": t.count, "ieepa_duty": f"{t.ieepa_duty:.2f}"} for t in totals
            ],
        })


router = SimpleRouter()
router.register("entries", EntryViewSet, basename="entry")
router.register("classifications", ClassificationSummaryViewSet, basename="classification")
urlpatterns = router.urls
