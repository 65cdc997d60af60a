"""The Assign blade's form: products, users and groups, options, preview."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Q
from django.utils.translation import gettext as _

from licensing.errors import LicensingError
from licensing.models import DirectoryUser, Group, Product, UserLicense
from licensing.rules import Catalog
from licensing.services.base import get_users, parse_guid, validate_disabled_plans


@dataclass
class AssignRequest:
    """What the admin picked so far, read from GET or POST; every id checked against the tenant."""

    products: list[Product] = field(default_factory=list)
    users: list[DirectoryUser] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    disabled: dict[int, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, tenant, data, *, catalog: Catalog, products: list[Product]) -> AssignRequest:
        request = cls()
        owned = {str(p.sku_id): p for p in products}
        try:
            for sku in data.getlist("product"):
                key = str(parse_guid(sku))
                if key not in owned:
                    raise LicensingError(
                        _("Your organization has no subscription for this product.")
                    )
                request.products.append(owned[key])
            request.products = list(dict.fromkeys(request.products))
            request.users = get_users(tenant, data.getlist("user"))
            group_ids = [parse_guid(g) for g in data.getlist("group")]
            request.groups = list(
                Group.objects.filter(tenant=tenant, public_id__in=group_ids).order_by("name")
            )
            if len(request.groups) != len(set(group_ids)):
                raise LicensingError(_("A selected group was not found in this organization."))
        except LicensingError as refused:
            request.errors.append(str(refused))
            return request
        for product in request.products:
            # Switches are "on" per plan: the disabled plans are the product's other plans.
            plans = catalog.product_plans.get(product.id, ())
            if f"options-{product.sku_id}" in data:
                on = set(data.getlist(f"plan-{product.sku_id}"))
                wanted_off = [p for p in plans if p not in on]
            else:
                wanted_off = []
            try:
                request.disabled[product.id] = validate_disabled_plans(product, wanted_off, catalog)
            except LicensingError as refused:
                request.disabled[product.id] = wanted_off
                request.errors.append(f"{product.display_name}: {refused}")
        return request

    @cached_property
    def member_ids(self) -> set[int]:
        if not self.groups:
            return set()
        return set(
            DirectoryUser.objects.filter(memberships__group__in=self.groups).values_list(
                "id", flat=True
            )
        )

    def preview(self, counts: dict[int, dict]) -> list[dict]:
        """Seats this assignment uses and what remains, per product, before committing."""
        everyone = {u.id for u in self.users} | self.member_ids
        holders = set(
            UserLicense.objects.filter(product__in=self.products, user_id__in=everyone)
            .holding_seats()
            .values_list("user_id", "product_id")
        )
        rows = []
        for product in self.products:
            c = counts.get(product.id, {"available": 0, "total": 0})
            needed = len({u for u in everyone if (u, product.id) not in holders})
            rows.append(
                {
                    "product": product,
                    "needed": needed,
                    "available": c["available"],
                    "remaining": c["available"] - needed,
                    "short": needed > c["available"],
                }
            )
        return rows

    def taking_tenant_location(self) -> list[DirectoryUser]:
        """The users who will take the organization's usage location (they have none)."""
        ids = {u.id for u in self.users} | self.member_ids
        if not ids:
            return []
        return list(
            DirectoryUser.objects.filter(id__in=ids, usage_location="").order_by("display_name")[
                :50
            ]
        )


def picker_results(tenant, query: str, limit: int = 20) -> tuple[list[DirectoryUser], list[Group]]:
    """Users and groups matching what the admin typed: two queries, at most ``limit`` each."""
    users = DirectoryUser.objects.active().filter(tenant=tenant)
    groups = Group.objects.filter(tenant=tenant)
    if query:
        users = users.filter(
            Q(display_name__icontains=query) | Q(user_principal_name__icontains=query)
        )
        groups = groups.filter(name__icontains=query)
    return list(users.order_by("display_name")[:limit]), list(groups.order_by("name")[:limit])
