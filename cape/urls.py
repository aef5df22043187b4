"""CAPE URLs: declarations, refunds and exports (cape.urls_declarations)."""

from django.urls import include, path

urlpatterns = [path("", include("cape.urls_declarations"))]
