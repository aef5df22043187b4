from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    """The top layer: pages and API that read every app (dashboard, portfolio, readiness, data export,
    audit log display). No models."""

    name = "portfolio"
    verbose_name = "Dashboards and portfolio"
