"""Dashboards: the importer dashboard, the broker portfolio, the exports page (mounted at /dashboard/)."""

from django.urls import path

from portfolio import views_dashboard as views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("importers/<int:pk>/", views.client_dashboard, name="client_dashboard"),
    path("portfolio.xlsx", views.portfolio_export, name="portfolio_export"),
    path("exports/", views.exports, name="exports"),
]
