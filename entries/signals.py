"""Hooks entries offers to the apps above it (issue #21: entries imports nothing of cape).

``entries_loaded``: an ES-003 upload's entries are committed and ask to be classified. Sent once per
processed upload, from the upload's ``transaction.on_commit`` callback, with ``upload_id``. cape connects
its receiver in ``CapeConfig.ready`` (cape/receivers.py): it records the upload's classification run as
queued and enqueues the task (cape.classify.queue_upload_classification). Sent with ``send`` (not
``send_robust``): a receiver's error reaches the caller, as the direct call did.

``work_recovering``: entries.recovery.interrupted_work_recover (beat, and once at worker start) has
recovered the uploads a dead worker left behind; the apps above recover their own work. Sent with
``result`` (the RecoveryResult to fill in), ``stale_after`` and ``locked_stale_after`` (the grace period
for work without a liveness lock, and for work with one). cape receives it (cape/recovery.py):
the undone classifications and the declaration builds left running.
"""

from django.dispatch import Signal

entries_loaded = Signal()  # kwargs: upload_id
work_recovering = Signal()  # kwargs: result, stale_after, locked_stale_after
