"""protests' receivers of the hooks of the apps below it (connected in ProtestsConfig.ready)."""

from __future__ import annotations

from datetime import date
from typing import Any

from accounts.models import Organization
from protests.selectors import protest_alerts


def digest_protest_alerts(sender: Any, *, organization: Organization, as_of: date, **kwargs: Any) -> dict[str, Any]:
    """cape.signals.digest_sections: the digest's protest and court lines (unfiled protests within 30 days,
    CIT limits within 90)."""
    return {"protest_alerts": protest_alerts(organization, as_of=as_of)}
