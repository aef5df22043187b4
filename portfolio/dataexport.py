"""An organisation's own data: export all of it (JSON plus its uploaded files, as a zip), delete all of it.

What an organisation holds (issue 9):
* every row with ``organization`` = it (memberships, grants, audit log, uploads, declarations, refund events,
  ACH rejections, account applications) and their children (declaration entries, verification codes);
* the importers it *owns*: ``owner`` = it, or, for a broker, clients it created that have not onboarded
  (``owner`` empty, ``created_by`` = it), with their ACH enrollment, notify party, 5106 records, readiness,
  and their entries (one per entry number, the importer's) with tariff lines and classifications.

Deletion removes all of that. An owned importer that another organisation still uses (an unrevoked grant,
or entries/declarations of its own) is not deleted but unlinked (owner and created_by cleared), so the
other organisation loses nothing. Users whose only membership was this organisation are deleted too.

Secrets never leave: encrypted bank account numbers (only the last four digits are exported), password
hashes, verification code hashes and API tokens are not in the export.
"""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import AuditLog, Importer, ImporterGrant, Membership, Organization
from accounts.services import ServiceError, audit
from ach.models import AchEnrollment
from cape.models import Declaration
from entries.models import Entry, Upload

logger = logging.getLogger(__name__)

# Field names (or parts of names) whose values never leave the database.
SECRET_FIELD_PARTS = ("encrypted", "password", "hash", "secret", "token", "code_digest")
TENANT_APPS = ("accounts", "entries", "cape", "ach")
# A user's own rows, not an organisation's: never exported (an API token's hash is a secret), deleted with
# the user (users whose only membership was the organisation are deleted with it).
USER_MODELS = ("accounts.ApiToken",)


# ----------------------------------------------------------------------------- what belongs to it
def owned_importers(organization: Organization) -> QuerySet[Importer]:
    return Importer.objects.filter(Q(owner=organization) | Q(owner__isnull=True, created_by=organization))


def _importer_used_elsewhere(organization: Organization) -> Q:
    """Owned importers another organisation still uses (an unrevoked grant, entries or declarations)."""
    other_grant = ImporterGrant.objects.filter(importer=OuterRef("pk"), revoked_at__isnull=True).exclude(
        organization=organization
    )
    # Entries are the importer's (one per entry number, shared); another organisation uses them when it loaded
    # them (its upload last set them).
    other_entries = Entry.objects.filter(importer=OuterRef("pk"), last_upload__isnull=False).exclude(
        last_upload__organization=organization)
    other_decls = Declaration.objects.filter(importer=OuterRef("pk")).exclude(organization=organization)
    return Q(Exists(other_grant)) | Q(Exists(other_entries)) | Q(Exists(other_decls))


def _models() -> list[type[models.Model]]:
    from django.apps import apps

    return [m for m in apps.get_models() if m._meta.app_label in TENANT_APPS and m._meta.label not in USER_MODELS]


def _fk_to(model: type[models.Model], target: type[models.Model]) -> str | None:
    for f in model._meta.fields:
        if f.is_relation and f.related_model is target:
            return f.name
    return None


def querysets_for(organization: Organization) -> list[tuple[str, QuerySet[Any]]]:
    """(label, queryset) for every tenant model: the rows of it that belong to ``organization``."""
    importers = owned_importers(organization)
    out: list[tuple[str, QuerySet[Any]]] = []
    org_models = {m for m in _models() if _fk_to(m, Organization) == "organization"}
    for model in _models():
        label = model._meta.label
        if model is Organization:
            qs: QuerySet[Any] = Organization.objects.filter(pk=organization.pk)
        elif model is Importer:
            qs = importers
        elif label in _IMPORTER_SCOPED:
            qs = model._default_manager.filter(**{f"{_importer_lookup(model)}__in": importers})
        elif model in org_models:
            qs = model._default_manager.filter(organization=organization)
        else:
            parent = next(
                (
                    (f.name, f.related_model)
                    for f in model._meta.fields
                    if f.is_relation and f.related_model in org_models
                ),
                None,
            )
            importer_path = _importer_lookup(model)
            if parent is not None:
                qs = model._default_manager.filter(**{f"{parent[0]}__organization": organization})
            elif importer_path is not None:
                qs = model._default_manager.filter(**{f"{importer_path}__in": importers})
            else:  # pragma: no cover - a new tenant model with no path to an organisation
                raise RuntimeError(f"{label}: no path to an organisation; teach portfolio.dataexport about it")
        out.append((label, qs.order_by("pk")))
    return out


def _importer_lookup(model: type[models.Model]) -> str | None:
    """The lookup from a row of ``model`` to its importer: its own foreign key to Importer ("importer"), or
    through a parent that has one (a tariff line's "entry__importer"); None when there is neither."""
    direct = _fk_to(model, Importer)
    if direct is not None:
        return direct
    for f in model._meta.fields:
        if f.is_relation and f.related_model is not None and f.related_model is not Organization:
            sub = _fk_to(f.related_model, Importer)
            if sub is not None and _fk_to(f.related_model, Organization) is None:
                return f"{f.name}__{sub}"
    return None


def _exported_fields(model: type[models.Model]) -> list[str]:
    names = []
    for f in model._meta.fields:
        if any(part in f.name.lower() for part in SECRET_FIELD_PARTS):
            continue
        names.append(f.attname)
    return names


def _file_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.fields if isinstance(f, models.FileField)]


# ----------------------------------------------------------------------------- export
def _json_array(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield b"["
    first = True
    for row in rows:
        yield (b"\n" if first else b",\n") + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False).encode()
        first = False
    yield b"\n]\n"


def _binary_safe(row: dict[str, Any]) -> dict[str, Any]:
    import base64

    for key, value in row.items():
        if isinstance(value, bytes | memoryview):
            row[key] = {"base64": base64.b64encode(bytes(value)).decode()}
    return row


def _rows(qs: QuerySet[Any], tally: list[int], files: list[str]) -> Iterator[dict[str, Any]]:
    file_fields = _file_fields(qs.model)
    for row in qs.values(*_exported_fields(qs.model)).iterator(chunk_size=5000):
        tally[0] += 1
        for ff in file_fields:
            if row.get(ff):
                files.append(row[ff])
        yield _binary_safe(row)


def organization_export(*, organization: Organization, user: Any) -> Path:
    """Write the organisation's data to a zip in a temporary file and return its path (caller deletes it).

    ``data/<app.Model>.json``: every row (JSON arrays, written a chunk at a time so a million entries fit);
    ``files/...``: every uploaded file it holds (ES-003 uploads, ACH evidence), under its storage name;
    ``manifest.json``: counts, and what was left out on purpose.
    """
    handle = tempfile.NamedTemporaryFile(prefix=f"refundready-export-{organization.slug}-", suffix=".zip", delete=False)
    handle.close()
    path = Path(handle.name)
    counts: dict[str, int] = {}
    files: list[str] = []
    missing: list[str] = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for label, qs in querysets_for(organization):
            tally = [0]
            with zf.open(f"data/{label}.json", "w", force_zip64=True) as out:
                for chunk in _json_array(_rows(qs, tally, files)):
                    out.write(chunk)
            counts[label] = tally[0]
        users = get_user_model().objects.filter(memberships__organization=organization).distinct()
        with zf.open("data/members.json", "w") as out:
            for chunk in _json_array(
                iter(users.values("id", "username", "email", "first_name", "last_name", "date_joined"))  # type: ignore[arg-type]  # rows are dicts
            ):
                out.write(chunk)
        for name in sorted(set(files)):
            try:
                with default_storage.open(name, "rb") as src, zf.open(f"files/{name}", "w", force_zip64=True) as dst:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        dst.write(block)
            except (FileNotFoundError, OSError):
                missing.append(name)
        manifest = {
            "organization": {"id": organization.pk, "name": organization.name, "slug": organization.slug},
            "exported_at": timezone.now().isoformat(),
            "rows": counts,
            "files": len(set(files)) - len(missing),
            "files_missing": missing,
            "not_exported": "encrypted bank account numbers (the last four digits are included), password hashes, "
            "verification code hashes, API tokens",
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, cls=DjangoJSONEncoder))
    audit(
        action="organization.export",
        user=user,
        organization=organization,
        rows=sum(counts.values()),
        files=manifest["files"],
    )
    return path


# ----------------------------------------------------------------------------- delete
@dataclass
class DeletionResult:
    rows_deleted: dict[str, int] = field(default_factory=dict)
    importers_deleted: int = 0
    importers_unlinked: int = 0
    users_deleted: int = 0
    files_deleted: int = 0


def organization_delete(*, organization: Organization, user: Any, confirmation: str) -> DeletionResult:
    """Delete the organisation and everything it holds (owner only; ``confirmation`` must be its name)."""
    membership = Membership.objects.filter(organization=organization, user=user).first() if user else None
    if membership is None or membership.role != Membership.Role.OWNER:
        raise ServiceError("Only an owner of the organisation can delete it.")
    if confirmation.strip() != organization.name.strip():
        raise ServiceError(
            f"Type the organisation's name exactly ({organization.name}) to confirm.", field="confirmation"
        )

    result = DeletionResult()
    files: list[str] = []
    org_id = organization.pk
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=org_id).get()
        owned = owned_importers(organization)
        keep_ids = set(owned.filter(_importer_used_elsewhere(organization)).values_list("pk", flat=True))
        delete_ids = set(owned.values_list("pk", flat=True)) - keep_ids
        files += [n for n in Upload.objects.filter(organization=organization).values_list("file", flat=True) if n]
        files += [
            n for n in AchEnrollment.objects.filter(importer_id__in=delete_ids).values_list("evidence", flat=True) if n
        ]
        lone_users = list(
            get_user_model()
            .objects.filter(memberships__organization=organization)
            .exclude(Exists(Membership.objects.filter(user=OuterRef("pk")).exclude(organization=organization)))
            .values_list("pk", flat=True)
        )
        # Children first (tariff lines have no database FK, so the ORM's cascade or these deletes remove them).
        order = _deletion_order()
        querysets = dict(querysets_for(organization))
        for label in order:
            model_qs = querysets[label]
            model = model_qs.model
            if model in (Organization, Importer):
                continue
            if label in _IMPORTER_SCOPED:
                model_qs = model._default_manager.filter(**{f"{_importer_lookup(model)}__in": delete_ids})
            n = model_qs._raw_delete(model_qs.db) if model._meta.label == "entries.TariffLine" else model_qs.delete()[0]
            if n:
                result.rows_deleted[label] = n
        # Importers: unlink those others still use, delete the rest (their ACH data went above).
        result.importers_unlinked = Importer.objects.filter(pk__in=keep_ids).update(owner=None, created_by=None)
        Importer.objects.filter(Q(created_by=organization) & ~Q(pk__in=delete_ids)).update(created_by=None)
        Importer.objects.filter(pk__in=delete_ids).delete()
        result.importers_deleted = len(delete_ids)
        AuditLog.objects.filter(organization=organization).delete()
        Organization.objects.filter(pk=org_id).delete()
        get_user_model().objects.filter(pk__in=lone_users).delete()
        result.users_deleted = len(lone_users)
        # The record of the deletion names no data of the organisation beyond its id.
        audit(
            action="organization.delete",
            user=None,
            organization=None,
            organization_id=org_id,
            importers_deleted=result.importers_deleted,
            importers_unlinked=result.importers_unlinked,
            users_deleted=result.users_deleted,
            rows=sum(result.rows_deleted.values()),
        )

        def remove_files() -> None:
            for name in files:
                try:
                    default_storage.delete(name)
                    result.files_deleted += 1
                except OSError:
                    logger.warning("could not delete a file of deleted organisation %s", org_id)

        transaction.on_commit(remove_files)
    logger.info("organisation %s deleted", org_id)
    return result


# Models whose rows belong to the organisation through its importers (deleted only for importers being deleted).
# Entries are the importer's too (one per entry number, shared by every organisation that sees it): they go
# with their importer, never with an organisation that only served it.
_IMPORTER_SCOPED = {"accounts.Form5106Record", "accounts.ReadinessState", "ach.AchEnrollment", "ach.NotifyParty",
                    "entries.Entry", "entries.TariffLine", "cape.Classification", "cape.ClassificationChange"}


def _deletion_order() -> list[str]:
    """Tenant models, children before parents (a model before every model it points to)."""
    models_ = _models()
    by_label = {m._meta.label: m for m in models_}
    done: list[str] = []
    seen: set[str] = set()

    def visit(model: type[models.Model]) -> None:
        label = model._meta.label
        if label in seen:
            return
        seen.add(label)
        for other in models_:  # everything that points at this model goes first
            if other is not model and any(f.is_relation and f.related_model is model for f in other._meta.fields):
                visit(other)
        done.append(label)

    for m in models_:
        visit(m)
    return [label for label in done if label in by_label]
