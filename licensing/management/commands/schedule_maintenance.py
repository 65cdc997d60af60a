from __future__ import annotations

from django.core.management.base import BaseCommand

from licensing.tasks import schedule_daily_maintenance


class Command(BaseCommand):
    help = (
        "Schedule the daily maintenance task (subscription lifecycle, purge of deleted users) "
        "for the task worker. Idempotent; run it once at deploy."
    )

    def handle(self, *args, **options) -> None:
        when = schedule_daily_maintenance()
        if when is None:
            self.stdout.write(
                "Nothing scheduled: already waiting, or no task worker backend (TASKS_BACKEND)."
            )
        else:
            self.stdout.write(f"Daily maintenance scheduled for {when.isoformat()}.")
