"""portfolio's receivers of the hooks of the apps below it (connected in PortfolioConfig.ready)."""

from __future__ import annotations

from datetime import date
from typing import Any

from accounts.models import Importer, Organization
from portfolio.dashboard import readiness_cached


def warm_readiness(sender: Any, *, organization: Organization, importers: list[Importer], as_of: date, **kwargs: Any) -> None:
    """cape.signals.totals_warming: the portfolio's readiness summaries, cached under the version about to be published."""
    readiness_cached(organization, importers, as_of=as_of)
