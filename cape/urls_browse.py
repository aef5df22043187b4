"""Entry browsing pages (classification capability)."""

from django.urls import path

from cape import views_browse

urlpatterns = [
    path("", views_browse.entry_list, name="entry_list"),
    path("<int:pk>/", views_browse.entry_detail, name="entry_detail"),
    path("reclassifying/", views_browse.entry_reclassifying, name="entry_reclassifying"),
]
