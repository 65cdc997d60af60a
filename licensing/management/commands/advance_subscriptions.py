from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError

from licensing.services import subscriptions_advance


class Command(BaseCommand):
    help = "Move subscriptions along Enabled → Warning (30 days) → Suspended (90 days) → deleted by their dates."

    def add_arguments(self, parser):
        parser.add_argument("--today", help="The date to advance to (YYYY-MM-DD); default today.")

    def handle(self, *args, today: str | None, **options) -> None:
        try:
            day = datetime.date.fromisoformat(today) if today else datetime.date.today()
        except ValueError:
            raise CommandError(f"--today must be a date like 2026-12-31, not {today!r}.") from None
        changes = subscriptions_advance(today=day)
        for line in changes:
            self.stdout.write(line)
        self.stdout.write(f"Subscriptions advanced: {len(changes)} steps.")
