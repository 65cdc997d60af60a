from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from licensing.errors import LicensingError
from licensing.models import Tenant
from licensing.services import app_register


class Command(BaseCommand):
    help = (
        "Register an app for the Graph-compatible API in a tenant and print its Tenant ID, "
        "Client ID and Client secret (shown this once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="The tenant's initial domain.")
        parser.add_argument("--name", required=True, help="The app's name.")
        parser.add_argument(
            "--read-only",
            action="store_true",
            help="Directory.Read.All (read only) instead of LicenseAssignment.ReadWrite.All.",
        )

    def handle(self, *args, tenant: str, name: str, read_only: bool, **options) -> None:
        found = Tenant.objects.filter(initial_domain=tenant.strip().lower()).first()
        if found is None:
            raise CommandError(f"No tenant has the initial domain {tenant!r}.")
        try:
            app, secret = app_register(
                tenant=found, name=name, read_only=read_only, actor="manage.py"
            )
        except LicensingError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Tenant ID: {found.public_id}")
        self.stdout.write(f"Client ID: {app.client_id}")
        self.stdout.write(f"Client secret: {secret}")
