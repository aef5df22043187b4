"""CAPE declarations, refunds and exports (mounted at /cape/ by cape/urls.py)."""

from django.urls import path

from cape import views

urlpatterns = [
    path("", views.cape_home, name="cape_home"),
    path("declarations/<int:pk>/", views.declaration_detail, name="cape_declaration"),
    path("declarations/<int:pk>/preflight/", views.declaration_preflight_view, name="cape_declaration_preflight"),
    path("declarations/<int:pk>/download/", views.declaration_download, name="cape_declaration_download"),
    path("declarations/<int:pk>/submission/", views.declaration_submission, name="cape_declaration_submission"),
    path("declarations/<int:pk>/claim-details/", views.declaration_claim_details, name="cape_declaration_claim_details"),
    path("declarations/<int:pk>/outcome/", views.declaration_outcome, name="cape_declaration_outcome"),
    path("declarations/<int:pk>/discard/", views.declaration_discard_view, name="cape_declaration_discard"),
    path("declarations/refile/", views.refile, name="cape_refile"),
    path("refunds/", views.refunds_home, name="cape_refunds"),
    path("refunds/importers/<int:pk>/", views.refund_timeline_view, name="cape_refund_timeline"),
    path("exports/workbook.xlsx", views.export_workbook, name="cape_export_workbook"),
    path("exports/deadlines.ics", views.export_calendar, name="cape_export_calendar"),
]
