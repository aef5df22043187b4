"""Entries URLs: uploads (ES-003 ingestion) and browsing (entry list/detail, classification)."""

from django.urls import include, path

urlpatterns = [
    path("", include("entries.urls_browse")),
    path("uploads/", include("entries.urls_uploads")),
]
