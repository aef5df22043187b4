from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.http import OrgApiRequest
from accounts.irnumber import InvalidIRNumber, mask_ir_number
from accounts.models import Importer, ImporterAssignment, ImporterNote
from accounts.selectors import assignable_members, assigned_importer_ids, assignments_for, importers_for, notes_for
from accounts.services import (
    importer_assign,
    importer_create,
    importer_facts_update,
    importer_note_add,
    importer_note_follow_up_done,
    importer_unassign,
)
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


class AssignmentSerializer(serializers.ModelSerializer):
    member = serializers.IntegerField(source="member_id", read_only=True)
    member_username = serializers.CharField(source="member.username", read_only=True)

    class Meta:
        model = ImporterAssignment
        fields = ["member", "member_username", "assigned_at"]
        read_only_fields = fields


class AssignSerializer(serializers.Serializer):
    member = serializers.IntegerField(min_value=1, help_text="The user id of an owner or staff member of the organisation")


class NoteSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = ImporterNote
        fields = ["id", "text", "follow_up_on", "follow_up_done_on", "created_by", "created_at"]
        read_only_fields = fields


class NoteCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=2000, validators=[no_control_characters])
    follow_up_on = serializers.DateField(required=False, allow_null=True)


class ImporterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Importers of record the acting organisation owns or manages."""
    request: OrgApiRequest  # a member's request: IsOrganizationMember resolved its organisation

    serializer_class = ImporterSerializer

    def get_queryset(self) -> QuerySet[Importer]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no organisation
            return Importer.objects.none()
        qs = importers_for(self.request.organization).order_by("name", "pk")
        if self.action == "list" and self.request.query_params.get("mine") in ("1", "true", "yes"):
            qs = qs.filter(pk__in=assigned_importer_ids(self.request.organization, self.request.user))
        return qs

    @extend_schema(parameters=[OpenApiParameter("mine", bool, description="Only the importers assigned to you (client work)")])
    def list(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().list(request, *args, **kwargs)

    def get_serializer_class(self) -> Any:
        return ImporterCreateSerializer if self.action == "create" else ImporterSerializer

    def perform_create(self, serializer: Any) -> None:
        try:
            importer = importer_create(organization=self.request.organization, user=self.request.user, **serializer.validated_data)
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
        importer = self.get_object()
        s = ImporterFactsSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        importer_facts_update(importer=importer, organization=request.organization, user=request.user, **s.validated_data)
        return Response(ImporterSerializer(importer).data)


    # ------------------------------------------------------------------ client work (the organisation's own)
    @extend_schema(methods=["get"], responses={200: AssignmentSerializer(many=True)})
    @extend_schema(methods=["post"], request=AssignSerializer, responses={201: AssignmentSerializer})
    @action(detail=True, methods=["get", "post"], url_path="assignments", pagination_class=None)
    def assignments(self, request: Any, pk: Any = None) -> Response:
        """The members this importer is assigned to (GET); assign it to an owner or staff member (POST, audited)."""
        importer = self.get_object()
        org = request.organization
        if request.method == "POST":
            s = AssignSerializer(data=request.data)
            s.is_valid(raise_exception=True)
            member = assignable_members(org).filter(pk=s.validated_data["member"]).first()
            if member is None:
                raise ValidationError({"member": ["Choose an owner or staff member of this organisation."]})
            assignment = importer_assign(organization=org, importer=importer, member=member, user=request.user)
            return Response(AssignmentSerializer(assignment).data, status=201)
        rows = assignments_for(org).filter(importer=importer).select_related("member").order_by("member__username")
        return Response(AssignmentSerializer(rows, many=True).data)

    @extend_schema(responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"assignments/(?P<member_id>[0-9]{1,18})")
    def unassign(self, request: Any, pk: Any = None, member_id: Any = None) -> Response:
        """Take the importer off the member's clients (audited). 404 when it was not assigned to the member."""
        importer = self.get_object()
        assignment = get_object_or_404(assignments_for(request.organization).filter(importer=importer), member_id=member_id)
        importer_unassign(organization=request.organization, importer=importer, member=assignment.member, user=request.user)
        return Response(status=204)

    @extend_schema(methods=["get"], responses={200: NoteSerializer(many=True)})
    @extend_schema(methods=["post"], request=NoteCreateSerializer, responses={201: NoteSerializer})
    @action(detail=True, methods=["get", "post"], url_path="notes", pagination_class=None)
    def notes(self, request: Any, pk: Any = None) -> Response:
        """The organisation's notes on this importer, newest first (GET); add one, with an optional follow-up
        date (POST, audited)."""
        importer = self.get_object()
        org = request.organization
        if request.method == "POST":
            s = NoteCreateSerializer(data=request.data)
            s.is_valid(raise_exception=True)
            note = importer_note_add(organization=org, importer=importer, user=request.user, **s.validated_data)
            return Response(NoteSerializer(note).data, status=201)
        return Response(NoteSerializer(notes_for(org, importer)[:200], many=True).data)

    @extend_schema(request=None, responses={200: NoteSerializer})
    @action(detail=True, methods=["post"], url_path=r"notes/(?P<note_id>[0-9]{1,18})/follow-up-done")
    def follow_up_done(self, request: Any, pk: Any = None, note_id: Any = None) -> Response:
        """Mark the note's follow-up done (audited)."""
        importer = self.get_object()
        note = get_object_or_404(notes_for(request.organization, importer), pk=note_id)
        importer_note_follow_up_done(organization=request.organization, note=note, user=request.user)
        return Response(NoteSerializer(note).data)


router = SimpleRouter()
router.register("importers", ImporterViewSet, basename="importer")
urlpatterns = router.urls
