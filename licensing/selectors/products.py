"""Products as the pages, the API and exports read them: the tenant's products, their seats
and plans, a product's licensed users, the expiring subscriptions."""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from django.db import connection
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, Value, When
from django.utils.translation import gettext as _

from licensing.catalog_store import current_catalog
from licensing.errors import NotFound
from licensing.models import (
    COUNTING_STATUSES,
    DirectoryUser,
    Product,
    ProductServicePlan,
    Subscription,
    SubscriptionStatus,
    TenantProduct,
    UserLicense,
)
from licensing.rules import SUMMARY_ORDER, Catalog, effective_location, product_line
from licensing.seats import seat_counts, seat_row
from licensing.selectors._shared import Window, column_value
from licensing.selectors.groups import groups_in_error
from licensing.services.base import parse_guid


def tenant_products(*, tenant) -> list[Product]:
    """The products a tenant has bought or still assigns, by name (one query)."""
    return list(
        Product.objects.filter(Q(subscriptions__tenant=tenant) | Q(assignments__tenant=tenant))
        .distinct()
        .order_by("display_name")
    )


_PRODUCTS_WITH_SEATS = """
SELECT p.*,
       COALESCE(s.total, 0) AS total,
       COALESCE(s.expiring, 0) AS expiring,
       COALESCE(tp.assigned, 0) AS assigned,
       {plans} AS plans
FROM licensing_product p
LEFT JOIN (
    SELECT product_id,
           SUM(units) FILTER (WHERE status = ANY(%(counting)s)) AS total,
           SUM(units) FILTER (WHERE status = %(warning)s) AS expiring
    FROM licensing_subscription WHERE tenant_id = %(tenant)s GROUP BY product_id
) s ON s.product_id = p.id
LEFT JOIN licensing_tenantproduct tp ON tp.product_id = p.id AND tp.tenant_id = %(tenant)s
WHERE (s.product_id IS NOT NULL
       OR EXISTS (SELECT 1 FROM licensing_licenseassignment a
                  WHERE a.tenant_id = %(tenant)s AND a.product_id = p.id))
  {only}
ORDER BY p.display_name
"""
# One product's blade also shows its plans (Catalog.for_display): brought along in the same
# statement. The list of all products does not need them.
_PLANS = """(SELECT json_agg(json_build_array(sp.service_plan_id, sp.display_name,
                                          sp.not_offered_in) ORDER BY psp.position)
         FROM licensing_productserviceplan psp
         JOIN licensing_serviceplan sp ON sp.id = psp.service_plan_id
         WHERE psp.product_id = p.id)"""


def products_with_seats(*, tenant, sku_id=None) -> list[dict]:
    """All products of the tenant (bought or still assigned) with their seat counts
    (docs/rules.md §1, as ``seat_counts``), by name: ``tenant_products`` and ``seat_counts`` in
    one statement; with ``sku_id``, that product only (or nothing: not this tenant's), with its
    service plans (``plans``; empty for the whole list). Written
    out in SQL because these are the pages every admin opens first, and the ORM spent three
    times longer building the query than PostgreSQL did running it; elsewhere (the SQLite
    quick start) the same through the ORM."""
    if connection.vendor != "postgresql":
        return _products_with_seats_orm(tenant, sku_id)
    params = {
        "tenant": tenant.id,
        "counting": list(map(str, COUNTING_STATUSES)),
        "warning": str(SubscriptionStatus.WARNING),
        "sku": str(sku_id),
    }
    one = sku_id is not None
    sql = _PRODUCTS_WITH_SEATS.format(
        only="AND p.sku_id = %(sku)s::uuid" if one else "", plans=_PLANS if one else "NULL"
    )
    return [
        {
            "product": product,
            **seat_row(product.total, product.expiring, product.assigned),
            "plans": product.plans or [],
        }
        for product in Product.objects.raw(sql, params)
    ]


def _products_with_seats_orm(tenant, sku_id) -> list[dict]:
    products = [
        p for p in tenant_products(tenant=tenant) if sku_id is None or str(p.sku_id) == str(sku_id)
    ]
    counts = seat_counts(tenant, [p.id for p in products])
    plans: dict[int, list] = defaultdict(list)
    for link in (
        ProductServicePlan.objects.filter(product__in=products if sku_id is not None else [])
        .select_related("service_plan")
        .order_by("product_id", "position")
    ):
        plan = link.service_plan
        plans[link.product_id].append(
            [str(plan.service_plan_id), plan.display_name, ",".join(map(str, plan.not_offered_in))]
        )
    return [
        {"product": p, **counts.get(p.id, seat_row(0, 0, 0)), "plans": plans[p.id]}
        for p in products
    ]


class PathRow(NamedTuple):
    """A user's path to a product as the Licensed users page reads it (plain values: 50
    users' model instances cost more than their query)."""

    user_id: int
    product_id: int
    via_group_id: int | None
    via_group__name: str | None
    disabled_plans: list
    state: str
    error: str


_LICENSED_USERS = """
SELECT u.id, u.public_id, u.display_name, u.user_principal_name, u.usage_location,
       (SELECT json_agg(json_build_array(l.via_group_id, g.name, l.disabled_plans, l.state,
                                         l.error) ORDER BY g.name)
        FROM licensing_userlicense l LEFT JOIN licensing_group g ON g.id = l.via_group_id
        WHERE l.user_id = u.id AND l.product_id = %(product)s)
FROM licensing_directoryuser u
WHERE u.tenant_id = %(tenant)s
  AND EXISTS (SELECT 1 FROM licensing_userlicense l
              WHERE l.user_id = u.id AND l.product_id = %(product)s)
  {search}
  {shown}
ORDER BY {order}
LIMIT %(limit)s OFFSET %(offset)s
"""
_SEARCH = "AND (u.display_name ILIKE %(like)s OR u.user_principal_name ILIKE %(like)s)"
# The filters by state and by error: the path whose state the line shows (rules.summary_state:
# the first state of SUMMARY_ORDER among the user's paths) has this state and this error: the
# filter keeps the lines that show them (of two paths in Error with different errors, the line
# shows one and either error finds it).
_RANK = "CASE {t}.state {whens} ELSE {last} END".format(
    t="{t}",
    whens=" ".join(f"WHEN '{state}' THEN {i}" for i, state in enumerate(SUMMARY_ORDER)),
    last=len(SUMMARY_ORDER),
)
_SHOWN = f"""AND EXISTS (
    SELECT 1 FROM licensing_userlicense s
    WHERE s.user_id = u.id AND s.product_id = %(product)s {{state}} {{error}}
      AND NOT EXISTS (SELECT 1 FROM licensing_userlicense b
                      WHERE b.user_id = u.id AND b.product_id = %(product)s
                        AND {_RANK.format(t="b")} < {_RANK.format(t="s")}))"""
_SORTABLE = {"id", "display_name", "user_principal_name", "usage_location"}


def licensed_users_page(
    *,
    tenant,
    product: Product,
    search: str = "",
    page: int | str = 1,
    per_page: int = 50,
    order_by: tuple[str, ...] | list[str] = ("display_name", "id"),
    state: str = "",
    error: str = "",
):
    """One page of a product's Licensed users: (window of user dicts, paths per user id).
    With ``state`` or ``error``, only the users whose line shows that state or error.

    One statement whatever the number of users: it walks the users in the page's order and
    keeps those with a row of the product, so the first pages cost the same at 100 or
    100,000 users, and brings each user's paths along. In SQL because on this page the ORM
    spent more time building two queries than PostgreSQL spent running one; elsewhere (the
    SQLite quick start) the same in two ORM queries.
    """
    try:
        number = max(1, int(page))
    except (TypeError, ValueError):
        number = 1
    if connection.vendor != "postgresql":
        return _licensed_users_page_orm(
            tenant, product, search, number, per_page, order_by, state, error
        )
    order = []
    for field in order_by:
        name = field.lstrip("-")
        if name not in _SORTABLE:
            raise ValueError(f"cannot sort licensed users by {field!r}")
        order.append(f"u.{name} {'DESC' if field.startswith('-') else 'ASC'}")
    like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    shown = ""
    if state or error:
        shown = _SHOWN.format(
            state="AND s.state = %(state)s" if state else "",
            error="AND s.error = %(error)s" if error else "",
        )
    sql = _LICENSED_USERS.format(
        search=_SEARCH if search else "", shown=shown, order=", ".join(order)
    )
    params = {
        "state": state,
        "error": error,
        "tenant": tenant.id,
        "product": product.id,
        "like": like,
        "limit": per_page + 1,
        "offset": (number - 1) * per_page,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    users, rows = [], {}
    for user_id, public_id, name, upn, location, paths in found[:per_page]:
        users.append(
            {
                "id": user_id,
                "public_id": public_id,
                "display_name": name,
                "user_principal_name": upn,
                "usage_location": location,
            }
        )
        rows[user_id] = [PathRow(user_id, product.id, *path) for path in paths or ()]
    return Window(users, number, per_page, has_next=len(found) > per_page), rows


def _licensed_users_page_orm(tenant, product, search, number, per_page, order_by, state, error):
    users = DirectoryUser.objects.filter(tenant=tenant).filter(
        Exists(UserLicense.objects.filter(user_id=OuterRef("pk"), product=product))
    )
    if state or error:
        users = users.filter(Exists(_shown_path(product, state, error)))
    if search:
        users = users.filter(
            Q(display_name__icontains=search) | Q(user_principal_name__icontains=search)
        )
    offset = (number - 1) * per_page
    found = list(
        users.order_by(*order_by).values(
            "id", "public_id", "display_name", "user_principal_name", "usage_location"
        )[offset : offset + per_page + 1]
    )
    window = Window(found[:per_page], number, per_page, has_next=len(found) > per_page)
    rows: dict[int, list[PathRow]] = {u["id"]: [] for u in window.object_list}
    for values in (
        UserLicense.objects.filter(product=product, user_id__in=list(rows))
        .order_by(F("via_group__name").asc(nulls_last=True))
        .values_list(*PathRow._fields)
    ):
        rows[values[0]].append(PathRow(*values))
    return window, rows


def _shown_path(product, state: str, error: str):
    """The user's path of the product whose state the line shows, if it has this state and
    error (``_SHOWN`` through the ORM)."""
    rank = Case(
        *[When(state=s, then=Value(i)) for i, s in enumerate(SUMMARY_ORDER)],
        default=Value(len(SUMMARY_ORDER)),
        output_field=IntegerField(),
    )
    better = (
        UserLicense.objects.filter(user_id=OuterRef(OuterRef("pk")), product=product)
        .annotate(rank=rank)
        .filter(rank__lt=OuterRef("rank"))
    )
    shown = UserLicense.objects.filter(user_id=OuterRef("pk"), product=product)
    if state:
        shown = shown.filter(state=state)
    if error:
        shown = shown.filter(error=error)
    return shown.annotate(rank=rank).filter(~Exists(better))


def expiring_subscriptions(*, tenant, within_days: int = 30) -> list:
    """Subscriptions in their grace period (Warning) or whose lifecycle date is within 30
    days: the Overview's expiring-soon alerts, soonest first (one query)."""

    horizon = datetime.date.today() + datetime.timedelta(days=within_days)
    return list(
        Subscription.objects.filter(tenant=tenant)
        .filter(
            Q(status=SubscriptionStatus.WARNING)
            | Q(status=SubscriptionStatus.ENABLED, next_lifecycle_date__lte=horizon)
        )
        .select_related("product")
        .order_by("next_lifecycle_date", "product__display_name")
    )


def licensed_user_lines(
    *,
    tenant,
    product_seats: dict,
    search: str = "",
    page: int | str = 1,
    order_by: Sequence[str] = ("display_name", "id"),
    state: str = "",
    error: str = "",
) -> tuple[Window, list[dict]]:
    """A product's Licensed users page as the blade shows it: the window of users, and per
    user the paths, one state and error and the enabled services (``rules.product_line``).
    ``product_seats``: the product's row of ``products_with_seats`` with ``sku_id`` (its
    plans come along, so the enabled services cost no query). ``state``, ``error``: only the
    lines that show this state, this error (Azure's values; unknown ones match nothing)."""
    product = product_seats["product"]
    window, rows = licensed_users_page(
        tenant=tenant,
        product=product,
        search=search,
        page=page,
        order_by=order_by,
        state=state,
        error=error,
    )
    catalog = Catalog.for_display({product.id: product_seats["plans"]})
    country = str(tenant.country)
    lines = [
        {
            "user": user,
            "location": user["usage_location"],
            **product_line(
                rows.get(user["id"], []),
                effective_location(user["usage_location"], country),
                catalog,
            ),
        }
        for user in window.object_list
    ]
    return window, lines


def plan_links(*, product: Product) -> list[ProductServicePlan]:
    """The product's service plans in the catalog's order (the catalog is every tenant's)."""
    return list(product.plan_links.select_related("service_plan").order_by("position"))


def licensed_user_rows(*, tenant, product: Product) -> Iterator[UserLicense]:
    """Every path of the tenant's users to the product, with the user and the group, by
    user name: read in chunks, so a download of 100,000 users stays small."""
    return (
        UserLicense.objects.filter(tenant=tenant, product=product)
        .select_related("user", "via_group")
        .order_by("user__display_name", "user_id", "via_group__name")
        .iterator(chunk_size=2000)
    )


def catalog() -> Catalog:
    """The catalog of products and service plans (the same for every tenant), as the rules
    read it: the Assign blade's options and checks."""
    return current_catalog()


def licenses_overview(*, tenant) -> dict:
    """Licenses > Overview: how many products the tenant bought, the seats assigned, the
    over-assigned products, the groups with members in error and the expiring
    subscriptions."""
    counts = seat_counts(tenant)
    products = tenant_products(tenant=tenant)
    return {
        "purchased_count": sum(1 for p in products if counts.get(p.id, {}).get("total")),
        "assigned_total": sum(c["assigned"] for c in counts.values()),
        "over_assigned": [p for p in products if counts.get(p.id, {}).get("over_assigned")],
        "error_groups": groups_in_error(tenant=tenant),
        "expiring": expiring_subscriptions(tenant=tenant),
    }


# -- the Graph-compatible API's reads -----------------------------------------------------------


def products_by_sku(*, sku_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Product]:
    """The catalog's products with these SKU ids, by SKU id; an unknown id is left out. One
    plain statement (none for no ids): every ``assignLicense`` reads its products here, and
    the ORM's query building cost more than the query."""
    if not sku_ids:
        return {}
    return {
        p.sku_id: p
        for p in Product.objects.raw(
            f"SELECT * FROM {Product._meta.db_table} "
            f"WHERE sku_id IN ({', '.join('%s' for _ in sku_ids)})",
            [column_value(Product, "sku_id", sku) for sku in sku_ids],
        )
    }


def service_plans(*, product_ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """(plan GUID, service plan name) of each product's plans, in the product's order (one
    query; none for no products)."""
    plans = defaultdict(list)
    for product_id, plan_id, name in (
        ProductServicePlan.objects.filter(product_id__in=product_ids)
        .order_by("product_id", "position")
        .values_list(
            "product_id", "service_plan__service_plan_id", "service_plan__service_plan_name"
        )
    ):
        plans[product_id].append((str(plan_id), name))
    return plans


class SubscribedProduct(NamedTuple):
    """A product of the tenant with what its subscriptions hold: units per subscription
    status, the subscriptions' ids, the Assigned counter, the plans (GUID, name) in order."""

    product: Product
    units: dict[str, int]
    subscription_ids: list[str]
    assigned: int
    plans: list[tuple[str, str]]


def subscribed_products(*, tenant, sku_id: uuid.UUID | None = None) -> list[SubscribedProduct]:
    """The tenant's products (bought or still assigned, by name; with ``sku_id``, that one
    only, if it is the tenant's) with their subscriptions' units and ids, their Assigned
    counter and plans: four queries (one when there is no such product)."""
    products = tenant_products(tenant=tenant)
    if sku_id is not None:
        products = [p for p in products if p.sku_id == sku_id]
    ids = [p.id for p in products]
    units: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    subscriptions: dict[int, list[str]] = defaultdict(list)
    for product_id, status, n, public_id in Subscription.objects.filter(
        tenant=tenant, product_id__in=ids
    ).values_list("product_id", "status", "units", "public_id"):
        units[product_id][status] += n
        subscriptions[product_id].append(str(public_id))
    assigned = dict(
        TenantProduct.objects.filter(tenant=tenant, product_id__in=ids).values_list(
            "product_id", "assigned"
        )
    )
    plans = service_plans(product_ids=ids)
    return [
        SubscribedProduct(p, units[p.id], subscriptions[p.id], assigned.get(p.id, 0), plans[p.id])
        for p in products
    ]


def picked_products(*, ids: Iterable) -> list[Product]:
    """The catalog's products with these SKU ids (as a form sent them), in that order, each
    once (one query). A malformed id is ``InvalidInput``; unknown ones are ``NotFound``, named
    all at once."""
    wanted = [parse_guid(i) for i in ids]
    found = products_by_sku(sku_ids=wanted)
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise NotFound(_("Products not found: %(ids)s") % {"ids": ", ".join(missing)})
    return [found[i] for i in dict.fromkeys(wanted)]
