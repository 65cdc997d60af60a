"""Graph's JSON shapes of our objects (docs/api.md), built from plain queries per page."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import NamedTuple

from django.db.models import CharField, DateTimeField, TextField, UUIDField, Value
from django.db.models.functions import Cast

from licensing.catalog_store import current_catalog
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
from licensing.rules import Catalog, effective_location, visible_plans
from licensing.selectors.products import tenant_products


def stamp(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


# -- subscribedSku -----------------------------------------------------------------------------


def subscribed_skus(tenant, products: list[Product] | None = None) -> list[dict]:
    products = tenant_products(tenant=tenant) if products is None else products
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


# servicePlanInfo.provisioningStatus, Graph's values: "Success" (fully provisioned),
# "Disabled" (turned off), "Error" (not provisioned, in an error state).
PROVISIONED, DISABLED, NOT_PROVISIONED = "Success", "Disabled", "Error"


def _plan(product: Product, plan_id: str, name: str, status: str = PROVISIONED) -> dict:
    return {
        "servicePlanId": plan_id,
        "servicePlanName": name,
        "provisioningStatus": status,
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
# The properties that depend on where the user is (docs/rules.md §2): they read the user's
# usage location, and the organization's country when the user has none.
USER_LOCATED = {"assignedPlans"}


def user_columns(fields: list[str]) -> list[str]:
    """The ``DirectoryUser`` columns these properties read (``id`` always: the page's key)."""
    wanted = {USER_PLAIN[name][0] for name in fields if name in USER_PLAIN}
    if USER_LOCATED.intersection(fields):
        wanted.add("usage_location")
    return ["id", *sorted(c for c in wanted if c)]


def users(people: list, fields: list[str], *, country: str | None = None) -> list[dict]:
    """Users in Graph's shape with these properties: ``people`` are rows of
    ``user_columns(fields)`` (a page of 999 needs no model instances) or users; the licensing
    properties come from one more query. ``country``: the organization's, the usage location
    of users without one; needed for ``assignedPlans``."""
    columns = user_columns(fields)
    people = [u if isinstance(u, dict) else {c: getattr(u, c) for c in columns} for u in people]
    licensing = USER_LICENSING.intersection(fields)
    rows = _license_rows([u["id"] for u in people], licensing) if licensing else {}
    located = bool(USER_LOCATED.intersection(fields))
    if located and country is None:
        raise TypeError("users(): assignedPlans needs the organization's country")
    catalog = current_catalog() if located else None
    plain = [(name, *USER_PLAIN[name]) for name in fields if name in USER_PLAIN]
    result = []
    for u in people:
        item = {}
        for name, column, write in plain:
            value = u[column] if column else None
            item[name] = write(value) if write else value
        if licensing:
            location = effective_location(u["usage_location"], country) if located else ""
            item.update(_licensing(rows.get(u["id"], ()), licensing, catalog, location))
        result.append(item)
    return result


class LicenseRow(NamedTuple):
    """A license row as the API reads it (``_license_rows``); the rules' functions read its
    ``product_id``, ``disabled_plans`` and ``state`` as they read ``UserLicense``."""

    user_id: int
    sku: str
    product_id: int
    via_group: object
    disabled_plans: list | tuple
    state: str
    error: str
    last_updated: object


def _license_rows(user_ids: list[int], wanted: set[str]) -> dict[int, list[LicenseRow]]:
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
    rows: dict[int, list[LicenseRow]] = {user_id: [] for user_id in user_ids}
    for user_id, product_id, group, plans, state, error, updated in found:
        mine = rows.get(user_id)
        if mine is not None:
            mine.append(
                LicenseRow(
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


def _held(rows: list[LicenseRow]) -> dict:
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


def _on_where_they_are(
    rows: list[LicenseRow], product_id: int, location: str, catalog: Catalog
) -> list[str]:
    """The plans of a product the user has on, as the portal's pages show them: the rules'
    ``visible_plans`` (working paths, less plans not offered in ``location``)."""
    return visible_plans([r for r in rows if r.product_id == product_id], location, catalog)


def _licensing(
    rows: list[LicenseRow], wanted: set[str], catalog: Catalog | None, location: str = ""
) -> dict:
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
        # Only the plans the user can use where they are (docs/rules.md §2–§3, as the portal
        # shows them). Graph's capabilityStatus is the condition of the subscription behind a
        # plan (Enabled, Warning, Suspended, Deleted, LockedOut): it has no value for "off
        # for this user", so a plan turned off, or not offered in the user's usage location,
        # is not listed at all, rather than listed as Enabled (it is not usable) or Deleted
        # (its data is not at risk: it comes back when the user moves). licenseDetails says
        # which plans are off and why.
        item["assignedPlans"] = [
            {
                "assignedDateTime": stamp(since),
                "capabilityStatus": str(SubscriptionStatus.ENABLED),
                "service": catalog.names.get(plan, ""),
                "servicePlanId": plan,
            }
            for product_id, _, since in held.values()
            for plan in _on_where_they_are(rows, product_id, location, catalog)
        ]
    if "licenseAssignmentStates" in wanted:
        item["licenseAssignmentStates"] = [
            {
                "assignedByGroup": str(group) if group else None,
                "disabledPlans": sorted(plans),
                # Graph's word for no error (ours is LicenseError.NONE, "").
                "error": error or "None",
                "lastUpdatedDateTime": stamp(updated),
                "skuId": str(sku),
                "state": state,
            }
            for _, sku, _, group, plans, state, error, updated in rows
        ]
    return item


def _provisioning(plan: str, on: set[str], off: set[str]) -> str:
    if plan in on:
        return PROVISIONED
    return DISABLED if plan in off else NOT_PROVISIONED


def license_details(user: DirectoryUser, country: str) -> list[dict]:
    """``licenseDetails``: each license the user holds, with its plans' provisioning.
    ``country``: the organization's, the usage location of a user without one.

    A plan is ``Success`` where the portal shows it enabled (the rules' ``visible_plans``),
    ``Disabled`` where the admin turned it off (on every path: ``assignedLicenses``'
    ``disabledPlans``), and ``Error`` where it is on but not offered in the user's usage
    location: Graph's "not provisioned, in an error state", which is what the path's
    ``ProhibitedInUsageLocationViolation`` says. Not ``Disabled``: scripts read ``Disabled``
    plans back as the admin's ``disabledPlans`` and would turn the plan off for good, when it
    comes back by itself once the user is somewhere it is offered. Not
    ``PendingProvisioning``: Graph keeps that for a service new to the product that the
    tenant has not activated yet."""
    rows = _license_rows([user.id], {"assignedLicenses"})[user.id]
    held = _held(rows)
    products = Product.objects.in_bulk([product_id for product_id, _, _ in held.values()])
    plans = _plans(list(products))
    catalog = current_catalog()
    location = effective_location(user.usage_location, country)
    result = []
    for sku, (product_id, off, _) in held.items():
        p = products[product_id]
        on = set(_on_where_they_are(rows, product_id, location, catalog))
        result.append(
            {
                "id": f"{user.public_id}_{sku}",
                "skuId": str(sku),
                "skuPartNumber": p.sku_part_number,
                "servicePlans": [
                    _plan(p, plan_id, name, _provisioning(plan_id, on, off))
                    for plan_id, name in plans[p.id]
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
