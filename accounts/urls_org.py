"""The organisation's own data: export everything, delete everything (mounted at /organization/)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
