from django.apps import AppConfig


class ProtestsConfig(AppConfig):
    name = "protests"
    verbose_name = "Protests and court"

    def ready(self) -> None:
        from cape.signals import digest_sections
        from protests.receivers import digest_protest_alerts

        digest_sections.connect(digest_protest_alerts, dispatch_uid="protests.digest_protest_alerts")
