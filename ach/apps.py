from django.apps import AppConfig


class AchConfig(AppConfig):
    name = "ach"
