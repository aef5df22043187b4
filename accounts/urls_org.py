"""The organisation's own data: export everything, delete everything (mounted at /organization/)."""

from django.urls import path

from accounts import views_org

urlpatterns = [
    path("data/", views_org.organization_data, name="organization_data"),
    path("data/export.zip", views_org.organization_export_view, name="organization_export"),
    path("api-token/", views_org.api_token, name="api_token"),
    path("settings/", views_org.organization_settings, name="organization_settings"),
]
