from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from licensing.models import Tenant
from licensing.services import scim_token_issue


class Command(BaseCommand):
    help = (
        "Issue the SCIM provisioning token of a tenant (revoking its previous one) and print "
        "the endpoint and the token (shown this once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="The tenant's initial domain.")
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="The portal's address as the identity provider reaches it.",
        )

    def handle(self, *args, tenant: str, url: str, **options) -> None:
        found = Tenant.objects.filter(initial_domain=tenant.strip().lower()).first()
        if found is None:
            raise CommandError(f"No tenant has the initial domain {tenant!r}.")
        _token, raw = scim_token_issue(tenant=found, actor="manage.py")
        self.stdout.write(f"SCIM endpoint: {url.rstrip('/')}/scim/v2/{found.public_id}/")
        self.stdout.write(f"Token: {raw}")
