"""Hooks cape offers to the apps above it (issue #21: cape imports neither portfolio nor protests).

``totals_warming``: after a background classification run, cape warms what the first pages read, under
the totals version about to be published (cape.selectors.refresh_totals). Sent with ``organization``,
``importers`` (every importer it sees, with ach_enrollment and notify_party selected) and ``as_of``;
portfolio's receiver warms the portfolio's readiness summaries (portfolio.dashboard.readiness_cached).
Sent inside refresh_totals' try: a receiver's failure is logged as a warming failure, as before.

``digest_sections``: the daily deadline digest (cape.classify.digest_send) asks the apps above for their
sections. Sent with ``organization`` and ``as_of``; each receiver returns a dict of template context
entries, each value with an ``is_empty`` attribute (protests: ``{"protest_alerts": ...}``). The digest is
sent when cape's own digest or any section has something to say.
"""

from django.dispatch import Signal

totals_warming = Signal()  # kwargs: organization, importers, as_of
digest_sections = Signal()  # kwargs: organization, as_of; receivers return {context name: section}
