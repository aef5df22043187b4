"""Dashboards: the importer dashboard, the broker portfolio, the exports page (mounted at /dashboard/)."""

from django.urls import path

from accounts import views

urlpatterns = [path("", views.dashboard, name="dashboard")]
