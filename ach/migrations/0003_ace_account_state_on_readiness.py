"""The ACE account state is kept once, on accounts.ReadinessState.ace_account: the inactive/voided
ticks of the ACH page move there (voided wins over inactive; a problem recorded on either page wins
over "active" on the other, so no special case is lost), then the ACH copies are dropped."""

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    AchEnrollment = apps.get_model("ach", "AchEnrollment")
    ReadinessState = apps.get_model("accounts", "ReadinessState")
    flagged = AchEnrollment.objects.filter(ace_account_inactive=True) | AchEnrollment.objects.filter(ace_account_voided=True)
    for enrollment in flagged.iterator():
        wanted = "voided" if enrollment.ace_account_voided else "inactive"
        state, _ = ReadinessState.objects.get_or_create(importer_id=enrollment.importer_id)
        if state.ace_account == "voided" or state.ace_account == wanted:
            continue
        state.ace_account = wanted
        state.ace_account_changed_on = timezone.localdate()
        state.updated_at = timezone.now()
        state.save()


def backwards(apps, schema_editor):
    AchEnrollment = apps.get_model("ach", "AchEnrollment")
    ReadinessState = apps.get_model("accounts", "ReadinessState")
    for importer_id, ace in ReadinessState.objects.filter(ace_account__in=["inactive", "voided"]).values_list("importer_id", "ace_account"):
        AchEnrollment.objects.filter(importer_id=importer_id).update(ace_account_inactive=ace == "inactive", ace_account_voided=ace == "voided")


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_onboarding_5106_application_readiness"),
        ("ach", "0002_rejections_special_cases_evidence"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="achenrollment", name="ace_account_inactive"),
        migrations.RemoveField(model_name="achenrollment", name="ace_account_voided"),
    ]
