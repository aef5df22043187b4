"""The organisation's settings and API token (mounted at /organization/). Its own data (export everything,
delete everything) reads every app: portfolio.urls_org, mounted at the same prefix."""

from django.urls import path

from accounts import views_org

urlpatterns = [
    path("api-token/", views_org.api_token, name="api_token"),
    path("settings/", views_org.organization_settings, name="organization_settings"),
]
