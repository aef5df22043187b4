"""Entries and their classifications (cape.api_browse) and the facts file (cape.api_facts): mounted at /api/."""

from django.urls import include, path

urlpatterns = [path("", include("cape.api_browse")), path("", include("cape.api_facts"))]
