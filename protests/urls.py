"""Protests and the court path (mounted at /protests/)."""

from django.urls import path

from protests import views

urlpatterns = [
    path("", views.protests_home, name="protests_home"),
    path("reason/", views.organization_reason, name="protests_reason"),
    path("<int:pk>/", views.protest_detail, name="protest_detail"),
    path("<int:pk>/spreadsheet.xlsx", views.protest_download, {"kind": "xlsx"}, name="protest_spreadsheet_xlsx"),
    path("<int:pk>/spreadsheet.csv", views.protest_download, {"kind": "csv"}, name="protest_spreadsheet_csv"),
    path("<int:pk>/form19.pdf", views.protest_download, {"kind": "pdf"}, name="protest_form19"),
    path("<int:pk>/reason.txt", views.protest_download, {"kind": "txt"}, name="protest_reason_text"),
    path("<int:pk>/reason/", views.protest_reason, name="protest_reason_edit"),
    path("<int:pk>/filing/", views.protest_filing, name="protest_filing"),
    path("<int:pk>/decision/", views.protest_decision, name="protest_decision"),
    path("<int:pk>/discard/", views.protest_discard_view, name="protest_discard"),
    path("counsel/<int:pk>/packet.xlsx", views.counsel_download, {"kind": "xlsx"}, name="counsel_packet_xlsx"),
    path("counsel/<int:pk>/packet.pdf", views.counsel_download, {"kind": "pdf"}, name="counsel_packet_pdf"),
]
