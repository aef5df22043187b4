"""Hooks entries offers to the apps above it (issue #21: entries imports nothing of cape).

``entries_loaded``: an ES-003 upload's entries are committed and ask to be classified. Sent once per
processed upload, from the upload's ``transaction.on_commit`` callback, with ``upload_id``. cape connects
its receiver in ``CapeConfig.ready`` (cape/receivers.py): it records the upload's classification run as
queued and enqueues the task (cape.classify.queue_upload_classification). Sent with ``send`` (not
``send_robust``): a receiver's error reaches the caller, as the direct call did.
"""

from django.dispatch import Signal

entries_loaded = Signal()  # kwargs: upload_id
