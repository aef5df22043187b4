"""Entries API: uploads (entries.api_uploads). The entries and their classifications are cape's
(cape.api_browse, cape.api_facts), mounted beside it at /api/ (portfolio/root_urls.py)."""

from django.urls import include, path

urlpatterns = [path("", include("entries.api_uploads"))]
