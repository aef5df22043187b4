"""Entries URLs: uploads (ES-003 ingestion). The entry list and detail (classification) and the facts file
are cape's (cape.urls_browse, cape.urls_facts), mounted beside these at /entries/ (portfolio/root_urls.py)."""

from django.urls import include, path

urlpatterns = [
    path("uploads/", include("entries.urls_uploads")),
]
