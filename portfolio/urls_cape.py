"""The readiness PDF (mounted at /cape/ beside cape.urls): it reads the readiness checklist (every app)."""

from django.urls import path

from portfolio import views

urlpatterns = [
    path("exports/importers/<int:pk>/readiness.pdf", views.export_readiness, name="cape_export_readiness"),
]
