"""Hooks accounts offers to the apps above it (issue #21: accounts imports nothing of entries, ach or cape).

``importer_facts_changed``: an importer's CIT plaintiff status or paper-check waiver changed, facts the
ruleset reads. Sent inside the change's transaction with ``importer_ids`` and ``as_of`` (None: today,
U.S. Eastern). cape connects its receiver in ``CapeConfig.ready`` (cape/receivers.py): it classifies the
importers' entries again at once, in the same transaction, as the direct call did. Sent with ``send``: a
receiver's error reaches the caller (and rolls the change back).
"""

from django.dispatch import Signal

importer_facts_changed = Signal()  # kwargs: importer_ids, as_of
