from django.urls import path

from accounts import views
from accounts.login import LoginView, LogoutView

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("no-organization/", views.no_organization, name="no_organization"),
    path("switch/", views.switch_organization, name="switch_organization"),
    path("importers/", views.importer_list, name="importer_list"),
    path("importers/new/", views.importer_new, name="importer_new"),
    path("importers/<int:pk>/", views.importer_detail, name="importer_detail"),
    path("grants/<int:pk>/revoke/", views.grant_revoke_view, name="grant_revoke"),
    path("audit/", views.audit_log, name="audit_log"),
    path("settings/", views.my_settings, name="my_settings"),
]
