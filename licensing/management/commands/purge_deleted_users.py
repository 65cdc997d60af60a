from __future__ import annotations

from django.core.management.base import BaseCommand

from licensing.models import Tenant
from licensing.services import users_purge_expired


class Command(BaseCommand):
    help = (
        "Permanently delete users soft-deleted more than 30 days ago (audited); frees their seats."
    )

    def handle(self, *args, **options) -> None:
        total = 0
        for tenant in Tenant.objects.order_by("name"):
            purged = users_purge_expired(tenant=tenant, actor=None)
            if purged:
                self.stdout.write(f"{tenant.name}: {purged} users deleted permanently")
            total += purged
        self.stdout.write(f"Purged {total} users.")
