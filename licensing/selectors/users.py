"""Users of the directory as the pages, the API and SCIM read them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence

from django.core.paginator import Page
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models import Window as Over
from django.utils.translation import gettext as _

from licensing.catalog_store import current_catalog
from licensing.errors import NAMES_SHOWN, NotFound
from licensing.models import (
    SEAT_STATES,
    DirectoryUser,
    Group,
    LicenseAssignment,
    Product,
    Tenant,
    UserLicense,
)
from licensing.rules import effective_location, product_line
from licensing.selectors._shared import (
    Window,
    column_value,
    counted_page,
    keyset,
    keyset_by,
    page_of,
    window_of,
    word_start,
)
from licensing.selectors.products import tenant_products
from licensing.services.base import parse_guid


def user(*, tenant: Tenant, public_id) -> DirectoryUser | None:
    """The tenant's user with this id (soft-deleted or not), or None: another tenant's user
    is not found."""
    return (
        DirectoryUser.objects.select_related("tenant")
        .filter(tenant=tenant, public_id=public_id)
        .first()
    )


def listed_users(
    *,
    tenant: Tenant,
    search: str = "",
    order_by: Sequence[str] = ("display_name", "id"),
    page=1,
) -> Window:
    """A page of the tenant's users who are not deleted (Azure lists those under Deleted users
    only), matching ``search`` in the name or the user principal name, in this order; not
    counted (one query: 100,000 users are not read to show 50)."""
    found = DirectoryUser.objects.active().filter(tenant=tenant)
    if search:
        found = found.filter(_matching(search))
    return window_of(found.order_by(*order_by), page)


def deleted_users(*, tenant: Tenant, page=1) -> Page:
    """A page of the tenant's soft-deleted users, the longest deleted first (two queries)."""
    found = DirectoryUser.objects.filter(tenant=tenant, soft_deleted_at__isnull=False)
    return page_of(found.order_by("soft_deleted_at", "id"), page)


def deleted_user(*, tenant: Tenant, public_id) -> DirectoryUser | None:
    """The tenant's soft-deleted user with this id, or None (also when not deleted)."""
    return DirectoryUser.objects.filter(
        tenant=tenant, public_id=public_id, soft_deleted_at__isnull=False
    ).first()


def deleted_users_page(
    *, tenant: Tenant, columns: Sequence[str], after: int | None = None, size: int
) -> list[dict]:
    """A page of the tenant's soft-deleted users as rows of ``columns`` (with ``id``),
    keyset-paged as ``active_users_page``: ``size`` + 1 rows at most. One query."""
    found = DirectoryUser.objects.filter(tenant=tenant, soft_deleted_at__isnull=False)
    return list(keyset(found.values(*columns), after=after)[: size + 1])


def active_users(*, tenant: Tenant, search: str = "", limit: int = 20) -> list[DirectoryUser]:
    """At most ``limit`` of the tenant's users who are not deleted, matching ``search``, by
    name: the pickers."""
    found = DirectoryUser.objects.active().filter(tenant=tenant)
    if search:
        found = found.filter(_matching(search))
    return list(found.order_by("display_name")[:limit])


def member_ids(*, tenant: Tenant, groups: Iterable[Group]) -> set[int]:
    """The ids of the users in any of these groups of the tenant that a group's licenses are
    applied to: not deleted (docs/rules.md §7: a deleted member takes no new seat). One
    query."""
    groups = [g for g in groups if g.tenant_id == tenant.id]
    if not groups:
        return set()
    return set(
        DirectoryUser.objects.active()
        .filter(tenant=tenant, memberships__group__in=groups)
        .values_list("id", flat=True)
    )


def without_location(*, tenant: Tenant, ids: Iterable[int], shown: int = NAMES_SHOWN) -> dict:
    """Of these users of the tenant, those without a usage location of their own (they take
    the organization's): ``names``, the first ``shown`` of them by name, and ``total``, how
    many they are. One query (the count comes with the first rows, ``COUNT(*) OVER ()``),
    none for no ids: a group of thousands is counted, not read."""
    ids = list(ids)
    if not ids:
        return {"names": [], "total": 0}
    rows = list(
        DirectoryUser.objects.filter(tenant=tenant, id__in=ids, usage_location="")
        .annotate(total=Over(Count("id")))
        .order_by("display_name", "id")
        .values_list("display_name", "total")[:shown]
    )
    return {"names": [name for name, _ in rows], "total": rows[0][1] if rows else 0}


def license_lines(*, tenant: Tenant, user: DirectoryUser) -> list[dict]:
    """The user's Licenses blade: per product, its paths (direct, inherited from groups), one
    state and error and the enabled services (``rules.product_line``)."""
    rows = list(
        UserLicense.objects.filter(tenant=tenant, user=user)
        .select_related("product", "via_group")
        .order_by("product__display_name")
    )
    catalog = current_catalog()
    location = effective_location(user.usage_location, tenant.country)
    by_product: dict[Product, list[UserLicense]] = {}
    for row in rows:
        by_product.setdefault(row.product, []).append(row)
    return [
        {
            "product": product,
            "direct": any(r.via_group_id is None for r in product_rows),
            "inherited_from": [r.via_group for r in product_rows if r.via_group_id],
            **product_line(product_rows, location, catalog),
        }
        for product, product_rows in by_product.items()
    ]


def direct_choices(*, tenant: Tenant, user: DirectoryUser) -> list[dict]:
    """The user's Assignments dialog: every product of the tenant that can be assigned, ticked
    where the user has it directly, marked where the user only inherits it, with the groups it
    comes from."""
    held = set(
        LicenseAssignment.objects.filter(tenant=tenant, user=user).values_list(
            "product_id", flat=True
        )
    )
    inherited: dict[int, list[Group]] = {}
    for row in (
        UserLicense.objects.filter(tenant=tenant, user=user, via_group__isnull=False)
        .select_related("via_group")
        .order_by("via_group__name")
    ):
        inherited.setdefault(row.product_id, []).append(row.via_group)
    return [
        {
            "product": p,
            "checked": p.id in held,
            "inherited_only": p.id in inherited and p.id not in held,
            "groups": inherited.get(p.id, []),
        }
        for p in tenant_products(tenant=tenant)
        if p.is_assignable
    ]


def license_options(*, tenant: Tenant, user: DirectoryUser, sku_id) -> dict | None:
    """A user's license of one product as its services dialog shows it: the product, its
    plans (GUID, name) in the catalog's order, the user's direct assignment of it (or None)
    and the group assignments the user inherits it through, by group name. None when the
    user has neither (another tenant's product is not found either). One query, and the
    catalog's."""
    inherits = UserLicense.objects.filter(assignment=OuterRef("pk"), user=user)
    assignments = list(
        LicenseAssignment.objects.filter(tenant=tenant, product__sku_id=sku_id)
        .filter(Q(user=user) | Q(group__isnull=False) & Exists(inherits))
        .select_related("product", "user", "group")
        .order_by("group__name", "id")
    )
    if not assignments:
        return None
    product = assignments[0].product
    catalog = current_catalog()
    return {
        "product": product,
        "plans": [
            (plan, catalog.names[plan]) for plan in catalog.product_plans.get(product.id, ())
        ],
        "direct": next((a for a in assignments if a.user_id), None),
        "inherited": [a for a in assignments if a.group_id],
    }


def _matching(search: str) -> Q:
    return Q(display_name__icontains=search) | Q(user_principal_name__icontains=search)


# -- SCIM's reads (portal/scim/) ---------------------------------------------------------------

# The fields a SCIM filter may name (``portal.scim.filter``), each compared ignoring case but
# ``public_id``.
MATCHABLE_USER_FIELDS = ("user_principal_name", "external_id", "display_name", "public_id")


def users_page(
    *, tenant: Tenant, matching: Mapping[str, str], offset: int, limit: int
) -> tuple[int, list[DirectoryUser]]:
    """How many of the tenant's users match, and ``limit`` of them from ``offset`` in the order
    they were made (two queries; none when an id is not a UUID). ``matching``: field →
    value, each equal ignoring case (``public_id`` exactly)."""
    return counted_page(
        DirectoryUser.objects.filter(tenant=tenant),
        matching=matching,
        fields=MATCHABLE_USER_FIELDS,
        offset=offset,
        limit=limit,
    )


def users_by_ids(*, tenant: Tenant, public_ids: Iterable[uuid.UUID]) -> list[DirectoryUser]:
    """The tenant's users with these ids, by display name (one query; none for no ids). An id
    of no user of the tenant is left out."""
    return list(DirectoryUser.objects.filter(tenant=tenant, public_id__in=list(public_ids)))


# -- the Graph-compatible API's reads -----------------------------------------------------------


def active_user(*, tenant: Tenant, key: str) -> DirectoryUser | None:
    """The tenant's user with this id or userPrincipalName (any case), unless deleted; else
    None. Every API call about a user starts here, so it is one plain statement (the ORM's
    query building cost three times the query)."""
    try:
        condition = "public_id = %s"
        value = column_value(DirectoryUser, "public_id", uuid.UUID(key))
    except ValueError:
        condition, value = "UPPER(user_principal_name) = UPPER(%s)", key
    return next(
        iter(
            DirectoryUser.objects.raw(
                f"SELECT * FROM {DirectoryUser._meta.db_table} WHERE tenant_id = %s "
                f"AND {condition} AND soft_deleted_at IS NULL ORDER BY id LIMIT 1",
                [tenant.id, value],
            )
        ),
        None,
    )


# $search on users: the columns it may search, and what separates their words.
USER_SEARCH = {"display_name": " ", "user_principal_name": " @._-"}


def _active_users(
    tenant: Tenant,
    sku_ids: Iterable[uuid.UUID],
    licensed: Iterable[bool],
    principal_names: Iterable[str],
    usage_locations: Iterable[str],
    name_prefixes: Iterable[str] = (),
    principal_prefixes: Iterable[str] = (),
    search: Iterable[tuple[str, str]] = (),
) -> QuerySet:
    people = DirectoryUser.objects.active().filter(tenant=tenant)
    for prefix in name_prefixes:
        people = people.filter(display_name__istartswith=prefix)
    for prefix in principal_prefixes:
        people = people.filter(user_principal_name__istartswith=prefix)
    for column, text in search:
        if column not in USER_SEARCH:
            raise ValueError(f"Users are not searched by {column}.")
        people = people.filter(word_start(column, text, USER_SEARCH[column]))
    seats = UserLicense.objects.filter(user=OuterRef("pk"), state__in=SEAT_STATES)
    for sku_id in sku_ids:
        people = people.filter(Exists(seats.filter(product__sku_id=sku_id)))
    for holding in licensed:
        people = people.filter(Exists(seats) if holding else ~Exists(seats))
    for name in principal_names:
        people = people.filter(user_principal_name__iexact=name)
    for location in usage_locations:
        people = people.filter(usage_location=location)
    return people


def active_users_page(
    *,
    tenant: Tenant,
    columns: Sequence[str],
    after: int | None = None,
    size: int,
    sku_ids: Iterable[uuid.UUID] = (),
    licensed: Iterable[bool] = (),
    principal_names: Iterable[str] = (),
    usage_locations: Iterable[str] = (),
    name_prefixes: Iterable[str] = (),
    principal_prefixes: Iterable[str] = (),
    search: Iterable[tuple[str, str]] = (),
    by_name: bool = False,
) -> list[dict]:
    """A page of the tenant's users who are not deleted, as rows of ``columns`` (with ``id``),
    keyset-paged after the user with id ``after`` (``_shared.keyset``; by display name with
    ``by_name``, ``_shared.keyset_by``): ``size`` + 1 rows at most, the last one only saying
    that there is a next page. Only users who hold a seat of each of ``sku_ids``, who hold a
    seat of something (True) or of nothing (False) for each of ``licensed``, whose
    userPrincipalName is each of ``principal_names`` (any case), whose usage location is each
    of ``usage_locations``, whose display name and userPrincipalName start with each of
    ``name_prefixes`` and ``principal_prefixes`` (any case), and with a word starting with
    each ``search`` text in its column (``USER_SEARCH``). One query."""
    people = _active_users(
        tenant,
        sku_ids,
        licensed,
        principal_names,
        usage_locations,
        name_prefixes,
        principal_prefixes,
        search,
    )
    return list(_ordered(people.values(*columns), after, by_name)[: size + 1])


def _ordered(people: QuerySet, after: int | None, by_name: bool) -> QuerySet:
    if by_name:
        return keyset_by(people, after=after, field="display_name")
    return keyset(people, after=after)


def active_users_count(
    *,
    tenant: Tenant,
    sku_ids: Iterable[uuid.UUID] = (),
    licensed: Iterable[bool] = (),
    principal_names: Iterable[str] = (),
    usage_locations: Iterable[str] = (),
    name_prefixes: Iterable[str] = (),
    principal_prefixes: Iterable[str] = (),
    search: Iterable[tuple[str, str]] = (),
) -> int:
    """How many users ``active_users_page`` pages through with these conditions (one
    query)."""
    return _active_users(
        tenant,
        sku_ids,
        licensed,
        principal_names,
        usage_locations,
        name_prefixes,
        principal_prefixes,
        search,
    ).count()


# -- a page of GET /users written by PostgreSQL as JSON text ------------------------------------
#
# Walking a directory of 100,000 users in pages of 999 is what scripts do most; shaping 999
# users in Python (a dict per user, a list of licenses, then ``json.dumps``) cost more than the
# query. On PostgreSQL, for the properties below, one query reads the page's ids (keyset
# paging, as ``active_users_page``) and a second one returns the ``value`` array's items as
# JSON text, concatenated (cheaper than building ``json`` values and printing them), which
# the response embeds as it is. It restates, in Graph's property names, what the API's
# shapes (``portal.graph.shapes.users``) make of ``active_users_page`` and
# ``licenses.user_licenses``; tests/selectors/test_graph_reads.py pins the two together,
# property by property. Other properties, and SQLite, take that path.

_SEATS = ", ".join(f"'{state}'" for state in SEAT_STATES)

# Per (user, product) of the page: how many paths hold a seat, and whether any has a plan off.
_HELD = f"""
    SELECT l.user_id, l.product_id, count(*) AS paths,
           bool_or(l.disabled_plans <> '[]'::jsonb) AS any_off
    FROM licensing_userlicense l
    WHERE l.user_id BETWEEN %(low)s AND %(high)s AND l.state IN ({_SEATS})
    GROUP BY l.user_id, l.product_id"""
# A plan is off only where every path of the product has it off; in code-point order.
_DISABLED_PLANS = f"""CASE WHEN h.any_off THEN (
      SELECT coalesce(json_agg(o.plan ORDER BY o.plan COLLATE "C"), '[]'::json)::text FROM (
        SELECT x.plan FROM licensing_userlicense l2
        CROSS JOIN LATERAL jsonb_array_elements_text(l2.disabled_plans) AS x(plan)
        WHERE l2.user_id = u.id AND l2.product_id = h.product_id AND l2.state IN ({_SEATS})
        GROUP BY x.plan HAVING count(*) = h.paths) o)
    ELSE '[]' END"""
# assignedLicenses: one entry per product the user holds a seat of (several paths of one
# product are one entry), in product order.
_ASSIGNED_LICENSES = f"""'[' || coalesce(string_agg(
      '{{"disabledPlans":' || {_DISABLED_PLANS} || ',"skuId":"' || p.sku_id::text || '"}}',
      ',' ORDER BY h.product_id), '') || ']'"""


def _string(column: str) -> str:
    """A text column as a JSON string; empty is null, as the shapes write it."""
    return f"coalesce(to_json(nullif({column}, ''))::text, 'null')"


# Each property the page can write: SQL over ``u`` (licensing_directoryuser) giving its JSON.
_PROPERTIES = {
    "id": "'\"' || u.public_id::text || '\"'",
    "displayName": "to_json(u.display_name)::text",
    "userPrincipalName": "to_json(u.user_principal_name)::text",
    "usageLocation": _string("u.usage_location"),
    "accountEnabled": "CASE WHEN u.account_enabled THEN 'true' ELSE 'false' END",
    "department": _string("u.department"),
    "jobTitle": _string("u.job_title"),
    "onPremisesImmutableId": _string("u.on_premises_immutable_id"),
    "businessPhones": "'[]'",
    "givenName": "'null'",
    "surname": "'null'",
    "mail": "'null'",
    "mobilePhone": "'null'",
    "officeLocation": "'null'",
    "preferredLanguage": "'null'",
    "assignedLicenses": _ASSIGNED_LICENSES,
}
_LICENSING = {"assignedLicenses"}


def can_write_users_json(*, fields: Sequence[str]) -> bool:
    """Whether ``active_users_json`` can write these properties here (PostgreSQL only)."""
    return connection.vendor == "postgresql" and all(f in _PROPERTIES for f in fields)


def active_users_json(
    *,
    tenant: Tenant,
    fields: Sequence[str],
    after: int | None = None,
    size: int,
    sku_ids: Iterable[uuid.UUID] = (),
    licensed: Iterable[bool] = (),
    principal_names: Iterable[str] = (),
    usage_locations: Iterable[str] = (),
    name_prefixes: Iterable[str] = (),
    principal_prefixes: Iterable[str] = (),
    search: Iterable[tuple[str, str]] = (),
    by_name: bool = False,
) -> tuple[str, int | None]:
    """The page of ``active_users_page`` (same users, same conditions, same keyset paging) as
    Graph's user objects with the properties ``fields`` (plain ones first, then the licensing
    ones), comma-separated JSON text; and the id of the page's last user when there is a
    next page (else None). Two queries (one for an empty page); PostgreSQL only, for the
    properties ``can_write_users_json`` accepts."""
    people = _active_users(
        tenant,
        sku_ids,
        licensed,
        principal_names,
        usage_locations,
        name_prefixes,
        principal_prefixes,
        search,
    )
    # Plain ids from the cursor: a thousand through the ORM's iterator cost a millisecond.
    ordered = _ordered(people, after, by_name).values_list("id")[: size + 1]
    sql, params = ordered.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    shown = ids[:size]
    return (_items(shown, fields) if shown else ""), (shown[-1] if len(ids) > size else None)


def _items(shown: list[int], fields: Sequence[str]) -> str:
    """The users ``shown`` (ids, in the page's order) as JSON objects, comma-separated."""
    ordered = [f for f in fields if f not in _LICENSING] + [f for f in fields if f in _LICENSING]
    # Property names are ours (_PROPERTIES' keys), so they can be written into the SQL.
    item = " || ',' || ".join(f"'{json.dumps(name)}:' || {_PROPERTIES[name]}" for name in ordered)
    joins = ""
    if _LICENSING.intersection(fields):
        joins = f"""LEFT JOIN ({_HELD}) h ON h.user_id = u.id
                  LEFT JOIN licensing_product p ON p.id = h.product_id"""
    sql = f"""
        SELECT string_agg(t.item, ',' ORDER BY t.place) FROM (
          SELECT shown.place, '{{' || {item} || '}}' AS item
          FROM licensing_directoryuser u
          JOIN unnest(%(shown)s::bigint[]) WITH ORDINALITY AS shown(id, place) ON shown.id = u.id
          {joins}
          -- the page's id range, so that the users and rows are read by index, not scanned
          WHERE u.id BETWEEN %(low)s AND %(high)s
          GROUP BY u.id, shown.place
        ) t
    """
    # The ids as one array literal: psycopg adapting 999 ints one by one costs a millisecond.
    literal = "{" + ",".join(map(str, shown)) + "}"
    with connection.cursor() as cursor:
        cursor.execute(sql, {"shown": literal, "low": min(shown), "high": max(shown)})
        return cursor.fetchone()[0]


def picked_users(*, tenant: Tenant, ids: Iterable) -> list[DirectoryUser]:
    """The tenant's users with these ids (as a form sent them), in that order, each once (one
    query). A malformed id is ``InvalidInput``; ids of no user of the tenant are ``NotFound``,
    named all at once, another tenant's as any unknown one."""
    wanted = [parse_guid(i) for i in ids]
    found = {u.public_id: u for u in users_by_ids(tenant=tenant, public_ids=wanted)}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise NotFound(
            _("Users not found in this organization: %(ids)s") % {"ids": ", ".join(missing)}
        )
    return [found[i] for i in dict.fromkeys(wanted)]
