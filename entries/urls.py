"""Entries URLs: uploads (ES-003 ingestion) and browsing (entry list/detail, classification)."""

from django.urls import include, path

from entries import views_facts

urlpatterns = [
    path("", include("entries.urls_browse")),
    path("uploads/", include("entries.urls_uploads")),
    path("facts/", views_facts.facts_upload, name="entry_facts_upload"),
    path("facts/template.csv", views_facts.facts_template, name="entry_facts_template"),
]
