from django.urls import path

from entries import views_upload as views

urlpatterns = [
    path("", views.upload_list, name="upload_list"),
    path("new/", views.upload_new, name="upload_new"),
    path("<int:pk>/", views.upload_detail, name="upload_detail"),
    path("<int:pk>/errors.csv", views.upload_errors, name="upload_errors"),
]
