"""Data for `make load`: two tenants, one of 20,000 users and 200 groups, with admin accounts.

Users and memberships are directory data, bulk-inserted like a fixture; every license comes
from the services, so the rows are derived exactly as in production.
"""

from __future__ import annotations

import datetime
import json
import random
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from licensing import services
from licensing.models import (
    DirectoryUser,
    Group,
    GroupMembership,
    Product,
    Role,
    RoleAssignment,
    Tenant,
)
from licensing.seats import recount_members

PASSWORD = "load-test-password-2026"
SKUS = ["AAD_PREMIUM", "AAD_PREMIUM_P2", "ENTERPRISEPACK", "EMS", "POWER_BI_PRO"]


class Command(BaseCommand):
    help = "Build the load-test tenants and write the ids the load driver uses to a JSON file."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=20_000)
        parser.add_argument("--groups", type=int, default=200)
        parser.add_argument("--admins", type=int, default=25, help="Admin accounts per tenant.")
        parser.add_argument("--out", required=True)

    def handle(self, *args, users: int, groups: int, admins: int, out: str, **options) -> None:
        rng = random.Random(42)
        data = {}
        for n, (size, group_count) in enumerate(
            [(users, groups), (max(users // 10, 50), max(groups // 10, 5))], 1
        ):
            data[f"load{n}"] = self._tenant(n, size, group_count, admins, rng)
            self.stdout.write(f"Tenant load{n}: {size} users, {group_count} groups.")
        Path(out).write_text(json.dumps(data))

    def _tenant(self, n: int, size: int, group_count: int, admins: int, rng: random.Random) -> dict:
        domain = f"load{n}.onmicrosoft.com"
        tenant = Tenant.objects.create(name=f"Load {n}", initial_domain=domain, country="NL")
        products = [Product.objects.get(sku_part_number=s) for s in SKUS]
        for product in products:
            # Enough seats for most, not all: seat refusals and CountViolation happen under load.
            services.subscription_create(
                tenant=tenant,
                product=product,
                units=int(size * 0.6),
                start_date=datetime.date(2026, 1, 1),
                actor=None,
            )
        DirectoryUser.objects.bulk_create(
            [
                DirectoryUser(
                    tenant=tenant,
                    user_principal_name=f"user{i:05d}@{domain}",
                    display_name=f"Load User {i:05d}",
                    usage_location=rng.choice(["NL", "NL", "NL", "BE", "DE", ""]),
                )
                for i in range(size)
            ],
            batch_size=5000,
        )
        people = list(
            DirectoryUser.objects.filter(tenant=tenant).order_by("id").values_list("id", flat=True)
        )
        team = Group.objects.bulk_create(
            [Group(tenant=tenant, name=f"Team {g:03d}") for g in range(group_count)]
        )
        now = timezone.now()
        memberships = []
        for i, user_id in enumerate(people):
            for group in rng.sample(team, k=min(2, len(team))):
                memberships.append(
                    GroupMembership(
                        group=group,
                        user_id=user_id,
                        added_at=now + datetime.timedelta(microseconds=i),
                    )
                )
        GroupMembership.objects.bulk_create(memberships, batch_size=10_000, ignore_conflicts=True)
        recount_members(g.id for g in team)
        for g, group in enumerate(team[: group_count // 2]):
            services.group_assign_products(
                tenant=tenant, group=group, products={products[g % 3]: []}, actor=None
            )
        direct = DirectoryUser.objects.filter(id__in=people[: size // 10])
        services.product_assign_to_users(
            tenant=tenant, product=products[3], users=list(direct), actor=None
        )
        accounts = []
        for a in range(admins):
            account = get_user_model().objects.create_user(
                username=f"admin{a:02d}@{domain}", password=PASSWORD
            )
            RoleAssignment.objects.create(
                account=account, tenant=tenant, role=Role.GLOBAL_ADMINISTRATOR
            )
            accounts.append(account.username)
        sample = rng.sample(people, k=min(3000, len(people)))
        return {
            "accounts": accounts,
            "password": PASSWORD,
            "users": [
                str(u)
                for u in DirectoryUser.objects.filter(id__in=sample).values_list(
                    "public_id", flat=True
                )
            ],
            "groups": [str(g.public_id) for g in team],
            "products": [str(p.sku_id) for p in products],
        }
