"""Set-based application of one group's licenses to a batch of its members (PostgreSQL).

The reconciler (``licensing.reconcile``) derives rows in Python, user by user; that is exact
for any mix of paths but takes seconds for a group of 100,000. Most members of a big group
are *simple*: the group is their only path to any product. For them the rules reduce to:

* their claim is this group's paths, so whether it is valid, and the state and error of each
  path once granted, depend only on their effective usage location (decided once per
  location by ``_kind``, which lets ``licensing.reconcile.decide`` decide one such member);
* the seats they hold are the group's products they hold now; a valid claim keeps them and
  needs the missing ones;
* when every member that needs a seat can have one (no shortage, counting waiting claims and
  the batch's other members too), order does not matter and all are granted; when all of them
  miss the same products, the first N in claim order are granted, N being the seats left.

Those members are written set-based, in chunks of members: ``INSERT … SELECT`` for members
without rows of the group, ``UPDATE … FROM`` (changed rows only) for members with all of
them, and ``INSERT … ON CONFLICT DO UPDATE`` for the rest.
Everything else (members with other paths, soft-deleted members, shortages of any other
shape) is left to the reconciler, which the caller runs for the members returned. The tests
check both give the same rows (tests/licensing/test_group_processing.py).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from django.db import connection
from django.utils import timezone

from licensing.catalog_store import current_catalog
from licensing.models import (
    SEAT_STATES,
    Group,
    LicenseAssignment,
    Tenant,
)
from licensing.reconcile import Facts, decide, group_path, seat_totals
from licensing.rules import COUNT, ERROR, Catalog, UserFacts
from licensing.seats import adjust_assigned, recount_errors

# rules.effective_location in SQL (a test pins the two together).
EFFECTIVE_LOCATION_SQL = "COALESCE(NULLIF(u.usage_location, ''), %(country)s)"
# A claim waiting for a seat, as the queries below ask for it: the rules' own values.
WAITING = {"error": ERROR, "count": COUNT}

_MEMBERS_SQL = """
WITH batch AS MATERIALIZED (
    SELECT unnest(%(users)s::bigint[]) AS user_id
),
held AS (
    SELECT l.user_id,
           array_agg(l.product_id) FILTER (WHERE l.state = ANY(%(seat)s::text[])) AS products,
           array_agg(l.product_id) FILTER (WHERE l.state = %(error)s AND l.error = %(count)s)
               AS waiting,
           count(*) AS paths
    FROM batch JOIN licensing_userlicense l ON l.user_id = batch.user_id
    WHERE l.via_group_id = %(group)s
    GROUP BY l.user_id
),
other_paths AS (
    SELECT l.user_id
    FROM batch JOIN licensing_userlicense l ON l.user_id = batch.user_id
    WHERE l.via_group_id IS DISTINCT FROM %(group)s
    UNION
    SELECT a.user_id
    FROM batch JOIN licensing_licenseassignment a ON a.user_id = batch.user_id
    UNION
    SELECT m.user_id
    FROM batch JOIN licensing_groupmembership m ON m.user_id = batch.user_id
    JOIN licensing_licenseassignment a ON a.group_id = m.group_id
    WHERE m.group_id <> %(group)s
)
SELECT {location},
       u.soft_deleted_at IS NOT NULL OR o.user_id IS NOT NULL,
       COALESCE(array_to_string(h.products, ','), ''),
       COALESCE(h.paths, 0),
       COALESCE(array_to_string(h.waiting, ','), ''),
       count(*),
       string_agg(u.id::text, ',')
FROM batch
JOIN licensing_directoryuser u ON u.id = batch.user_id AND u.tenant_id = %(tenant)s
LEFT JOIN held h ON h.user_id = batch.user_id
LEFT JOIN other_paths o ON o.user_id = batch.user_id
GROUP BY 1, 2, 3, 4, 5
""".replace("{location}", EFFECTIVE_LOCATION_SQL)

_ROWS = """
SELECT %(tenant)s, b.user_id, v.product_id, v.assignment_id, %(group)s, v.disabled,
       v.state, v.error, %(now)s
FROM unnest(%(users)s::bigint[], %(variants)s::int[]) AS b(user_id, variant)
JOIN (VALUES {values}) AS v(variant, assignment_id, product_id, disabled, state, error)
  ON v.variant = b.variant
"""
_COLUMNS = """licensing_userlicense (tenant_id, user_id, product_id, assignment_id, via_group_id,
    disabled_plans, state, error, last_updated)"""
# Members without a row of the group yet: a plain INSERT … SELECT.
_INSERT_SQL = f"INSERT INTO {_COLUMNS} {_ROWS}"
# Members with a row for every product of the group: UPDATE … FROM, changed rows only.
_UPDATE_SQL = """
UPDATE licensing_userlicense AS l
SET disabled_plans = v.disabled, state = v.state, error = v.error,
    last_updated = %(now)s
FROM unnest(%(users)s::bigint[], %(variants)s::int[]) AS b(user_id, variant)
JOIN (VALUES {values}) AS v(variant, assignment_id, product_id, disabled, state, error)
  ON v.variant = b.variant
WHERE l.user_id = b.user_id AND l.assignment_id = v.assignment_id
  AND (l.state, l.error, l.disabled_plans)
      IS DISTINCT FROM (v.state, v.error, v.disabled)
"""
# Members with rows for some products (a product added to the group): both, ON CONFLICT.
_UPSERT_SQL = f"""
INSERT INTO {_COLUMNS} {_ROWS}
ON CONFLICT (assignment_id, user_id) DO UPDATE
SET disabled_plans = EXCLUDED.disabled_plans, state = EXCLUDED.state, error = EXCLUDED.error,
    last_updated = EXCLUDED.last_updated
WHERE (licensing_userlicense.state, licensing_userlicense.error,
       licensing_userlicense.disabled_plans)
  IS DISTINCT FROM (EXCLUDED.state, EXCLUDED.error, EXCLUDED.disabled_plans)
"""

_WAITING_SQL = """
SELECT product_id, count(DISTINCT user_id)
FROM licensing_userlicense
WHERE tenant_id = %(tenant)s AND product_id = ANY(%(products)s)
  AND state = %(error)s AND error = %(count)s
GROUP BY product_id
"""


def apply_members(
    *, tenant: Tenant, group: Group, user_ids: list[int], chunk: int
) -> tuple[list[int], Counter]:
    """Apply the group's licenses to these members (in claim order: every member the run
    has, decided at once), with the seats locked, writing ``chunk`` members per statement.

    Returns the members left to the reconciler, and the seats freed here (the reconciler hands
    them out, in the same evaluation as those members). On a database other than PostgreSQL
    every member is left to the reconciler.
    """
    if connection.vendor != "postgresql" or not user_ids:
        return list(user_ids), Counter()
    found = list(
        LicenseAssignment.objects.filter(group=group)
        .order_by("created_at", "id")
        .values_list("id", "product_id", "disabled_plans", "created_at")
    )
    assignments = [(a, p, d) for a, p, d, _ in found]
    if [a for a, _, _ in assignments] != sorted(a for a, _, _ in assignments):
        # Claim order between the group's own paths follows creation, then id; when the two
        # disagree the reconciler works it out per member.
        return list(user_ids), Counter()
    products = frozenset(p for _, p, _ in assignments)
    with connection.cursor() as cursor:
        cursor.execute(
            _MEMBERS_SQL,
            {
                "country": str(tenant.country),
                "group": group.id,
                "seat": _array(SEAT_STATES),
                "users": _array(user_ids),
                "tenant": tenant.id,
                **WAITING,
            },
        )
        rows = cursor.fetchall()
    # Members alike in usage location, seats held and rows present are decided together; each
    # group of them comes as one text of ids ("17,18,20"), parsed only where a decision needs
    # single members, and sent back as it came.
    complex_members: list[int] = []
    alike: dict[tuple, _Members] = defaultdict(_Members)
    waiting_here: Counter = Counter()
    for location, is_complex, held, paths, waiting, count, ids in rows:
        if is_complex:
            complex_members.extend(int(i) for i in ids.split(","))
            continue
        alike[(location, _ids(held), paths)].add(ids, count)
        waiting_here.update({p: count for p in _ids(waiting)})
    if not assignments:
        # No intent left: the rows went with it; only members with other paths can change.
        return _in_order(complex_members, user_ids), Counter()

    catalog = current_catalog()
    outcomes = {loc: _kind(found, loc, catalog) for loc, _, _ in alike}
    needing = {key: products - key[1] for key in alike if outcomes[key[0]][0]}
    needing = {key: missing for key, missing in needing.items() if missing}
    granted = _grant(tenant, products, alike, needing, complex_members, user_ids, waiting_here)
    if granted is None:
        return list(user_ids), Counter()

    variants = _Variants(assignments)
    writes = {_INSERT_SQL: ([], []), _UPDATE_SQL: ([], []), _UPSERT_SQL: ([], [])}
    deltas: Counter = Counter()
    released: Counter = Counter()
    for key, members in alike.items():
        location, held, paths = key
        valid, got_seats, refused = outcomes[location]
        users, failing = members.text(), 0
        if not valid:
            codes, failing = _repeat(variants.add(refused), members.count), members.count
        else:
            code = variants.add(got_seats)
            codes = _repeat(code, members.count)
            if key in needing:
                taking = members.count
                if granted is not ALL:
                    ids, no_seat = members.ids(), variants.add(refused)
                    per_member = [code if u in granted else no_seat for u in ids]
                    users, codes = _csv(ids), _csv(per_member)
                    taking = per_member.count(code)
                    failing = members.count - taking
                deltas.update({p: taking for p in needing[key]})
        # A member whose claim fails gives back the seats they held (their only path).
        deltas.subtract({p: failing for p in held})
        released.update({p: failing for p in held if failing})
        sql = {0: _INSERT_SQL, len(assignments): _UPDATE_SQL}.get(paths, _UPSERT_SQL)
        writes[sql][0].append(users)
        writes[sql][1].append(codes)
    for sql, (users, codes) in writes.items():
        if users:
            _write(sql, tenant, group, ",".join(users), ",".join(codes), variants, chunk)
    adjust_assigned(tenant, deltas)
    # Only this group's rows were written: its counters are recounted, not worked out.
    recount_errors([group.id])
    return _in_order(complex_members, user_ids), released


def _kind(assignments: list[tuple], location: str, catalog: Catalog):
    """How the rules decide a member whose only paths are the group's ``assignments`` (id,
    product, disabled plans, created), in this usage location: whether the claim can work,
    and each path's (state, error) with the seats it needs and without. Decided by
    ``licensing.reconcile.decide`` on the facts of one such member, once with a seat of every
    product free and once with none."""
    since = min(created for *_, created in assignments)
    member = {0: UserFacts(location=location)}
    intent = [
        group_path(a_id, 0, product_id, -1, disabled, created, since)
        for a_id, product_id, disabled, created in assignments
    ]
    products = {product_id for _, product_id, _, _ in assignments}
    outcomes = []
    for seats in (1, 0):
        facts = Facts(member, intent, {}, dict.fromkeys(products, seats), {})
        desired, _assigned, _released = decide(facts, catalog)
        outcomes.append({a_id: (want.state, want.error) for (a_id, _), want in desired.items()})
    seated, waiting = outcomes
    valid = all(state in SEAT_STATES for state, _ in seated.values())
    return valid, seated, waiting


ALL = object()  # every member that needs a seat gets one


class _Members:
    """Members decided alike: their ids as texts from the database, and how many."""

    def __init__(self):
        self.texts: list[str] = []
        self.count = 0

    def add(self, ids: str, count: int) -> None:
        self.texts.append(ids)
        self.count += count

    def text(self) -> str:
        return ",".join(self.texts)

    def ids(self) -> list[int]:
        return [int(i) for text in self.texts for i in text.split(",")]


def _repeat(code: int, times: int) -> str:
    return ",".join([str(code)] * times)


def _csv(values) -> str:
    return ",".join(str(v) for v in values)


def _in_order(members: list[int], batch: list[int]) -> list[int]:
    wanted = set(members)
    return [u for u in batch if u in wanted]


def _ids(text: str) -> frozenset[int]:
    return frozenset(int(p) for p in text.split(",") if p)


def _array(values) -> str:
    """A PostgreSQL array literal: much faster to send than a list of 25,000 parameters."""
    return "{" + _csv(values) + "}"


def _grant(
    tenant: Tenant,
    products: frozenset[int],
    alike: dict[tuple, _Members],
    needing: dict[tuple, frozenset[int]],
    complex_members: list[int],
    batch: list[int],
    waiting_here: Counter,
) -> set[int] | object | None:
    """Which members needing seats get them (``ALL`` of them, or a set), or None when only the
    reconciler can say."""
    if not needing:
        return ALL
    total, assigned = seat_totals(tenant, products)
    available = {p: total.get(p, 0) - assigned.get(p, 0) for p in products}
    demand = Counter()
    for key, missing in needing.items():
        for p in missing:
            demand[p] += alike[key].count
    waiting = _waiting(tenant, products)
    # Claims waiting outside the batch (counting complex members' and soft-deleted users'
    # too: an overestimate only sends more members to the reconciler).
    waiting.subtract(waiting_here)
    if all(demand[p] + len(complex_members) + waiting[p] <= available[p] for p in products):
        return ALL
    missing_sets = set(needing.values())
    if complex_members or len(missing_sets) != 1 or any(n > 0 for n in waiting.values()):
        return None
    # All of them miss the same products: the first N in claim order get the N seats left.
    (missing,) = missing_sets
    seats = max(0, min(available[p] for p in missing))
    everyone = {u for key in needing for u in alike[key].ids()}
    return set([u for u in batch if u in everyone][:seats])


def _waiting(tenant: Tenant, products: frozenset[int]) -> Counter:
    """Users waiting for a seat of these products (CountViolation), per product."""
    with connection.cursor() as cursor:
        cursor.execute(_WAITING_SQL, {"tenant": tenant.id, "products": sorted(products), **WAITING})
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


def _write(
    sql: str, tenant: Tenant, group: Group, users: str, codes: str, variants, chunk: int
) -> None:
    """Write the members (ids "17,18") with their outcomes (variant numbers "1,1"),
    ``chunk`` members per statement."""
    users_list, codes_list = users.split(","), codes.split(",")
    for i in range(0, len(users_list), chunk):
        _write_chunk(
            sql,
            tenant,
            group,
            ",".join(users_list[i : i + chunk]),
            ",".join(codes_list[i : i + chunk]),
            variants,
        )


def _write_chunk(sql: str, tenant: Tenant, group: Group, users: str, codes: str, variants):
    params = {
        "tenant": tenant.id,
        "group": group.id,
        "now": timezone.now(),
        "users": "{" + users + "}",
        "variants": "{" + codes + "}",
    }
    values = []
    for i, row in enumerate(variants.rows()):
        names = [f"v{i}_{j}" for j in range(len(row))]
        params.update(zip(names, row, strict=True))
        values.append(
            "(%({})s::int, %({})s::bigint, %({})s::bigint, %({})s::jsonb, %({})s, %({})s)".format(
                *names
            )
        )
    with connection.cursor() as cursor:
        cursor.execute(sql.format(values=", ".join(values)), params)
