from django.apps import AppConfig


class CapeConfig(AppConfig):
    name = "cape"

    def ready(self) -> None:
        # The hand-offs from the layers below (issue #21): an upload asks for classification, a refund
        # route change or an importer fact for reclassification. dispatch_uid: connected once however often ready() runs.
        from accounts.signals import importer_facts_changed
        from ach.signals import cape_duty_wanted, reclassification_requested
        from cape.receivers import (
            cape_duty_by_importer,
            classify_importers_now,
            classify_loaded_upload,
            reclassify_importers,
        )
        from cape.recovery import recover_interrupted_work
        from entries.signals import entries_loaded, work_recovering

        entries_loaded.connect(classify_loaded_upload, dispatch_uid="cape.classify_loaded_upload")
        reclassification_requested.connect(reclassify_importers, dispatch_uid="cape.reclassify_importers")
        importer_facts_changed.connect(classify_importers_now, dispatch_uid="cape.classify_importers_now")
        # A figure the ACH overview shows and the classifications know.
        cape_duty_wanted.connect(cape_duty_by_importer, dispatch_uid="cape.cape_duty_by_importer")
        # Recovery of what a dead worker left: entries recovers the uploads, cape its classifications and builds.
        work_recovering.connect(recover_interrupted_work, dispatch_uid="cape.recover_interrupted_work")
