from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from licensing.errors import LicensingError
from licensing.models import Tenant
from licensing.services.sync import sync_directory


class Command(BaseCommand):
    help = (
        "Import a directory export (CSV: userPrincipalName,displayName,usageLocation,"
        "accountEnabled[,department,jobTitle,onPremisesImmutableId]) as the tenant's synced users."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="The tenant's initial domain.")
        parser.add_argument("file", nargs="?", help="The CSV export.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would change; change nothing."
        )
        parser.add_argument(
            "--remove-sync",
            action="store_true",
            help="Synchronization was removed: soft-delete every synced user.",
        )

    def handle(
        self, *args, tenant: str, file: str | None, dry_run: bool, remove_sync: bool, **options
    ) -> None:
        try:
            target = Tenant.objects.get(initial_domain__iexact=tenant)
        except Tenant.DoesNotExist:
            raise CommandError(f"No tenant with the initial domain {tenant}.") from None
        if remove_sync == bool(file):
            raise CommandError("Give either a file or --remove-sync.")
        data = None
        if file:
            try:
                data = Path(file).read_bytes()
            except OSError as error:
                raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            result = sync_directory(
                tenant=target, data=data, actor=None, dry_run=dry_run, remove_sync=remove_sync
            )
        except LicensingError as refused:
            raise CommandError(str(refused)) from None
        if dry_run:
            self.stdout.write("Dry run: nothing was changed. These changes would be made:")
            for line in result.plan.describe():
                self.stdout.write(f"  {line}")
        summary = ", ".join(f"{k}: {v}" for k, v in result.plan.summary().items())
        self.stdout.write(("Would change: " if dry_run else "Synchronized: ") + summary)
