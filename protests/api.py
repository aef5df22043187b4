"""/api/protests/: list, draft, download the files, record filing and decision, discard; /api/counsel-packets/.

Permissions as for CAPE declarations: every member reads and exports (viewers included); owners and staff
draft and record. Objects are fetched through protests_for / importers_for, so another organisation's, or a
broker's after its grant was revoked, are a 404."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.http import OrgApiRequest
from accounts.selectors import importers_for
from protests import exports, services
from protests.models import Protest
from protests.selectors import counsel_packet, protests_for

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "pdf": "application/pdf",
    "txt": "text/plain",
}


class ProtestSerializer(serializers.ModelSerializer):
    # Plain strings (not enums) so that their names cannot collide with other apps' enums in the schema.
    status = serializers.CharField(read_only=True, help_text="draft | exported | filed | decided")
    decision = serializers.CharField(read_only=True, help_text="'' | allowed | denied | partly")
    importer_name = serializers.CharField(source="importer.name", read_only=True)
    protest_number = serializers.CharField(source="protest_number_display", read_only=True,
                                           help_text="Port code, year, serial: 2704-26-100412; blank until filed")
    center_team = serializers.CharField(read_only=True, help_text="Blank: not known (the ES-003 report does not carry it)")
    cit_summons_by = serializers.DateField(read_only=True, allow_null=True,
                                           help_text="A denial (in whole or in part) may be contested at the CIT until this "
                                                     "day (180 days, 28 U.S.C. 2636(a))")
    lead_entry = serializers.SerializerMethodField()

    class Meta:
        model = Protest
        fields = ["id", "importer", "importer_name", "status", "protest_number", "filed_on", "decision", "decided_on",
                  "deadline", "entry_count", "line_count", "ieepa_duty", "estimated_interest", "port_code", "center_team",
                  "lead_entry", "spreadsheet_bytes", "reason_text", "cit_summons_by", "exported_at", "created_at"]
        read_only_fields = fields

    def get_lead_entry(self, obj: Protest) -> str | None:
        item = obj.items.filter(lead=True).select_related("entry").first()
        return item.entry.entry_number if item else None


class ProtestEntrySerializer(serializers.Serializer):
    position = serializers.IntegerField()
    lead = serializers.BooleanField()
    entry_number = serializers.CharField()
    liquidation_date = serializers.DateField(allow_null=True)
    port_code = serializers.CharField()


class DraftSerializer(serializers.Serializer):
    importers = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False,
                                      allow_empty=False, help_text="Importer ids; leave out for every importer")


class ProtestLeftOutSerializer(serializers.Serializer):
    entry_number = serializers.CharField()
    reason = serializers.CharField()


class DraftResultSerializer(serializers.Serializer):
    protests = ProtestSerializer(many=True)
    left_out = ProtestLeftOutSerializer(many=True)
    left_out_count = serializers.IntegerField()
    considered = serializers.IntegerField()


class FilingSerializer(serializers.Serializer):
    protest_number = serializers.CharField(max_length=20)
    filed_on = serializers.DateField()


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[c.value for c in Protest.Decision])
    decided_on = serializers.DateField()


class ReasonSerializer(serializers.Serializer):
    reason_text = serializers.CharField(max_length=services.MAX_REASON)


def _file(data: bytes, kind: str, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=CONTENT_TYPES[kind])
    response["Content-Disposition"] = content_disposition_header(kind != "txt", name)  # type: ignore[assignment]  # str: a name is given
    return response


def _binary(kind: str, what: str) -> Any:
    return {(200, CONTENT_TYPES[kind]): OpenApiResponse(response=OpenApiTypes.BINARY, description=what)}


class ProtestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Protests of the acting organisation, drafted from the protest path."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = ProtestSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Protest.objects.none()
        qs = protests_for(self.request.organization)
        wanted = self.request.query_params.get("status")
        if wanted:
            qs = qs.filter(status=wanted)
        return qs.order_by("deadline", "pk")

    @extend_schema(request=DraftSerializer, responses={201: DraftResultSerializer})
    @action(detail=False, methods=["post"])
    def draft(self, request: OrgApiRequest) -> Response:
        """Draft protests from protest-path entries: one importer per protest, entries whose deadline has not
        passed, by deadline, split so each spreadsheet stays under the 10 MB ACE attachment limit."""
        s = DraftSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        result = services.protest_drafts_build(organization=request.organization, user=request.user,
                                               importer_ids=s.validated_data.get("importers"))
        body = {"protests": ProtestSerializer(result.protests, many=True).data, "left_out": result.left_out,
                "left_out_count": result.left_out_count, "considered": result.considered}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ProtestEntrySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def entries(self, request: Request, pk: str | None = None) -> Response:
        """The protest's entries in order (the lead first), a page at a time."""
        protest = self.get_object()
        page = self.paginate_queryset(protest.items.select_related("entry").order_by("position"))
        rows = [{"position": i.position, "lead": i.lead, "entry_number": i.entry.entry_number,
                 "liquidation_date": i.entry.liquidation_date, "port_code": i.entry.port_code} for i in page or []]
        return self.get_paginated_response(ProtestEntrySerializer(rows, many=True).data)

    def _download(self, request: OrgApiRequest, kind: str) -> HttpResponse:
        protest = self.get_object()
        if request.method == "POST":
            if not request.membership.can_edit:
                raise PermissionDenied("Viewers can read and export but not change anything.")
            protest = services.protest_export(protest=protest, user=request.user)
        stem = exports.file_stem(protest)
        if kind == "xlsx":
            return _file(exports.protest_xlsx(protest), kind, f"{stem}-details.xlsx")
        if kind == "csv":
            return _file(exports.protest_csv(protest), kind, f"{stem}-details.csv")
        if kind == "pdf":
            return _file(exports.protest_form19_pdf(protest), kind, f"{stem}-form19-content.pdf")
        return _file(exports.reason_plain_text(protest), kind, f"{stem}-reason.txt")

    @extend_schema(request=None, responses=_binary("xlsx", "The Protest Details Spreadsheet"))
    @action(detail=True, methods=["get", "post"], url_path="spreadsheet-xlsx")
    def spreadsheet_xlsx(self, request: OrgApiRequest, pk: str | None = None) -> HttpResponse:
        """GET: the spreadsheet (every member). POST (owners, staff): downloaded for filing; a draft becomes exported."""
        return self._download(request, "xlsx")

    @extend_schema(request=None, responses=_binary("csv", "The Protest Details Spreadsheet as CSV"))
    @action(detail=True, methods=["get", "post"], url_path="spreadsheet-csv")
    def spreadsheet_csv(self, request: OrgApiRequest, pk: str | None = None) -> HttpResponse:
        """As spreadsheet-xlsx, in CSV."""
        return self._download(request, "csv")

    @extend_schema(request=None, responses=_binary("pdf", "The Form 19 content sheet"))
    @action(detail=True, methods=["get", "post"], url_path="form19")
    def form19(self, request: OrgApiRequest, pk: str | None = None) -> HttpResponse:
        """The fields the ACE Protest Module asks for, in its order (PDF)."""
        return self._download(request, "pdf")

    @extend_schema(request=None, responses=_binary("txt", "The reason for protest"))
    @action(detail=True, methods=["get"], url_path="reason-text")
    def reason_text(self, request: OrgApiRequest, pk: str | None = None) -> HttpResponse:
        """The reason for protest as plain text, to paste."""
        return self._download(request, "txt")

    @extend_schema(request=ReasonSerializer, responses={200: ProtestSerializer})
    @action(detail=True, methods=["post"])
    def reason(self, request: Request, pk: str | None = None) -> Response:
        """Edit the reason for protest of a protest not yet filed."""
        protest = self.get_object()
        s = ReasonSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        protest = services.protest_reason_update(protest=protest, user=request.user, text=s.validated_data["reason_text"])
        return Response(ProtestSerializer(protest).data)

    @extend_schema(request=FilingSerializer, responses={200: ProtestSerializer})
    @action(detail=True, methods=["post"])
    def filing(self, request: Request, pk: str | None = None) -> Response:
        """Record the filing: CBP's protest number (port, year, serial) and the date. The entries get protest
        status open and are reclassified (rule R5)."""
        protest = self.get_object()
        s = FilingSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        protest = services.protest_record_filing(protest=protest, user=request.user, **s.validated_data)
        return Response(ProtestSerializer(protest).data)

    @extend_schema(request=DecisionSerializer, responses={200: ProtestSerializer})
    @action(detail=True, methods=["post"])
    def decision(self, request: Request, pk: str | None = None) -> Response:
        """Record CBP's decision (allowed, denied, partly) and its date."""
        protest = self.get_object()
        s = DecisionSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        protest = services.protest_record_decision(protest=protest, user=request.user, **s.validated_data)
        return Response(ProtestSerializer(protest).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def discard(self, request: Request, pk: str | None = None) -> Response:
        """Discard a protest not yet filed."""
        protest = self.get_object()
        services.protest_discard(protest=protest, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CounselPacketSerializer(serializers.Serializer):
    importer = serializers.IntegerField()
    importer_name = serializers.CharField()
    as_of = serializers.DateField()
    entries = serializers.IntegerField()
    lines = serializers.IntegerField()
    ieepa_duty = serializers.DecimalField(max_digits=18, decimal_places=2)
    estimated_interest = serializers.DecimalField(max_digits=18, decimal_places=2)
    earliest_cit_deadline = serializers.DateField(allow_null=True)


class CounselPacketViewSet(viewsets.GenericViewSet):
    """The court path per importer (id = the importer's id): totals, and the packet as XLSX or PDF."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = CounselPacketSerializer

    def get_queryset(self) -> Any:
        from accounts.models import Importer

        if getattr(self, "swagger_fake_view", False):
            return Importer.objects.none()
        return importers_for(self.request.organization)

    def _packet(self) -> Any:
        return counsel_packet(self.request.organization, self.get_object(), as_of=services.today())

    @extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The importer's id")])
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        p = self._packet()
        return Response(CounselPacketSerializer({
            "importer": p.importer.pk, "importer_name": p.importer.name, "as_of": p.as_of, "entries": len(p.rows),
            "lines": p.line_count, "ieepa_duty": p.total_duty, "estimated_interest": p.total_interest,
            "earliest_cit_deadline": p.earliest_deadline}).data)

    @extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The importer's id")],
                   responses=_binary("xlsx", "The counsel packet"))
    @action(detail=True, methods=["get"])
    def xlsx(self, request: OrgApiRequest, pk: str | None = None) -> HttpResponse:
        p = self._packet()
        return _file(exports.counsel_xlsx(p), "xlsx", f"{exports.counsel_stem(p, p.as_of)}.xlsx")

    @extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The importer's id")],
                   responses=_binary("pdf", "The counsel packet"))
    @action(detail=True, methods=["get"])
    def pdf(self, request: OrgApiRequest, pk: str | None = None) -> HttpResponse:
        p = self._packet()
        return _file(exports.counsel_pdf(p), "pdf", f"{exports.counsel_stem(p, p.as_of)}.pdf")


router = SimpleRouter()
router.register("protests", ProtestViewSet, basename="protest")
router.register("counsel-packets", CounselPacketViewSet, basename="counsel-packet")
urlpatterns = router.urls
