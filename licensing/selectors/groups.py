"""Groups as the pages, the API and SCIM read them."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from django.core.paginator import Page
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q

from licensing.models import (
    SEAT_STATES,
    DirectoryUser,
    Group,
    GroupMembership,
    LicenseAssignment,
    LicenseError,
    LicenseState,
    Product,
    Tenant,
    UserLicense,
)
from licensing.selectors._shared import (
    PER_PAGE,
    Window,
    counted_page,
    keyset,
    keyset_by,
    page_number,
    page_of,
    window_of,
    word_start,
)


def group(*, tenant: Tenant, public_id) -> Group | None:
    """The tenant's group with this id, or None: another tenant's group is not found."""
    return Group.objects.filter(tenant=tenant, public_id=public_id).first()


def listed_groups(
    *, tenant: Tenant, search: str = "", order_by: Sequence[str] = ("name", "id"), page=1
) -> Page:
    """A page of the tenant's groups with their member and license counts, matching
    ``search`` in the name, in this order (two queries: the count, the page)."""
    found = Group.objects.filter(tenant=tenant)
    if search:
        found = found.filter(name__icontains=search)
    return page_of(found.with_license_counts().order_by(*order_by), page)


def groups_named(*, tenant: Tenant, search: str = "", limit: int = 20) -> list[Group]:
    """At most ``limit`` of the tenant's groups matching ``search``, by name: the pickers."""
    found = Group.objects.filter(tenant=tenant)
    if search:
        found = found.filter(name__icontains=search)
    return list(found.order_by("name")[:limit])


def groups_by_ids(*, tenant: Tenant, public_ids: Iterable) -> list[Group]:
    """The tenant's groups with these ids, by name (another tenant's are not found: compare
    the lengths)."""
    return list(
        Group.objects.filter(tenant=tenant, public_id__in=list(public_ids)).order_by("name")
    )


def groups_in_error(*, tenant: Tenant) -> list[Group]:
    """The tenant's groups with members in license error, by name (Licenses > Overview)."""
    return list(Group.objects.filter(tenant=tenant).with_license_errors().order_by("name"))


def licensed_groups(*, tenant: Tenant, product: Product) -> list[Group]:
    """The tenant's groups that assign this product, with their counts for it, by name."""
    return list(
        Group.objects.filter(tenant=tenant, assignments__product=product)
        .with_license_counts(product=product)
        .order_by("name")
    )


def members(*, tenant: Tenant, group: Group, page=1) -> Window:
    """A page of the group's members by name; not counted (one query: a group of 60,000 is
    not read to show 50)."""
    found = DirectoryUser.objects.filter(tenant=tenant, memberships__group=group)
    return window_of(found.order_by("display_name", "id"), page)


def member_candidates(
    *, tenant: Tenant, group: Group, search: str, limit: int = 20
) -> list[DirectoryUser]:
    """At most ``limit`` of the tenant's users, not deleted and not in the group, matching
    ``search`` in the name or user principal name: who Add members offers."""
    if not search:
        return []
    return list(
        DirectoryUser.objects.active()
        .filter(tenant=tenant)
        .filter(Q(display_name__icontains=search) | Q(user_principal_name__icontains=search))
        .exclude(memberships__group=group)
        .order_by("display_name")[:limit]
    )


def is_licensed(*, tenant: Tenant, group: Group) -> bool:
    """Whether the group assigns any product."""
    return LicenseAssignment.objects.filter(tenant=tenant, group=group).exists()


class Member(NamedTuple):
    """A member as a line of the blade's error list names it: fifty of them per page, read
    as plain values (model instances for them, their licenses and products cost a third of
    the page)."""

    public_id: uuid.UUID
    display_name: str
    user_principal_name: str


def license_blade(*, tenant: Tenant, group: Group, page=1, search: str = "") -> dict:
    """The group's Licenses blade: its assignments by product name; one page of its members in
    error (``error_page``, a window of 50, in the order the users were made), each with the
    products that failed and the most common reason (``in_error``, the user a ``Member``); how
    many members are in error in all (``error_count``, the counter of ``group`` as the caller
    read it); and, with ``search``, only the members
    in error whose name or user principal name contains it, and how many they are
    (``matching_count``). Two queries (three with a search longer than a page), each over an
    index of the group's rows in Error, whatever the group's size: a search reads the group's
    rows in Error and their users, never the group's other members."""
    assignments = list(
        LicenseAssignment.objects.filter(tenant=tenant, group=group)
        .select_related("product")
        .order_by("product__display_name")
    )
    # The page's users and one more, as a subquery of the query that reads their rows: the
    # one more says whether there is a next page, and is dropped.
    number = page_number(page)
    offset = (number - 1) * PER_PAGE
    by_user: dict[int, dict] = {}
    for user_id, public_id, name, upn, product_id, error in _error_page(
        tenant, group, search, offset, PER_PAGE + 1
    ):
        if not isinstance(public_id, uuid.UUID):
            public_id = uuid.UUID(public_id)  # SQLite's text
        line = by_user.setdefault(
            user_id, {"user": Member(public_id, name, upn), "failed": [], "reasons": Counter()}
        )
        line["failed"].append(product_id)
        line["reasons"][error] += 1
    # The products by name from the group's assignments (a join less to plan: its planning
    # cost more than the query); a row of a product the group no longer assigns, read apart.
    names = {a.product_id: a.product.display_name for a in assignments}
    failed = {pid for line in by_user.values() for pid in line["failed"]}
    if failed - names.keys():
        names.update(
            Product.objects.filter(id__in=failed - names.keys()).values_list("id", "display_name")
        )
    for line in by_user.values():
        line["failed"] = sorted(names[pid] for pid in line["failed"])
    shown = list(by_user)[:PER_PAGE]
    window = Window(shown, number, PER_PAGE, has_next=len(by_user) > PER_PAGE)
    reasons = dict(LicenseError.choices)
    in_error = [
        {**line, "top_reason": reasons.get(line["reasons"].most_common(1)[0][0], "")}
        for line in (by_user[user_id] for user_id in shown)
    ]
    # All of them by the group's counter, as the group was read for this request (a query more
    # would only read it again); the matching ones by the page when it is the whole list, else
    # over the group's rows in Error.
    error_count = group.error_counter if group.tenant_id == tenant.id else 0
    if not search:
        matching_count = error_count
    else:
        matching_count = (
            _in_error(tenant, group)
            .filter(
                Q(user__display_name__icontains=search)
                | Q(user__user_principal_name__icontains=search)
            )
            .values("user_id")
            .distinct()
            .count()
            if window.has_other_pages
            else len(in_error)
        )
    return {
        "assignments": assignments,
        "in_error": in_error,
        "error_page": window,
        "error_count": error_count,
        "matching_count": matching_count,
    }


def _in_error(tenant: Tenant, group: Group):
    return UserLicense.objects.filter(tenant=tenant, via_group=group, state=LicenseState.ERROR)


# A page of a group's members in error (their ids in order, ``limit`` from ``offset``; with a
# search, only those whose name or user principal name contains it, in any case, as Django's
# icontains on PostgreSQL) with their rows in Error. Plain SQL for both databases: on the
# page of a group of 60,000, building and compiling it as querysets cost more than running it.
_ERROR_PAGE = """
SELECT r.user_id, u.public_id, u.display_name, u.user_principal_name, r.product_id, r.error
FROM {rows} r JOIN {users} u ON u.id = r.user_id
WHERE r.tenant_id = %s AND r.via_group_id = %s AND r.state = %s AND r.user_id IN (
    SELECT DISTINCT e.user_id FROM {rows} e{search_join}
    WHERE e.tenant_id = %s AND e.via_group_id = %s AND e.state = %s{search}
    ORDER BY e.user_id LIMIT %s OFFSET %s
)
ORDER BY r.user_id
"""
_ERROR_SEARCH = (
    " AND (UPPER(s.display_name) LIKE UPPER(%s) ESCAPE '\\'"
    " OR UPPER(s.user_principal_name) LIKE UPPER(%s) ESCAPE '\\')"
)


def _error_page(tenant: Tenant, group: Group, search: str, offset: int, limit: int) -> list:
    rows, users = UserLicense._meta.db_table, DirectoryUser._meta.db_table
    where = (tenant.id, group.id, LicenseState.ERROR)
    params: list = [*where, *where]
    if search:
        pattern = f"%{connection.ops.prep_for_like_query(search)}%"
        params += [pattern, pattern]
    sql = _ERROR_PAGE.format(
        rows=rows,
        users=users,
        search_join=f" JOIN {users} s ON s.id = e.user_id" if search else "",
        search=_ERROR_SEARCH if search else "",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit, offset])
        return cursor.fetchall()


def _counter(tenant: Tenant, group: Group, field: str) -> int:
    """One of the counters the engine keeps on the tenant's group (``member_counter``,
    ``error_counter``), read now: the group at hand may be older than its counter. One query;
    0 for another tenant's group, with none, and for a group deleted meanwhile."""
    if group.tenant_id != tenant.id:
        return 0
    return Group.objects.filter(id=group.id).values_list(field, flat=True).first() or 0


def member_counts(*, tenant: Tenant, groups: Iterable[Group]) -> dict[int, int]:
    """Group id → how many members it has, for the tenant's groups among ``groups`` (their
    member counters, one query whatever the groups' size; none for no groups)."""
    ids = [g.id for g in groups if g.tenant_id == tenant.id]
    if not ids:
        return {}
    return dict(Group.objects.filter(tenant=tenant, id__in=ids).values_list("id", "member_counter"))


def license_outcomes(
    *, tenant: Tenant, groups: Iterable[Group], products: Iterable[Product]
) -> list[dict]:
    """After assigning ``products`` to ``groups``, per group as it is now (by name): whether
    its run is complete (``complete``); if so, how many members hold one of the products
    through it (``licensed``), how many are in error with them (``failed``, as the run counts
    them: ``licensing.processing``), and the members in error per reason, most first
    (``errors``: [(label, n)]). Three queries at most, whatever the groups' size."""
    ids = [g.id for g in groups if g.tenant_id == tenant.id]
    if not ids:
        return []
    current = list(Group.objects.filter(tenant=tenant, id__in=ids).order_by("name", "id"))
    done = [g.id for g in current if not g.is_processing]
    counts: dict[int, dict] = {}
    reasons: dict[int, Counter] = defaultdict(Counter)
    if done:
        rows = UserLicense.objects.filter(
            tenant=tenant, via_group_id__in=done, product__in=list(products)
        )
        counts = {
            row["via_group_id"]: row
            for row in rows.values("via_group_id")
            .annotate(
                licensed=Count("user_id", distinct=True, filter=Q(state__in=SEAT_STATES)),
                failed=Count("user_id", distinct=True, filter=Q(state=LicenseState.ERROR)),
            )
            .order_by()
        }
        for group_id, error, n in (
            rows.filter(state=LicenseState.ERROR)
            .values("via_group_id", "error")
            .annotate(n=Count("user_id", distinct=True))
            .order_by()
            .values_list("via_group_id", "error", "n")
        ):
            reasons[group_id][error] = n
    labels = dict(LicenseError.choices)
    return [
        {
            "group": g,
            "complete": not g.is_processing,
            "licensed": counts.get(g.id, {}).get("licensed", 0),
            "failed": counts.get(g.id, {}).get("failed", 0),
            "errors": [(labels.get(e, e), n) for e, n in reasons[g.id].most_common()],
        }
        for g in current
    ]


# -- SCIM's reads (portal/scim/) ---------------------------------------------------------------

# The fields a SCIM filter may name (``portal.scim.filter``), each compared ignoring case but
# ``public_id``.
MATCHABLE_GROUP_FIELDS = ("name", "external_id", "public_id")


def groups_counted_page(
    *, tenant: Tenant, matching: Mapping[str, str], offset: int, limit: int
) -> tuple[int, list[Group]]:
    """How many of the tenant's groups match, and ``limit`` of them from ``offset`` in the
    order they were made (two queries; none when an id is not a UUID). ``matching``: field →
    value, each equal ignoring case (``public_id`` exactly)."""
    return counted_page(
        Group.objects.filter(tenant=tenant),
        matching=matching,
        fields=MATCHABLE_GROUP_FIELDS,
        offset=offset,
        limit=limit,
    )


def group_member_ids(*, tenant: Tenant, groups: Iterable[Group]) -> dict[int, list[uuid.UUID]]:
    """Group id → its members' user ids (public), in claim order, for the tenant's groups among
    ``groups`` (one query; none for no groups)."""
    groups = [g for g in groups if g.tenant_id == tenant.id]
    found: dict[int, list[uuid.UUID]] = {g.id: [] for g in groups}
    for group_id, public_id in (
        GroupMembership.objects.filter(group__in=groups)
        .order_by("group_id", "added_at", "user_id")
        .values_list("group_id", "user__public_id")
    ):
        found[group_id].append(public_id)
    return found


def group_member_count(*, tenant: Tenant, group: Group) -> int:
    """How many members the tenant's group has (its member counter, read now: one query; 0 for
    another tenant's group, with none)."""
    return _counter(tenant, group, "member_counter")


# -- the Graph-compatible API's reads -----------------------------------------------------------


def _groups(
    tenant: Tenant,
    with_license_errors: Iterable[bool],
    name_prefixes: Iterable[str],
    search: Iterable[tuple[str, str]],
):
    found = Group.objects.filter(tenant=tenant)
    for wanted in with_license_errors:
        in_error = UserLicense.objects.filter(via_group=OuterRef("pk"), state=LicenseState.ERROR)
        found = found.filter(Exists(in_error) if wanted else ~Exists(in_error))
    for prefix in name_prefixes:
        found = found.filter(name__istartswith=prefix)
    for column, text in search:
        if column != "name":
            raise ValueError(f"Groups are not searched by {column}.")
        found = found.filter(word_start("name", text))
    return found


def groups_page(
    *,
    tenant: Tenant,
    after: int | None = None,
    size: int,
    with_license_errors: Iterable[bool] = (),
    name_prefixes: Iterable[str] = (),
    search: Iterable[tuple[str, str]] = (),
    by_name: bool = False,
) -> list[Group]:
    """A page of the tenant's groups, keyset-paged after the group with id ``after``
    (``_shared.keyset``; by name with ``by_name``, ``_shared.keyset_by``): ``size`` + 1 at
    most, the last one only saying that there is a next page. For each of
    ``with_license_errors``, only the groups with (True) or without (False) a member whose
    license through the group is in Error; only those whose name starts with each of
    ``name_prefixes`` (any case) and has a word starting with each ``search`` text (the
    column is ``name``). One query."""
    found = _groups(tenant, with_license_errors, name_prefixes, search)
    ordered = keyset_by(found, after=after, field="name") if by_name else keyset(found, after=after)
    return list(ordered[: size + 1])


def groups_count(
    *,
    tenant: Tenant,
    with_license_errors: Iterable[bool] = (),
    name_prefixes: Iterable[str] = (),
    search: Iterable[tuple[str, str]] = (),
) -> int:
    """How many groups ``groups_page`` pages through with these conditions (one query)."""
    return _groups(tenant, with_license_errors, name_prefixes, search).count()


def assigned_licenses(
    *, tenant: Tenant, groups: Iterable[Group]
) -> dict[int, list[tuple[str, list[str]]]]:
    """The licenses assigned to each of these groups of the tenant, per group id: (SKU id,
    disabled plans sorted), in the order they were assigned. One query (none for no
    groups); another tenant's groups have none."""
    ids = [g.id for g in groups if g.tenant_id == tenant.id]
    assigned: dict[int, list[tuple[str, list[str]]]] = defaultdict(list)
    for group_id, sku_id, disabled in (
        LicenseAssignment.objects.filter(group__in=ids)
        .order_by("group_id", "created_at", "id")
        .values_list("group_id", "product__sku_id", "disabled_plans")
    ):
        assigned[group_id].append((str(sku_id), sorted(disabled)))
    return assigned


def group_members_page(
    *,
    tenant: Tenant,
    group: Group,
    columns: Sequence[str],
    after: int | None = None,
    size: int,
    in_error: bool = False,
) -> list[dict]:
    """A page of the members of the tenant's group (deleted users too), as rows of
    ``columns`` (with ``id``), keyset-paged as ``groups_page``; with ``in_error``, only those
    whose license through the group is in Error. One query; none for another tenant's
    group, which has no members here."""
    if group.tenant_id != tenant.id:
        return []
    people = DirectoryUser.objects.filter(memberships__group=group)
    if in_error:
        errors_here = UserLicense.objects.filter(
            user=OuterRef("pk"), via_group=group, state=LicenseState.ERROR
        )
        people = people.filter(Exists(errors_here))
    return list(keyset(people.values(*columns), after=after)[: size + 1])


def is_member(*, tenant: Tenant, group: Group, user: DirectoryUser) -> bool:
    """Whether the user is a member of the tenant's group (one query; none for another
    tenant's group)."""
    if group.tenant_id != tenant.id:
        return False
    return GroupMembership.objects.filter(group=group, user=user).exists()
