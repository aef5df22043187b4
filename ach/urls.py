from django.urls import path

from ach import views

urlpatterns = [
    path("", views.ach_home, name="ach_home"),
    path("export.csv", views.ach_export, name="ach_export"),
    path("rev613/", views.ach_rev613, name="ach_rev613"),
    path("importers/<int:importer_id>/", views.ach_importer, name="ach_importer"),
    path("importers/<int:importer_id>/bank/", views.ach_enrollment_save, name="ach_enrollment_save"),
    path("importers/<int:importer_id>/entered/", views.ach_entered, name="ach_entered"),
    path("importers/<int:importer_id>/active/", views.ach_confirm_active, name="ach_confirm_active"),
    path("importers/<int:importer_id>/evidence/", views.ach_evidence, name="ach_evidence"),
    path("importers/<int:importer_id>/special-cases/", views.ach_special_cases, name="ach_special_cases"),
    path("importers/<int:importer_id>/notify-party/", views.ach_notify_party, name="ach_notify_party"),
    path("importers/<int:importer_id>/rejections/", views.ach_rejection_new, name="ach_rejection_new"),
    path("importers/<int:importer_id>/rejections/emailed/", views.ach_support_emailed, name="ach_support_emailed"),
    path("rejections/<int:pk>/resolve/", views.ach_rejection_resolve, name="ach_rejection_resolve"),
]
