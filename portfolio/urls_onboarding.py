"""The readiness checklist pages (mounted at /onboarding/ beside accounts.urls_onboarding): the checklist
reads ACH, ES-003 and CAPE data."""

from django.urls import path

from portfolio import views

urlpatterns = [
    path("readiness/", views.readiness_list, name="onboarding_readiness"),
    path("readiness/<int:pk>/", views.readiness_detail, name="onboarding_readiness_detail"),
]
