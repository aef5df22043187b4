"""The organisation's own data: export everything, delete everything (mounted at /organization/ beside
accounts.urls_org): the export and the deletion reach every app's tables."""

from django.urls import path

from portfolio import views

urlpatterns = [
    path("data/", views.organization_data, name="organization_data"),
    path("data/export.zip", views.organization_export_view, name="organization_export"),
]
