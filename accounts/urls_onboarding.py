"""Mounted at /onboarding/ (portfolio/root_urls.py). The readiness checklist pages are the top layer's
(portfolio.urls_onboarding, mounted at the same prefix)."""

from __future__ import annotations

from django.urls import path

from accounts import views_onboarding as views

urlpatterns = [
    path("", views.index, name="onboarding_index"),
    path("apply/", views.apply_start, name="onboarding_apply"),
    path("apply/verify/", views.apply_verify, name="onboarding_verify"),
    path("apply/resend/", views.apply_resend, name="onboarding_resend"),
    path("apply/back/", views.apply_back, name="onboarding_back"),
    path("apply/details/", views.apply_details, name="onboarding_details"),
    path("apply/authorize/", views.apply_authorize, name="onboarding_authorize"),
    path("apply/done/", views.apply_done, name="onboarding_done"),
    path("already-linked/", views.already_linked, name="onboarding_already_linked"),
    path("5106/", views.form5106_list, name="onboarding_5106_list"),
    path("5106/new/", views.form5106_new, name="onboarding_5106_new"),
    path("5106/import/", views.form5106_import, name="onboarding_5106_import"),
    path("5106/<int:pk>/", views.form5106_edit, name="onboarding_5106_edit"),
    path("5106/<int:pk>/confirm/", views.form5106_confirm, name="onboarding_5106_confirm"),
    path("readiness/<int:pk>/letter.pdf", views.subaccount_letter, name="onboarding_subaccount_letter"),
]
