from django.apps import AppConfig


class ProtestsConfig(AppConfig):
    name = "protests"
    verbose_name = "Protests and court"
