from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from licensing.consistency import consistency_problems
from licensing.models import Product, Tenant
from licensing.seats import seat_counts


class Command(BaseCommand):
    help = (
        "Check every tenant: UserLicense rows equal a from-scratch recomputation, "
        "Assigned ≤ Total, nothing crosses tenants. Prints `consistency: ok` or the problems."
    )

    def handle(self, *args, **options) -> None:
        problems = []
        names = dict(Product.objects.values_list("id", "sku_part_number"))
        for tenant in Tenant.objects.order_by("id"):
            problems += [f"{tenant.name}: {p}" for p in consistency_problems(tenant)[:20]]
            for product_id, counts in seat_counts(tenant).items():
                if counts["assigned"] > counts["total"]:
                    problems.append(
                        f"{tenant.name}: {names[product_id]} assigned {counts['assigned']} > total {counts['total']}"
                    )
        if problems:
            for line in problems:
                self.stdout.write(line)
            self.stdout.write("consistency: FAILED")
            raise CommandError(f"{len(problems)} consistency problems")
        self.stdout.write("consistency: ok")
