"""The licenses users hold, as the Graph-compatible API reads them: what each user holds
(products, plans off, plans usable where they are) and every path to it."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from django.db.models import CharField, DateTimeField, TextField, UUIDField, Value
from django.db.models.functions import Cast

from licensing.catalog_store import current_catalog
from licensing.models import SEAT_STATES, DirectoryUser, Product, Tenant, UserLicense
from licensing.rules import Catalog, effective_location, visible_plans
from licensing.selectors.products import service_plans


class LicensePath(NamedTuple):
    """A user's path to a product (a ``UserLicense`` row) as the API reads it; the rules'
    functions read its ``product_id``, ``disabled_plans`` and ``state`` as they read
    ``UserLicense``. ``group_id`` is the group's public id (None: direct)."""

    user_id: int
    sku_id: str
    product_id: int
    group_id: uuid.UUID | None
    disabled_plans: Sequence[str]
    state: str
    error: str
    last_updated: datetime.datetime | None


class HeldLicense(NamedTuple):
    """A product a user holds a seat of, every path of it together: its SKU id, the plans off
    on every path (a plan is on if any path turns it on; sorted), since when (the earliest
    path's last change; None when not read) and the plans the user can use where they are
    (plan GUID, service name; only when asked for)."""

    sku_id: str
    disabled_plans: list[str]
    since: datetime.datetime | None
    enabled_plans: list[tuple[str, str]]


class UserLicenses(NamedTuple):
    """A user's licenses: those held, and (when asked for) every path, working or not."""

    held: list[HeldLicense]
    paths: list[LicensePath]


def user_licenses(
    *,
    tenant: Tenant,
    user_ids: Sequence[int],
    every_path: bool = False,
    usage_locations: Mapping[int, str] | None = None,
) -> dict[int, UserLicenses]:
    """The licenses of these users of the tenant, per user id (every one of them). With
    ``every_path``, each user's paths too (``paths``; else empty); with ``usage_locations``
    (each user's own, '' for none), the plans each held license gives where the user is
    (``HeldLicense.enabled_plans``: the rules' ``visible_plans`` at the user's effective
    usage location, docs/rules.md §2–§3), and since when it is held. One query, one more for
    the products' SKU ids when there are rows, and the catalog's when plans are asked for."""
    located = usage_locations is not None
    found = {user_id: UserLicenses([], []) for user_id in user_ids}
    rows, skus = _license_rows(tenant, user_ids, every_path=every_path, dated=every_path or located)
    if not (every_path or located):
        # The common walk (assignedLicenses alone): seat rows only, straight to what is held.
        for user_id, product_id, _, plans, _, _, _ in rows:
            mine = found.get(user_id)
            if mine is not None:
                _hold(mine.held, skus[product_id], _decoded(plans), None)
        return found
    paths: dict[int, list[LicensePath]] = {user_id: [] for user_id in user_ids}
    for row in rows:
        mine = paths.get(row[0])
        if mine is not None:
            mine.append(_path(row, skus))
    catalog = current_catalog() if located else None
    for user_id, mine in paths.items():
        location = effective_location(usage_locations[user_id], tenant.country) if located else ""
        found[user_id] = UserLicenses(_held(mine, location, catalog), mine if every_path else [])
    return found


def _license_rows(
    tenant: Tenant, user_ids: Sequence[int], *, every_path: bool, dated: bool
) -> tuple[list[tuple], dict[int, str]]:
    """The license rows of these users of the tenant in one query, as (user id, product id,
    group public id, disabled plans as text, state, error, last updated), and the SKU ids of
    their products (as text) in one more: only the seat-holding rows unless ``every_path``;
    groups and errors only with ``every_path``, times only when ``dated``. Disabled plans
    come as text, decoded (``_decoded``) where there are any: a walk of 100,000 users mostly
    has none."""
    found = UserLicense.objects.filter(tenant=tenant)
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
    return found, skus


def _decoded(plans: str) -> Sequence[str]:
    return json.loads(plans) if plans != "[]" else ()


def _path(row: tuple, skus: dict[int, str]) -> LicensePath:
    user_id, product_id, group, plans, state, error, updated = row
    return LicensePath(
        user_id, skus[product_id], product_id, group, _decoded(plans), state, error, updated
    )


def _hold(held: list[HeldLicense], sku_id: str, plans: Sequence[str], since) -> None:
    """Add a seat-holding path to ``held`` (the user's licenses so far, paths in product
    order): a plan stays off only where every path of the product has it off."""
    if held and held[-1].sku_id == sku_id:
        last = held[-1]
        off = sorted(set(last.disabled_plans) & set(plans))
        earliest = min(last.since, since) if since else None
        held[-1] = last._replace(disabled_plans=off, since=earliest)
    else:
        held.append(HeldLicense(sku_id, sorted(plans) if plans else [], since, []))


def _held(paths: list[LicensePath], location: str, catalog: Catalog | None) -> list[HeldLicense]:
    """The licenses held through these paths of one user; with a catalog, each with the
    plans the user can use at ``location``."""
    held: list[HeldLicense] = []
    for path in paths:
        if path.state in SEAT_STATES:
            _hold(held, path.sku_id, path.disabled_plans, path.last_updated)
    if catalog is None:
        return held
    product_of = {path.sku_id: path.product_id for path in paths}
    return [
        one._replace(
            enabled_plans=[
                (plan, catalog.names.get(plan, ""))
                for plan in _enabled_where_they_are(
                    paths, product_of[one.sku_id], location, catalog
                )
            ]
        )
        for one in held
    ]


def _enabled_where_they_are(
    paths: list[LicensePath], product_id: int, location: str, catalog: Catalog
) -> list[str]:
    """The plans of a product the user has on, as the portal's pages show them: the rules'
    ``visible_plans`` (working paths, less plans not offered at ``location``)."""
    return visible_plans([p for p in paths if p.product_id == product_id], location, catalog)


class LicenseDetail(NamedTuple):
    """A license a user holds, with each plan of its product: the plans off on every path,
    and those the user can use where they are (the rules' ``visible_plans``)."""

    product: Product
    sku_id: str
    disabled_plans: set[str]
    enabled_plans: set[str]
    plans: list[tuple[str, str]]


def user_license_details(*, tenant: Tenant, user: DirectoryUser) -> list[LicenseDetail]:
    """Each license the tenant's user holds, in product order, with its product, the plans
    off on every path, the plans usable at the user's effective usage location (their own,
    else the organization's country) and every plan of the product (GUID, name) in order.
    Four queries and the catalog's (one and the catalog's without licenses)."""
    found, skus = _license_rows(tenant, [user.id], every_path=False, dated=False)
    rows = [_path(row, skus) for row in found]
    held: dict[str, list] = {}
    for path in rows:
        if path.sku_id in held:
            held[path.sku_id][1] &= set(path.disabled_plans)
        else:
            held[path.sku_id] = [path.product_id, set(path.disabled_plans)]
    products = Product.objects.in_bulk([product_id for product_id, _ in held.values()])
    plans = service_plans(product_ids=list(products))
    catalog = current_catalog()
    location = effective_location(user.usage_location, tenant.country)
    return [
        LicenseDetail(
            products[product_id],
            sku_id,
            off,
            set(_enabled_where_they_are(rows, product_id, location, catalog)),
            plans[product_id],
        )
        for sku_id, (product_id, off) in held.items()
    ]
