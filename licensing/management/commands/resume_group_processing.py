from __future__ import annotations

from django.core.management.base import BaseCommand

from licensing.processing import resume_stalled_groups


class Command(BaseCommand):
    help = (
        "Start a new run for every group whose processing stalled (queued or in progress with "
        "no progress for GROUP_PROCESSING_STALL_SECONDS): for cron where no worker schedules "
        "the watch itself."
    )

    def handle(self, *args, **options) -> None:
        resumed = resume_stalled_groups()
        for group in resumed:
            self.stdout.write(f"Resumed processing of {group.name} ({group.tenant.name}).")
        self.stdout.write(f"{len(resumed)} group(s) resumed.")
