"""The demo data of the quick start: Contoso (about 300 users, groups with licenses, some
errors to look at) and a small Fabrikam, built through the services like real changes.

Idempotent: when Contoso exists, only the demo accounts are made sure of. Demo data is for
development only: the command refuses to run unless ``DEBUG`` is on, and it sets the public
demo password only on accounts it creates, never over an existing one.
"""

from __future__ import annotations

import datetime
import random

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from licensing import services
from licensing.models import (
    DirectoryUser,
    Product,
    Role,
    RoleAssignment,
    ServicePlan,
    SubscriptionStatus,
    Tenant,
    UserSource,
)

DEMO_PASSWORD = "contoso-demo-2026"
SUPPORT_USERNAME = "support"

FIRST = [
    "Adele",
    "Alex",
    "Allan",
    "Bianca",
    "Cameron",
    "Christie",
    "Debra",
    "Diego",
    "Emily",
    "Enrico",
    "Grady",
    "Henrietta",
    "Irvin",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Raul",
    "Sanne",
    "Daan",
    "Sem",
    "Lotte",
    "Fleur",
    "Bram",
    "Noor",
    "Ruben",
    "Femke",
    "Thijs",
    "Anouk",
    "Jesse",
    "Iris",
    "Luuk",
    "Eva",
    "Milan",
    "Sophie",
    "Wei",
    "Ming",
    "Hannah",
    "Lukas",
    "Amelie",
    "Jonas",
    "Marie",
    "Elif",
    "Yusuf",
    "Aisha",
    "Omar",
    "Priya",
    "Arjun",
    "Chloe",
    "Louis",
]
LAST = [
    "Vance",
    "Wilber",
    "Jansen",
    "de Vries",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Dijk",
    "Dekker",
    "Brouwer",
    "Archie",
    "Mueller",
    "Langer",
    "Lambert",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Graham",
    "Wilke",
    "Fernandez",
    "Gupta",
    "Schmidt",
    "Fischer",
    "Weber",
    "Wagner",
    "Becker",
    "Dubois",
    "Martin",
    "Chen",
    "Wang",
    "Li",
    "Zhang",
    "Yilmaz",
    "Kaya",
    "Khan",
    "Patel",
    "Singh",
    "Rossi",
    "Ferrari",
]


def _plan_ids(*names: str) -> list[str]:
    return [
        str(p)
        for p in ServicePlan.objects.filter(service_plan_name__in=names).values_list(
            "service_plan_id", flat=True
        )
    ]


class Command(BaseCommand):
    help = "Load the demo tenants Contoso and Fabrikam with users, groups and licenses."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port", type=int, default=8000, help="Port shown in the sign-in lines."
        )

    def handle(self, *args, port: int, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "load_demo creates accounts with a published password: it runs only with "
                "DEBUG=1 (the quick start). Nothing was changed."
            )
        with transaction.atomic():
            support = self._account(SUPPORT_USERNAME, staff=True)
            if Tenant.objects.filter(initial_domain="contoso.onmicrosoft.com").exists():
                self.stdout.write("Demo tenants already loaded; nothing changed.")
            else:
                self._contoso(support)
                self._fabrikam(support)
                self.stdout.write("Demo tenants Contoso and Fabrikam loaded.")
            contoso = Tenant.objects.get(initial_domain="contoso.onmicrosoft.com")
            fabrikam = Tenant.objects.get(initial_domain="fabrikam.onmicrosoft.com")
            # The printed account is the operator's support staff (Django admin) and also a
            # Global administrator of both demo tenants, so it opens the portal and can switch.
            for tenant in (contoso, fabrikam):
                RoleAssignment.objects.get_or_create(
                    account=support, tenant=tenant, defaults={"role": Role.GLOBAL_ADMINISTRATOR}
                )
            for username, tenant, role in [
                ("admin@contoso.onmicrosoft.com", contoso, Role.GLOBAL_ADMINISTRATOR),
                ("licenses@contoso.onmicrosoft.com", contoso, Role.LICENSE_ADMINISTRATOR),
                ("reader@contoso.onmicrosoft.com", contoso, Role.GLOBAL_READER),
                ("admin@fabrikam.onmicrosoft.com", fabrikam, Role.GLOBAL_ADMINISTRATOR),
            ]:
                RoleAssignment.objects.get_or_create(
                    account=self._account(username), tenant=tenant, defaults={"role": role}
                )
        self.stdout.write(
            "Other demo accounts (same password): admin@contoso.onmicrosoft.com (Global "
            "administrator), licenses@contoso.onmicrosoft.com (License administrator), "
            "reader@contoso.onmicrosoft.com (Global reader), admin@fabrikam.onmicrosoft.com."
        )
        self.stdout.write(f"URL: http://127.0.0.1:{port}/")
        self.stdout.write(f"Username: {SUPPORT_USERNAME}")
        if support.check_password(DEMO_PASSWORD):
            self.stdout.write(f"Password: {DEMO_PASSWORD}")
        else:
            self.stdout.write("Password: (the account's own; load_demo never changes it)")

    def _account(self, username: str, staff: bool = False):
        account, created = get_user_model().objects.get_or_create(
            username=username, defaults={"email": username if "@" in username else ""}
        )
        if created:
            account.set_password(DEMO_PASSWORD)
            account.is_staff = account.is_superuser = staff
            account.save()
        return account

    def _people(self, tenant: Tenant, count: int, rng: random.Random, actor) -> list[DirectoryUser]:
        people, seen = [], set()
        locations = ["NL"] * 10 + ["BE", "DE", "US", "GB", "CN", "FR"] + [""] * 4
        while len(people) < count:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            alias = f"{first}.{last}".lower().replace(" ", "")
            if alias in seen:
                continue
            seen.add(alias)
            people.append(
                services.user_create(
                    tenant=tenant,
                    user_principal_name=f"{alias}@{tenant.initial_domain}",
                    display_name=f"{first} {last}",
                    usage_location=rng.choice(locations),
                    source=UserSource.SYNCED if rng.random() < 0.35 else UserSource.CLOUD,
                    actor=actor,
                )
            )
        return people

    def _buy(self, tenant, sku, units, actor, status=SubscriptionStatus.ENABLED, days_left=365):
        today = datetime.date.today()
        services.subscription_create(
            tenant=tenant,
            product=Product.objects.get(sku_part_number=sku),
            units=units,
            status=status,
            start_date=today - datetime.timedelta(days=365 - days_left),
            next_lifecycle_date=today + datetime.timedelta(days=days_left),
            actor=actor,
        )

    def _contoso(self, actor) -> None:
        rng = random.Random(2026)
        tenant = Tenant.objects.create(
            name="Contoso", initial_domain="contoso.onmicrosoft.com", country="NL"
        )
        for sku, units in [
            ("AAD_FREE", 1),
            ("AAD_PREMIUM", 100),
            ("AAD_PREMIUM_P2", 150),
            ("ENTERPRISEPACK", 160),
            ("STANDARDPACK", 60),
            ("EMS", 60),
            ("POWER_BI_PRO", 25),
            ("EXCHANGEARCHIVE_ADDON", 20),
        ]:
            self._buy(tenant, sku, units, actor)
        self._buy(
            tenant, "AAD_PREMIUM_P2", 50, actor, status=SubscriptionStatus.WARNING, days_left=12
        )
        self._buy(tenant, "ENTERPRISEPACK", 10, actor, days_left=21)

        people = self._people(tenant, 300, rng, actor)
        sku = {p.sku_part_number: p for p in Product.objects.all()}
        groups = {}
        for name, description in [
            ("Sales", "Account managers and sales support"),
            ("Engineering", "Product engineering; also enrolled in device management"),
            ("Security admins", "Identity protection and privileged access"),
            ("Analysts", "Power BI report authors"),
            ("Frontline", "Shop floor and service desk"),
            ("All staff", "Everyone, for announcements"),
        ]:
            groups[name] = services.group_create(
                tenant=tenant, name=name, description=description, actor=actor
            )

        engineering = people[60:160]
        members = {
            "Sales": people[0:60],
            "Engineering": engineering,
            "Security admins": people[150:162],
            "Analysts": people[100:132],
            "Frontline": people[200:250],
            "All staff": people,
        }
        for name, who in members.items():
            services.group_add_members(tenant=tenant, group=groups[name], users=who, actor=actor)

        # Two Engineering members already hold Office 365 E1 directly: their inherited E3
        # conflicts (Exchange and SharePoint plans are mutually exclusive).
        services.product_assign_to_users(
            tenant=tenant, product=sku["STANDARDPACK"], users=people[60:62], actor=actor
        )
        services.group_assign_products(
            tenant=tenant, group=groups["Sales"], products={sku["ENTERPRISEPACK"]: []}, actor=actor
        )
        # 100 members, 60 EMS seats: the members after the first 60 get CountViolation.
        services.group_assign_products(
            tenant=tenant,
            group=groups["Engineering"],
            products={sku["ENTERPRISEPACK"]: [], sku["EMS"]: []},
            actor=actor,
        )
        services.group_assign_products(
            tenant=tenant,
            group=groups["Security admins"],
            products={sku["AAD_PREMIUM_P2"]: []},
            actor=actor,
        )
        services.group_assign_products(
            tenant=tenant, group=groups["Analysts"], products={sku["POWER_BI_PRO"]: []}, actor=actor
        )
        services.group_assign_products(
            tenant=tenant,
            group=groups["Frontline"],
            products={sku["STANDARDPACK"]: _plan_ids("YAMMER_ENTERPRISE")},
            actor=actor,
        )
        services.product_assign_to_users(
            tenant=tenant, product=sku["AAD_PREMIUM_P2"], users=people[0:120], actor=actor
        )
        services.product_assign_to_users(
            tenant=tenant,
            product=sku["AAD_PREMIUM"],
            users=people[250:290],
            disabled_plans=_plan_ids("ADALLOM_S_DISCOVERY"),
            actor=actor,
        )
        services.product_assign_to_users(
            tenant=tenant, product=sku["EXCHANGEARCHIVE_ADDON"], users=people[0:10], actor=actor
        )
        leaver = next(p for p in people[0:60] if p.source == UserSource.SYNCED)
        services.user_soft_delete(
            tenant=tenant, user=leaver, actor=actor, reason="Left the synchronization scope"
        )

    def _fabrikam(self, actor) -> None:
        rng = random.Random(7)
        tenant = Tenant.objects.create(
            name="Fabrikam", initial_domain="fabrikam.onmicrosoft.com", country="US"
        )
        self._buy(tenant, "AAD_PREMIUM", 10, actor)
        people = self._people(tenant, 20, rng, actor)
        everyone = services.group_create(tenant=tenant, name="Everyone", actor=actor)
        services.group_add_members(tenant=tenant, group=everyone, users=people, actor=actor)
        services.group_assign_products(
            tenant=tenant,
            group=everyone,
            products={Product.objects.get(sku_part_number="AAD_PREMIUM"): []},
            actor=actor,
        )
