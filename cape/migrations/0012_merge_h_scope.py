"""Merges h-scope's 0010 (DeclarationBuildJob.importers) with main's 0011 (h-rules and h-wild merged)."""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("cape", "0010_h_scope_build_job_importers"),
        ("cape", "0011_merge_h_rules_h_wild"),
    ]

    operations = []
