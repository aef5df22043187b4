from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.login import LoginView, LogoutView, PasswordChangeView, PasswordResetConfirmView, PasswordResetView

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    # Django's password change and reset flows, under the names its views reverse.
    path("password/change/", PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/",
         auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html"),
         name="password_change_done"),
    path("password/reset/", PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/",
         auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
         name="password_reset_done"),
    path("password/reset/complete/",
         auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
         name="password_reset_complete"),
    path("password/reset/<uidb64>/<token>/", PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("no-organization/", views.no_organization, name="no_organization"),
    path("switch/", views.switch_organization, name="switch_organization"),
    path("importers/", views.importer_list, name="importer_list"),
    path("importers/new/", views.importer_new, name="importer_new"),
    path("importers/<int:pk>/", views.importer_detail, name="importer_detail"),
    path("importers/<int:pk>/facts/", views.importer_facts, name="importer_facts"),
    path("importers/<int:pk>/assign/", views.importer_assign_view, name="importer_assign"),
    path("importers/<int:pk>/notes/", views.importer_note_new, name="importer_note_new"),
    path("importers/<int:pk>/notes/<int:note_pk>/done/", views.importer_note_done, name="importer_note_done"),
    path("grants/<int:pk>/revoke/", views.grant_revoke_view, name="grant_revoke"),
    path("settings/", views.my_settings, name="my_settings"),
]
