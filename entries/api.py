"""Entries API: uploads (entries.api_uploads) and entries/classifications (entries.api_browse)."""

from django.urls import include, path

urlpatterns = [path("", include("entries.api_uploads")), path("", include("entries.api_browse")),
               path("", include("entries.api_facts"))]
