"""One entry per entry number (issue 18): merge the copies that organisations kept of one entry summary.

Until now each organisation's upload made its own copy of an entry (unique per organisation and entry
number). An entry summary exists once in the world, for one importer of record, so copies of one entry
number become one row before the unique constraint moves to the number alone (0009):

* the copy from the latest ES-003 wins field by field (its row and its tariff lines: one report gives an
  entry its row and all its lines, entries.services); a copy never loaded from a report counts as oldest;
* facts people set are united: type 09 filed, drawback and surety paid hold if any organisation set them;
  a protest status or number a person set (protest_set_by_user) wins over a report's, the latest such wins;
* CAPE history is united: declaration items, refund events and classification history move to the kept
  row; audit rows about a removed copy are pointed at the kept row;
* every difference between the copies is written to the audit log of each organisation that held a copy
  (action entry.merged, with the values each copy had), so nothing is lost silently.

The kept entry's stored classification is dropped (its facts may have changed): entries without one are
classified by the worker's recovery (entries.recovery.classifications_recover), which runs at worker start
and every few minutes, and by the nightly run.
"""

from __future__ import annotations

from django.db import migrations

FACT_FIELDS = ("type09_filed", "drawback", "surety_paid")
REPORT_FIELDS = (
    "importer_id", "entry_type", "entry_date", "entry_summary_date", "port_code", "filer_code", "filer_name",
    "liquidation_status", "liquidation_date", "recon_flag", "psc_flag", "importation_date",
    "liquidation_reason_code", "ieepa_duty", "total_duty",
)


def _age(entry, uploads):
    up = uploads.get(entry.last_upload_id)
    return (up is not None, up or (None, 0), entry.updated_at, entry.pk)


def merge_copies(apps, schema_editor):
    from django.db.models import Count

    Entry = apps.get_model("entries", "Entry")
    Upload = apps.get_model("entries", "Upload")
    TariffLine = apps.get_model("entries", "TariffLine")
    Classification = apps.get_model("cape", "Classification")
    ClassificationChange = apps.get_model("cape", "ClassificationChange")
    DeclarationEntry = apps.get_model("cape", "DeclarationEntry")
    RefundEvent = apps.get_model("cape", "RefundEvent")
    AuditLog = apps.get_model("accounts", "AuditLog")

    numbers = list(
        Entry.objects.values("entry_number").annotate(n=Count("id")).filter(n__gt=1).values_list("entry_number", flat=True)
    )
    for number in numbers:
        copies = list(Entry.objects.filter(entry_number=number).order_by("pk"))
        uploads = {u.pk: (u.created_at, u.pk) for u in Upload.objects.filter(pk__in=[c.last_upload_id for c in copies if c.last_upload_id])}
        copies.sort(key=lambda e: _age(e, uploads))
        keep, others = copies[-1], copies[:-1]
        conflicts: dict[str, dict[str, str]] = {}
        for name in REPORT_FIELDS + FACT_FIELDS + ("protest_status", "protest_number"):
            values = {str(c.organization_id): str(getattr(c, name)) for c in copies}
            if len(set(values.values())) > 1:
                conflicts[name] = values
        for name in FACT_FIELDS:
            setattr(keep, name, any(getattr(c, name) for c in copies))
        user_set = [c for c in copies if c.protest_set_by_user]
        if user_set:
            latest = max(user_set, key=lambda e: (e.updated_at, e.pk))
            keep.protest_status, keep.protest_number, keep.protest_set_by_user = (
                latest.protest_status, latest.protest_number, True)
        keep.save()
        other_ids = [c.pk for c in others]
        # CAPE history and refunds: the kept row's. A declaration holds at most one copy (one organisation).
        DeclarationEntry.objects.filter(entry_id__in=other_ids).update(entry_id=keep.pk)
        RefundEvent.objects.filter(entry_id__in=other_ids).update(entry_id=keep.pk)
        ClassificationChange.objects.filter(entry_id__in=other_ids).update(entry_id=keep.pk)
        AuditLog.objects.filter(object_type="entries.entry", object_id__in=[str(i) for i in other_ids]).update(
            object_id=str(keep.pk))
        Classification.objects.filter(entry_id__in=[*other_ids, keep.pk]).delete()
        TariffLine.objects.filter(entry_id__in=other_ids).delete()
        Entry.objects.filter(pk__in=other_ids).delete()
        for org_id in sorted({c.organization_id for c in copies}):
            AuditLog.objects.create(
                organization_id=org_id, action="entry.merged", object_type="entries.entry", object_id=str(keep.pk),
                detail={"entry_number": number, "copies": len(copies), "kept_copy_of_organization": keep.organization_id,
                        "kept_from_upload": keep.last_upload_id, "conflicts": conflicts},
            )


class Migration(migrations.Migration):
    dependencies = [
        ("entries", "0007_protest_set_by_user"),
        ("cape", "0013_h_browse_classification_sort_indexes"),
        ("accounts", "0006_merge_h_http_h_pages"),
    ]

    operations = [migrations.RunPython(merge_copies, migrations.RunPython.noop)]
