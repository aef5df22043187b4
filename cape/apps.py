from django.apps import AppConfig


class CapeConfig(AppConfig):
    name = "cape"
