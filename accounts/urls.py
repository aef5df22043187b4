from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.login import LoginView

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("no-organization/", views.no_organization, name="no_organization"),
    path("switch/", views.switch_organization, name="switch_organization"),
    path("importers/", views.importer_list, name="importer_list"),
    path("importers/new/", views.importer_new, name="importer_new"),
    path("importers/<int:pk>/", views.importer_detail, name="importer_detail"),
    path("importers/<int:pk>/facts/", views.importer_facts, name="importer_facts"),
    path("grants/<int:pk>/revoke/", views.grant_revoke_view, name="grant_revoke"),
    path("audit/", views.audit_log, name="audit_log"),
    path("settings/", views.my_settings, name="my_settings"),
]
