"""CAPE URLs: declarations, refunds and exports (cape.urls_declarations), declaration build jobs."""

from django.urls import include, path

from cape import views

urlpatterns = [
    path("builds/<int:pk>/", views.build_job_detail, name="cape_build_job"),
    path("", include("cape.urls_declarations")),
]
