"""Set-based application of one group's licenses to a batch of its members (PostgreSQL).

The reconciler (``licensing.reconcile``) derives rows in Python, user by user; that is exact
for any mix of paths but takes seconds for a group of 100,000. Most members of a big group
are *simple*: the group is their only path to any product. For them the rules reduce to:

* their claim is this group's paths, so whether it is valid, and the state and error of each
  path once granted, depend only on their effective usage location (computed here once per
  location with the reconciler's own ``_claims_for_user``);
* the seats they hold are the group's products they hold now; a valid claim keeps them and
  needs the missing ones;
* when every member that needs a seat can have one (no shortage, counting waiting claims and
  the batch's other members too), order does not matter and all are granted; when all of them
  miss the same products, the first N in claim order are granted, N being the seats left.

Those members are written with one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` per batch.
Everything else (members with other paths, soft-deleted members, shortages of any other
shape) is left to the reconciler, which the caller runs for the members returned. The tests
check both give the same rows (tests/licensing/test_group_processing.py).
"""

from __future__ import annotations

import json
from collections import Counter

from django.db import connection
from django.utils import timezone

from licensing.models import (
    SEAT_STATES,
    Group,
    LicenseAssignment,
    LicenseError,
    LicenseState,
    Tenant,
    UserLicense,
)
from licensing.reconcile import Catalog, PathIntent, _claims_for_user, _seat_totals

_MEMBERS_SQL = """
SELECT u.id,
       COALESCE(NULLIF(u.usage_location, ''), %(country)s),
       u.soft_deleted_at IS NOT NULL
         OR EXISTS (SELECT 1 FROM licensing_licenseassignment a WHERE a.user_id = u.id)
         OR EXISTS (SELECT 1 FROM licensing_groupmembership m
                    JOIN licensing_licenseassignment a ON a.group_id = m.group_id
                    WHERE m.user_id = u.id AND m.group_id <> %(group)s)
         OR EXISTS (SELECT 1 FROM licensing_userlicense l
                    WHERE l.user_id = u.id AND l.via_group_id IS DISTINCT FROM %(group)s),
       ARRAY(SELECT l.product_id FROM licensing_userlicense l
             WHERE l.user_id = u.id AND l.via_group_id = %(group)s AND l.state = ANY(%(seat)s))
FROM licensing_directoryuser u
WHERE u.id = ANY(%(users)s) AND u.tenant_id = %(tenant)s
"""

_UPSERT_SQL = """
INSERT INTO licensing_userlicense
    (tenant_id, user_id, product_id, assignment_id, via_group_id, disabled_plans, state, error,
     last_updated)
SELECT %(tenant)s, b.user_id, v.product_id, v.assignment_id, %(group)s, v.disabled::jsonb,
       v.state, v.error, %(now)s
FROM unnest(%(users)s::bigint[], %(variants)s::int[]) AS b(user_id, variant)
JOIN (VALUES {values}) AS v(variant, assignment_id, product_id, disabled, state, error)
  ON v.variant = b.variant
ON CONFLICT (assignment_id, user_id) DO UPDATE
SET disabled_plans = EXCLUDED.disabled_plans, state = EXCLUDED.state, error = EXCLUDED.error,
    last_updated = EXCLUDED.last_updated
WHERE (licensing_userlicense.state, licensing_userlicense.error,
       licensing_userlicense.disabled_plans)
  IS DISTINCT FROM (EXCLUDED.state, EXCLUDED.error, EXCLUDED.disabled_plans)
"""

_WAITING_SQL = """
SELECT l.product_id, count(DISTINCT l.user_id)
FROM licensing_userlicense l
JOIN licensing_directoryuser u ON u.id = l.user_id
LEFT JOIN unnest(%(users)s::bigint[]) AS b(user_id) ON b.user_id = l.user_id
WHERE l.tenant_id = %(tenant)s AND l.product_id = ANY(%(products)s)
  AND l.state = 'Error' AND l.error = 'CountViolation'
  AND u.soft_deleted_at IS NULL AND b.user_id IS NULL
GROUP BY l.product_id
"""


def apply_members(*, tenant: Tenant, group: Group, user_ids: list[int]) -> tuple[list[int], bool]:
    """Apply the group's licenses to these members (in claim order), with the seats locked.

    Returns the members left to the reconciler, and whether seats were freed (so that the
    caller hands them to waiting claims). On a database other than PostgreSQL every member
    is left to the reconciler.
    """
    if connection.vendor != "postgresql" or not user_ids:
        return list(user_ids), False
    assignments = list(
        LicenseAssignment.objects.filter(group=group)
        .order_by("created_at", "id")
        .values_list("id", "product_id", "disabled_plans")
    )
    if not assignments:
        # No intent left: the rows went with it; only members with other paths can change.
        return _complex_members(tenant, group, user_ids), False
    if [a for a, _, _ in assignments] != sorted(a for a, _, _ in assignments):
        # Claim order between the group's own paths follows creation, then id; when the two
        # disagree the reconciler works it out per member.
        return list(user_ids), False
    products = frozenset(p for _, p, _ in assignments)
    catalog = Catalog.load()
    with connection.cursor() as cursor:
        cursor.execute(
            _MEMBERS_SQL,
            {
                "country": str(tenant.country),
                "group": group.id,
                "seat": list(map(str, SEAT_STATES)),
                "users": user_ids,
                "tenant": tenant.id,
            },
        )
        found = {row[0]: row[1:] for row in cursor.fetchall()}

    variants = _Variants(assignments)
    complex_members: list[int] = []
    simple: list[tuple[int, str, frozenset[int]]] = []
    for user_id in user_ids:
        location, is_complex, held = found[user_id]
        if is_complex:
            complex_members.append(user_id)
        else:
            simple.append((user_id, location, frozenset(held)))

    outcomes = {loc: _outcome(assignments, loc, catalog) for loc in {s[1] for s in simple}}
    needers = [
        (user_id, products - held)
        for user_id, loc, held in simple
        if outcomes[loc][0] and products - held
    ]
    granted = _grant(tenant, group, products, needers, len(complex_members), user_ids)
    if granted is None:
        return list(user_ids), False

    count_violation = variants.add(
        {a: (LicenseState.ERROR, LicenseError.COUNT) for a, _, _ in assignments}
    )
    codes_for = {
        loc: variants.add(states) if valid else variants.add(errors)
        for loc, (valid, states, errors) in outcomes.items()
    }
    users, codes, freed = [], [], False
    for user_id, loc, held in simple:
        valid = outcomes[loc][0]
        code = codes_for[loc]
        if valid and not (held >= products or user_id in granted):
            code = count_violation
        # A member whose claim fails gives back the seats they held.
        freed |= bool(held) and (code == count_violation or not valid)
        users.append(user_id)
        codes.append(code)
    if users:
        _upsert(tenant, group, users, codes, variants)
    return complex_members, freed


def _complex_members(tenant: Tenant, group: Group, user_ids: list[int]) -> list[int]:
    """Members with a path other than this group (or soft-deleted), in the given order."""
    others = set(
        UserLicense.objects.filter(user_id__in=user_ids)
        .exclude(via_group=group)
        .values_list("user_id", flat=True)
    )
    others |= set(
        LicenseAssignment.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True)
    )
    others |= set(
        LicenseAssignment.objects.filter(group__memberships__user_id__in=user_ids)
        .exclude(group=group)
        .values_list("group__memberships__user_id", flat=True)
    )
    return [u for u in user_ids if u in others]


def _outcome(assignments, location: str, catalog: Catalog) -> tuple[bool, dict, dict]:
    """For a member whose only paths are this group's, in this usage location: whether the
    claim is valid, each path's (state, error) once granted, and each path's error if not."""
    paths = [
        PathIntent(a_id, 0, product_id, -1, tuple(disabled), (i,))
        for i, (a_id, product_id, disabled) in enumerate(assignments)
    ]
    (claim,) = _claims_for_user(paths, location, catalog)
    granted = {
        p.assignment_id: (
            (LicenseState.ACTIVE_WITH_ERROR, claim.soft_errors[p.assignment_id])
            if p.assignment_id in claim.soft_errors
            else (LicenseState.ACTIVE, LicenseError.NONE)
        )
        for p in paths
    }
    errors = {a: (LicenseState.ERROR, e) for a, e in claim.errors.items()}
    return claim.valid, granted, errors


def _grant(
    tenant: Tenant,
    group: Group,
    products: set[int],
    needers: list[tuple[int, frozenset[int]]],
    complex_count: int,
    batch: list[int],
) -> set[int] | None:
    """Which members needing seats get them, or None when only the reconciler can say."""
    if not needers:
        return set()
    total, assigned = _seat_totals(tenant, products)
    available = {p: total.get(p, 0) - assigned.get(p, 0) for p in products}
    demand = Counter(p for _, missing in needers for p in missing)
    waiting = _waiting_elsewhere(tenant, products, batch)
    if all(demand[p] + complex_count + waiting[p] <= available[p] for p in products):
        return {user_id for user_id, _ in needers}
    missing_sets = {missing for _, missing in needers}
    if complex_count or len(missing_sets) != 1 or any(waiting.values()):
        return None
    (missing,) = missing_sets
    seats = max(0, min(available[p] for p in missing))
    return {user_id for user_id, _ in needers[:seats]}


def _waiting_elsewhere(tenant: Tenant, products: set[int], batch: list[int]) -> Counter:
    """Claims outside the batch waiting for a seat of these products (CountViolation)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _WAITING_SQL, {"tenant": tenant.id, "products": sorted(products), "users": batch}
        )
        return Counter(dict(cursor.fetchall()))


class _Variants:
    """The distinct per-path outcomes of a batch, numbered for the upsert's VALUES list."""

    def __init__(self, assignments):
        self.assignments = assignments
        self.codes: dict[tuple, int] = {}

    def add(self, states: dict[int, tuple[str, str]]) -> int:
        key = tuple(sorted((a, str(s), str(e)) for a, (s, e) in states.items()))
        return self.codes.setdefault(key, len(self.codes))

    def rows(self) -> list[tuple]:
        disabled = {a: json.dumps(sorted(d)) for a, _, d in self.assignments}
        product = {a: p for a, p, _ in self.assignments}
        return [
            (code, a, product[a], disabled[a], state, error)
            for key, code in self.codes.items()
            for a, state, error in key
        ]


def _upsert(tenant: Tenant, group: Group, users: list[int], codes: list[int], variants) -> None:
    params = {
        "tenant": tenant.id,
        "group": group.id,
        "now": timezone.now(),
        "users": users,
        "variants": codes,
    }
    values = []
    for i, row in enumerate(variants.rows()):
        names = [f"v{i}_{j}" for j in range(len(row))]
        params.update(zip(names, row, strict=True))
        values.append(
            "(%({})s::int, %({})s::bigint, %({})s::bigint, %({})s, %({})s, %({})s)".format(*names)
        )
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_SQL.format(values=", ".join(values)), params)
