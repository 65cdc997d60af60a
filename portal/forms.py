"""The Assign blade's form: products, users and groups, options, preview."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.utils.translation import gettext as _

from licensing import selectors
from licensing.errors import LicensingError
from licensing.models import DirectoryUser, Group, Product, Tenant
from licensing.services.base import parse_guid, validate_disabled_plans


@dataclass
class AssignRequest:
    """What the admin picked so far, read from GET or POST; every id checked against the tenant."""

    tenant: Tenant | None = None
    products: list[Product] = field(default_factory=list)
    users: list[DirectoryUser] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    disabled: dict[int, list[str]] = field(default_factory=dict)
    kept: dict[int, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, tenant, data, *, catalog, products: list[Product]) -> AssignRequest:
        request = cls(tenant=tenant)
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
            request.users = selectors.users.picked_users(tenant=tenant, ids=data.getlist("user"))
            group_ids = [parse_guid(g) for g in data.getlist("group")]
            request.groups = selectors.groups.groups_by_ids(tenant=tenant, public_ids=group_ids)
            if len(request.groups) != len(set(group_ids)):
                raise LicensingError(_("A selected group was not found in this organization."))
        except LicensingError as refused:
            request.errors.append(str(refused))
            return request
        # The options as they were when the dialog opened (``kept-<sku>``: the plans off then),
        # carried while it is open: Cancel and Escape go back to them; elsewhere they are the
        # options now.
        cancel = data.get("action") == "cancel-options"
        open_now = data.get("open") == "options"
        for product in request.products:
            # Switches are "on" per plan: the disabled plans are the product's other plans.
            plans = catalog.product_plans.get(product.id, ())
            kept_key = f"kept-{product.sku_id}"
            kept = [p for p in plans if p in data.get(kept_key, "").split()]
            if cancel and kept_key in data:
                wanted_off = kept
            elif f"options-{product.sku_id}" in data:
                on = set(data.getlist(f"plan-{product.sku_id}"))
                wanted_off = [p for p in plans if p not in on]
            else:
                wanted_off = []
            try:
                request.disabled[product.id] = validate_disabled_plans(product, wanted_off, catalog)
            except LicensingError as refused:
                request.disabled[product.id] = wanted_off
                request.errors.append(f"{product.display_name}: {refused}")
            opened = open_now and not cancel and kept_key in data
            request.kept[product.id] = kept if opened else request.disabled[product.id]
        return request

    @cached_property
    def member_ids(self) -> set[int]:
        return selectors.users.member_ids(tenant=self.tenant, groups=self.groups)

    def preview(self, catalog) -> dict:
        """The review before committing: per product the services it leaves off, the seats it
        takes and those available (``short`` when too few; the seats are read only when a
        product is picked); the users picked, and the groups with their member counts. A user
        who holds the product already (any path) takes no new seat; a group's members count as
        its run would apply them."""
        counts = selectors.seats.seats(tenant=self.tenant) if self.products else {}
        everyone = {u.id for u in self.users} | self.member_ids
        holders = selectors.seats.seat_holders(
            tenant=self.tenant, products=self.products, user_ids=everyone
        )
        rows = []
        for product in self.products:
            c = counts.get(product.id, {"available": 0, "total": 0})
            needed = len({u for u in everyone if (u, product.id) not in holders})
            direct = len({u.id for u in self.users if (u.id, product.id) not in holders})
            # An over-assigned product has none available, never a negative number.
            available = max(c["available"], 0)
            rows.append(
                {
                    "product": product,
                    "off": [catalog.names[p] for p in self.disabled.get(product.id, [])],
                    "needed": needed,
                    "available": available,
                    "short": needed > available,
                    # The users picked directly must all get a seat, or nothing is assigned
                    # (docs/rules.md §6); a group's members beyond the seats are in error.
                    "refused": direct > available,
                }
            )
        members = selectors.groups.member_counts(tenant=self.tenant, groups=self.groups)
        return {
            "products": rows,
            "users": self.users,
            "groups": [{"group": g, "members": members.get(g.id, 0)} for g in self.groups],
            "short": any(r["short"] for r in rows),
            "refused": any(r["refused"] for r in rows),
        }

    def taking_tenant_location(self) -> dict:
        """The users who will take the organization's usage location (they have none): the
        first names and how many in all (``selectors.users.without_location``)."""
        ids = {u.id for u in self.users} | self.member_ids
        return selectors.users.without_location(tenant=self.tenant, ids=ids)


def picker_results(tenant, query: str, limit: int = 20) -> tuple[list[DirectoryUser], list[Group]]:
    """Users and groups matching what the admin typed: two queries, at most ``limit`` each."""
    return (
        selectors.users.active_users(tenant=tenant, search=query, limit=limit),
        selectors.groups.groups_named(tenant=tenant, search=query, limit=limit),
    )
