"""Graph's JSON shapes of our objects (docs/api.md), built from plain queries per page."""

from __future__ import annotations

import json
from collections import defaultdict

from django.db.models import CharField, DateTimeField, TextField, UUIDField, Value
from django.db.models.functions import Cast

from licensing.models import (
    SEAT_STATES,
    DirectoryUser,
    Group,
    LicenseAssignment,
    Product,
    Subscription,
    SubscriptionStatus,
    TenantProduct,
    UserLicense,
)
from licensing.queries import tenant_products
from licensing.rules import Catalog


def stamp(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


# -- subscribedSku -----------------------------------------------------------------------------


def subscribed_skus(tenant, products: list[Product] | None = None) -> list[dict]:
    products = tenant_products(tenant) if products is None else products
    ids = [p.id for p in products]
    units: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    subscriptions: dict[int, list[str]] = defaultdict(list)
    for product_id, status, n, public_id in Subscription.objects.filter(
        tenant=tenant, product_id__in=ids
    ).values_list("product_id", "status", "units", "public_id"):
        units[product_id][status] += n
        subscriptions[product_id].append(str(public_id))
    consumed = dict(
        TenantProduct.objects.filter(tenant=tenant, product_id__in=ids).values_list(
            "product_id", "assigned"
        )
    )
    plans = _plans(ids)
    result = []
    for p in products:
        u = units[p.id]
        status = next(
            (
                s
                for s in (
                    SubscriptionStatus.ENABLED,
                    SubscriptionStatus.WARNING,
                    SubscriptionStatus.SUSPENDED,
                )
                if u[s]
            ),
            SubscriptionStatus.LOCKED_OUT,
        )
        result.append(
            {
                "accountId": str(tenant.public_id),
                "accountName": tenant.name,
                "appliesTo": p.applies_to,
                "capabilityStatus": str(status),
                "consumedUnits": consumed.get(p.id, 0),
                "id": f"{tenant.public_id}_{p.sku_id}",
                "skuId": str(p.sku_id),
                "skuPartNumber": p.sku_part_number,
                "subscriptionIds": subscriptions[p.id],
                "prepaidUnits": {
                    "enabled": u[SubscriptionStatus.ENABLED],
                    "suspended": u[SubscriptionStatus.SUSPENDED],
                    "warning": u[SubscriptionStatus.WARNING],
                    "lockedOut": u[SubscriptionStatus.LOCKED_OUT],
                },
                "servicePlans": [_plan(p, plan_id, name) for plan_id, name in plans[p.id]],
            }
        )
    return result


def _plans(product_ids) -> dict[int, list[tuple[str, str]]]:
    """(plan GUID, plan name) per product, in the product's order, in one query."""
    plans = defaultdict(list)
    for product_id, plan_id, name in (
        Product.service_plans.through.objects.filter(product_id__in=product_ids)
        .order_by("product_id", "position")
        .values_list(
            "product_id", "service_plan__service_plan_id", "service_plan__service_plan_name"
        )
    ):
        plans[product_id].append((str(plan_id), name))
    return plans


def _plan(product: Product, plan_id: str, name: str, *, disabled=()) -> dict:
    return {
        "servicePlanId": plan_id,
        "servicePlanName": name,
        "provisioningStatus": "Disabled" if plan_id in disabled else "Success",
        "appliesTo": product.applies_to,
    }


# -- user ---------------------------------------------------------------------------------------

USER_DEFAULT = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
]
# Each plain property: the column it reads (None: Graph's value for what we do not keep) and
# how it is written.
USER_PLAIN = {
    "id": ("public_id", str),
    "displayName": ("display_name", None),
    "userPrincipalName": ("user_principal_name", None),
    "usageLocation": ("usage_location", lambda v: str(v or "") or None),
    "accountEnabled": ("account_enabled", None),
    "department": ("department", lambda v: v or None),
    "jobTitle": ("job_title", lambda v: v or None),
    "createdDateTime": ("created_at", stamp),
    "onPremisesImmutableId": ("on_premises_immutable_id", lambda v: v or None),
    "businessPhones": (None, lambda v: []),
    "givenName": (None, None),
    "surname": (None, None),
    "mail": (None, None),
    "mobilePhone": (None, None),
    "officeLocation": (None, None),
    "preferredLanguage": (None, None),
}
USER_LICENSING = {"assignedLicenses", "assignedPlans", "licenseAssignmentStates"}
USER_FIELDS = set(USER_PLAIN) | USER_LICENSING


def user_columns(fields: list[str]) -> list[str]:
    """The ``DirectoryUser`` columns these properties read (``id`` always: the page's key)."""
    wanted = {USER_PLAIN[name][0] for name in fields if name in USER_PLAIN}
    return ["id", *sorted(c for c in wanted if c)]


def users(people: list, fields: list[str]) -> list[dict]:
    """Users in Graph's shape with these properties: ``people`` are rows of
    ``user_columns(fields)`` (a page of 999 needs no model instances) or users; the licensing
    properties come from one more query."""
    columns = user_columns(fields)
    people = [u if isinstance(u, dict) else {c: getattr(u, c) for c in columns} for u in people]
    licensing = USER_LICENSING.intersection(fields)
    rows = _license_rows([u["id"] for u in people], licensing) if licensing else {}
    catalog = Catalog.load() if "assignedPlans" in licensing else None
    plain = [(name, *USER_PLAIN[name]) for name in fields if name in USER_PLAIN]
    result = []
    for u in people:
        item = {}
        for name, column, write in plain:
            value = u[column] if column else None
            item[name] = write(value) if write else value
        if licensing:
            item.update(_licensing(rows.get(u["id"], ()), licensing, catalog))
        result.append(item)
    return result


def _license_rows(user_ids: list[int], wanted: set[str]) -> dict[int, list[tuple]]:
    """The license rows of these users that the ``wanted`` properties show, in one query:
    (user id, SKU id as text, product id, group id, disabled plans, state, error, last
    updated). Only ``licenseAssignmentStates`` shows rows without a seat, groups and errors;
    only it and ``assignedPlans`` show times. Disabled plans come as text, decoded where there
    are any: a walk of 100,000 users mostly has none."""
    every_path = "licenseAssignmentStates" in wanted
    dated = every_path or "assignedPlans" in wanted
    found = UserLicense.objects.all()
    if user_ids and max(user_ids) - min(user_ids) < 2 * len(user_ids):
        # A page of users with ids close together (a walk of the directory): a range is far
        # cheaper to send than 999 ids; rows of users between them not on the page are left.
        found = found.filter(user_id__gte=min(user_ids), user_id__lte=max(user_ids))
    else:
        found = found.filter(user_id__in=user_ids)
    if not every_path:
        found = found.filter(state__in=SEAT_STATES)
    found = list(
        found.order_by("user_id", "product_id", "id")
        .annotate(plans=Cast("disabled_plans", TextField()))
        .values_list(
            "user_id",
            "product_id",
            "via_group__public_id" if every_path else Value(None, UUIDField()),
            "plans",
            "state",
            "error" if every_path else Value("", CharField()),
            "last_updated" if dated else Value(None, DateTimeField()),
        )
    )
    # The few products' SKU ids once, not a join and a UUID per row.
    skus = {
        product_id: str(sku)
        for product_id, sku in Product.objects.filter(id__in={row[1] for row in found}).values_list(
            "id", "sku_id"
        )
    }
    rows: dict[int, list[tuple]] = {user_id: [] for user_id in user_ids}
    for user_id, product_id, group, plans, state, error, updated in found:
        mine = rows.get(user_id)
        if mine is not None:
            mine.append(
                (
                    user_id,
                    skus[product_id],
                    product_id,
                    group,
                    json.loads(plans) if plans != "[]" else (),
                    state,
                    error,
                    updated,
                )
            )
    return rows


def _held(rows: list[tuple]) -> dict:
    """The products a user holds a seat of, from their rows: {sku: [product id, plans off,
    held since]}. A plan is on if any path turns it on: off only where every path has it
    off."""
    held: dict = {}
    for _, sku, product_id, _, plans, state, _, updated in rows:
        if state in SEAT_STATES:
            if sku in held:
                held[sku][1] &= set(plans)
                held[sku][2] = min(held[sku][2], updated) if updated else None
            else:
                held[sku] = [product_id, set(plans), updated]
    return held


def _licensing(rows: list[tuple], wanted: set[str], catalog: Catalog | None) -> dict:
    if wanted == {"assignedLicenses"} and len(rows) == len({row[1] for row in rows}):
        # The common walk: one seat row per product, nothing to merge.
        return {
            "assignedLicenses": [
                {"disabledPlans": sorted(row[4]) if row[4] else [], "skuId": row[1]} for row in rows
            ]
        }
    held = _held(rows)
    item = {}
    if "assignedLicenses" in wanted:
        item["assignedLicenses"] = [
            {"disabledPlans": sorted(off) if off else [], "skuId": sku}
            for sku, (_, off, _) in held.items()
        ]
    if "assignedPlans" in wanted:
        item["assignedPlans"] = [
            {
                "assignedDateTime": stamp(since),
                "capabilityStatus": "Enabled",
                "service": catalog.names.get(plan, ""),
                "servicePlanId": plan,
            }
            for product_id, off, since in held.values()
            for plan in catalog.product_plans.get(product_id, ())
            if plan not in off
        ]
    if "licenseAssignmentStates" in wanted:
        item["licenseAssignmentStates"] = [
            {
                "assignedByGroup": str(group) if group else None,
                "disabledPlans": sorted(plans),
                "error": error or "None",
                "lastUpdatedDateTime": stamp(updated),
                "skuId": str(sku),
                "state": state,
            }
            for _, sku, _, group, plans, state, error, updated in rows
        ]
    return item


def license_details(user: DirectoryUser) -> list[dict]:
    """``licenseDetails``: each license the user holds, with its plans' provisioning."""
    held = _held(_license_rows([user.id], {"assignedLicenses"})[user.id])
    products = Product.objects.in_bulk([product_id for product_id, _, _ in held.values()])
    plans = _plans(list(products))
    result = []
    for sku, (product_id, off, _) in held.items():
        p = products[product_id]
        result.append(
            {
                "id": f"{user.public_id}_{sku}",
                "skuId": str(sku),
                "skuPartNumber": p.sku_part_number,
                "servicePlans": [
                    _plan(p, plan_id, name, disabled=off) for plan_id, name in plans[p.id]
                ],
            }
        )
    return result


# -- group --------------------------------------------------------------------------------------

GROUP_DEFAULT = [
    "id",
    "createdDateTime",
    "description",
    "displayName",
    "groupTypes",
    "mailEnabled",
    "securityEnabled",
]
GROUP_PLAIN = {
    "id": lambda g: str(g.public_id),
    "displayName": lambda g: g.name,
    "description": lambda g: g.description or None,
    "createdDateTime": lambda g: stamp(g.created_at),
    "groupTypes": lambda g: [],
    "mailEnabled": lambda g: False,
    "securityEnabled": lambda g: True,
    "licenseProcessingState": lambda g: {"state": g.processing_state},
}
GROUP_FIELDS = set(GROUP_PLAIN) | {"assignedLicenses"}


def groups(found: list[Group], fields: list[str]) -> list[dict]:
    assigned = defaultdict(list)
    if "assignedLicenses" in fields:
        for group_id, sku, disabled in (
            LicenseAssignment.objects.filter(group__in=found)
            .order_by("group_id", "created_at", "id")
            .values_list("group_id", "product__sku_id", "disabled_plans")
        ):
            assigned[group_id].append({"disabledPlans": sorted(disabled), "skuId": str(sku)})
    result = []
    for g in found:
        item = {n: GROUP_PLAIN[n](g) for n in fields if n in GROUP_PLAIN}
        if "assignedLicenses" in fields:
            item["assignedLicenses"] = assigned[g.id]
        result.append(item)
    return result


DIRECTORY_OBJECT_FIELDS = ["id", "displayName", "userPrincipalName", "usageLocation"]


def directory_objects(people: list) -> list[dict]:
    """Members as Graph lists directory objects: each says its type."""
    return [
        {"@odata.type": "#microsoft.graph.user", **item}
        for item in users(people, DIRECTORY_OBJECT_FIELDS)
    ]
