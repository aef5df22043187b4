from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    """The top layer: pages and API that read every app (dashboard, portfolio, readiness, data export,
    audit log display). No models."""

    name = "portfolio"
    verbose_name = "Dashboards and portfolio"

    def ready(self) -> None:
        from cape.signals import totals_warming
        from portfolio.receivers import warm_readiness

        totals_warming.connect(warm_readiness, dispatch_uid="portfolio.warm_readiness")
