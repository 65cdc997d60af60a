from __future__ import annotations

from django.core.management.base import BaseCommand

from licensing.services import purge_expired_users


class Command(BaseCommand):
    help = (
        "Permanently delete users soft-deleted more than 30 days ago (audited); frees their seats."
    )

    def handle(self, *args, **options) -> None:
        purged = purge_expired_users(actor=None)
        for tenant, count in purged.items():
            self.stdout.write(f"{tenant.name}: {count} users deleted permanently")
        self.stdout.write(f"Purged {sum(purged.values())} users.")
