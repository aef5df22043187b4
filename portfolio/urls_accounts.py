"""The audit log (mounted at /accounts/ beside accounts.urls): its rows link to pages of every app."""

from django.urls import path

from portfolio import views

urlpatterns = [
    path("audit/", views.audit_log, name="audit_log"),
]
