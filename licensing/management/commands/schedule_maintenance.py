from __future__ import annotations

from django.core.management.base import BaseCommand

from licensing.tasks import schedule_daily_maintenance, schedule_group_watch


class Command(BaseCommand):
    help = (
        "Schedule the daily maintenance task (subscription lifecycle, purge of deleted users) "
        "and the watch over group processing (resumes runs whose worker died) for the task "
        "worker. Idempotent; run it once at deploy."
    )

    def handle(self, *args, **options) -> None:
        when = schedule_daily_maintenance()
        if when is None:
            self.stdout.write(
                "Nothing scheduled: already waiting, or no task worker backend (TASKS_BACKEND)."
            )
        else:
            self.stdout.write(f"Daily maintenance scheduled for {when.isoformat()}.")
        if (watch := schedule_group_watch()) is not None:
            self.stdout.write(f"Group processing watch scheduled for {watch.isoformat()}.")
