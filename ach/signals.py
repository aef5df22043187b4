"""Hooks ach offers to the apps above it (issue #21: ach imports nothing of cape).

``reclassification_requested``: a change to an importer's refund route (ACH enrollment, 4811 notify party,
their special cases) can move its entries' paths (the ``no_ach_refund`` reason), so every entry of these
importers asks to be classified again. Sent inside the change's transaction with ``organization`` (the
first organisation that sees one of them) and ``importer_ids`` (sorted, distinct). cape connects its
receiver in ``CapeConfig.ready`` (cape/receivers.py): a queued run, shown at once as "reclassifying…" and
run on commit (cape.classify.reclassify_later). Sent with ``send``: a receiver's error reaches the caller.

``cape_duty_wanted``: the ACH overview (ach.selectors.ach_overview: the ACH page and its CSV export) shows
the IEEPA duty on CAPE paths per importer, which the classifications (cape) know. Sent with
``importer_ids``; cape's receiver returns ``{importer_id: (IEEPA duty on CAPE paths, entries)}`` for the
importers that have any (cape/receivers.py). An importer missing from every answer has none.
"""

from django.dispatch import Signal

reclassification_requested = Signal()  # kwargs: organization, importer_ids
cape_duty_wanted = Signal()  # kwargs: importer_ids; receivers return {importer_id: (Decimal, int)}
