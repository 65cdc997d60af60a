"""One user's direct licenses changed in a handful of statements (PostgreSQL).

The general path (``licensing.services.assignments.direct_licenses_change`` with
``licensing.reconcile``) serves any number of users and any situation, with some twenty
queries for one user. Changing one user's licenses is what scripts do all day (Graph's
``assignLicense``), so for that case this module locks the seats in one statement
(:func:`read`), reads every fact the decision needs in a second, and writes the whole change,
intent, rows, Assigned counters and the audit event, in a third (:func:`write`). What is
decided is not restated here: the service turns the facts into paths of intent and lets
``licensing.reconcile.decide`` (that is, ``licensing.rules.evaluate``) decide, and refuses
with the general path's own checks.

:func:`read` finds the facts not ``decidable`` when the general path would decide more than
this one user, and the service then takes that path in the same transaction: the user is
soft-deleted, a group run is pending on one of the products (the general path completes it
first), or another user waits for a seat of one of them (the general path may hand a freed
seat to that claim). The tests
give both paths the same changes and compare what they wrote
(tests/licensing/test_single_user_path.py).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection

from licensing.locking import extra_locks, lock_seats
from licensing.models import LicenseError, LicenseState, ProcessingState, Tenant
from licensing.reconcile import ROW_FIELDS, RowChanges


def available() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class Direct:
    id: int
    disabled: list[str]
    created: datetime


@dataclass
class Facts:
    """What the decision for one user needs, read after the seats were locked."""

    location: str
    locked: set[int]
    direct: dict[int, Direct] = field(default_factory=dict)  # by product id
    # (assignment id, product id, group id, disabled, created, member since)
    group_paths: list[tuple] = field(default_factory=list)
    rows: dict[tuple[int, int], dict] = field(default_factory=dict)  # ROW_FIELDS
    subscriptions: dict[int, list[tuple[str, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # product id -> (status, units)
    assigned: dict[int, int] = field(default_factory=dict)
    new_ids: list[int] = field(default_factory=list)
    catalog_stamp: int | None = None  # for ``current_catalog``; None: the row is gone
    # False: the general path must decide (see the module's docstring).
    decidable: bool = True


# The seat lock of ``licensing.locking.lock_seats``, in product order, for the products the
# user holds rows of (every path of a user who is not soft-deleted has one) and the requested
# ones. Intent without a row yet (a group run pending) sends the change to the general path;
# a row the decision would write for a product not locked here makes the service retry with
# it (``NeedsMoreLocks``).
_LOCK_SQL = """
SELECT product_id FROM licensing_tenantproduct
WHERE tenant_id = %(tenant)s
  AND product_id = ANY(
      ARRAY(SELECT product_id FROM licensing_userlicense WHERE user_id = %(user)s)
      || %(products)s::bigint[]
  )
ORDER BY product_id
FOR UPDATE
"""

# Every fact, one row each, told apart by the first column.
_FACTS_SQL = """
SELECT 0 AS kind, id, NULL::bigint AS product_id, NULL::bigint AS group_id,
       NULL::text AS plans, usage_location AS text1, NULL::text AS text2,
       soft_deleted_at AS time1, NULL::timestamptz AS time2, NULL::bigint AS number
FROM licensing_directoryuser WHERE id = %(user)s AND tenant_id = %(tenant)s
UNION ALL
SELECT 1, id, product_id, NULL, disabled_plans::text, NULL, NULL, created_at, NULL, NULL
FROM licensing_licenseassignment WHERE user_id = %(user)s
UNION ALL
SELECT 2, a.id, a.product_id, a.group_id, a.disabled_plans::text, NULL, NULL, a.created_at,
       m.added_at, NULL
FROM licensing_groupmembership m JOIN licensing_licenseassignment a ON a.group_id = m.group_id
WHERE m.user_id = %(user)s
UNION ALL
SELECT 3, id, product_id, via_group_id, disabled_plans::text, state, error, NULL, NULL, assignment_id
FROM licensing_userlicense WHERE user_id = %(user)s
UNION ALL
SELECT 4, NULL, product_id, NULL, NULL, status, NULL, NULL, NULL, SUM(units)
FROM licensing_subscription
WHERE tenant_id = %(tenant)s AND product_id = ANY(%(locked)s::bigint[])
GROUP BY product_id, status
UNION ALL
SELECT 5, NULL, product_id, NULL, NULL, NULL, NULL, NULL, NULL, assigned
FROM licensing_tenantproduct
WHERE tenant_id = %(tenant)s AND product_id = ANY(%(locked)s::bigint[])
UNION ALL
SELECT 6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
WHERE EXISTS (
    SELECT 1 FROM licensing_userlicense w
    WHERE w.tenant_id = %(tenant)s AND w.product_id = ANY(%(locked)s::bigint[])
      AND w.state = %(error_state)s AND w.error = %(count)s AND w.user_id <> %(user)s
)
UNION ALL
SELECT 7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
WHERE EXISTS (
    SELECT 1 FROM licensing_group g
    WHERE g.tenant_id = %(tenant)s AND g.processing_state = ANY(%(unfinished)s::text[])
      AND EXISTS (
          SELECT 1 FROM licensing_licenseassignment a
          WHERE a.group_id = g.id AND a.product_id = ANY(%(locked)s::bigint[])
      )
)
UNION ALL
SELECT 9, value, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM licensing_catalogstamp WHERE id = 1
"""

# Ids for the new direct assignments, reserved before they are written (a claim's order
# ends with its assignment's id: ``licensing.rules.claim_key``).
_NEW_IDS_SQL = """
UNION ALL
SELECT 8, nextval(pg_get_serial_sequence('licensing_licenseassignment', 'id')),
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM generate_series(1, %(new)s)
"""

WAITING, PENDING = 6, 7


def read(tenant: Tenant, user_id: int, product_ids: list[int], *, new: int) -> Facts:
    """Lock the seats of the user's products and of ``product_ids``, then read the facts, with
    ``new`` ids reserved for new direct assignments, and the catalog's stamp."""
    products = sorted(set(product_ids) | extra_locks.get())
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL, {"tenant": tenant.id, "user": user_id, "products": products})
        locked = {product_id for (product_id,) in cursor.fetchall()}
        if missing := [p for p in products if p not in locked]:
            # The tenant's first claim of a product: its seat row is made and locked.
            locked |= lock_seats(tenant, missing)
        cursor.execute(
            _FACTS_SQL + _NEW_IDS_SQL if new else _FACTS_SQL,
            {
                "tenant": tenant.id,
                "user": user_id,
                "locked": sorted(locked),
                "error_state": str(LicenseState.ERROR),
                "count": str(LicenseError.COUNT),
                "unfinished": [str(ProcessingState.QUEUED), str(ProcessingState.IN_PROGRESS)],
                "new": new,
            },
        )
        found = cursor.fetchall()
    facts = Facts(location="", locked=locked)
    seen = set()
    for kind, id_, product_id, group_id, plans, text1, text2, time1, time2, number in found:
        seen.add(kind)
        plans = json.loads(plans) if plans is not None else None
        if kind == 0:
            # Soft-deleted: the general path says what may be done.
            facts.decidable = time1 is None
            facts.location = text1
        elif kind == 1:
            facts.direct[product_id] = Direct(id_, plans, time1)
        elif kind == 2:
            facts.group_paths.append((id_, product_id, group_id, plans, time1, time2))
        elif kind == 3:
            values = (id_, number, user_id, product_id, group_id, plans, text1, text2)
            facts.rows[(number, user_id)] = dict(zip(ROW_FIELDS, values, strict=True))
        elif kind == 4:
            facts.subscriptions[product_id].append((text1, number))
        elif kind == 5:
            facts.assigned[product_id] = number
        elif kind == 8:
            facts.new_ids.append(id_)
        elif kind == 9:
            facts.catalog_stamp = id_
    if 0 not in seen or WAITING in seen or PENDING in seen:
        facts.decidable = False
    return facts


# The parts of the one statement that writes a change; those with nothing to do are left out.
_WRITES = {
    "gone_assignments": """
        DELETE FROM licensing_licenseassignment WHERE id = ANY(%(gone_assignments)s::bigint[])
    """,
    "new_assignments": """
        INSERT INTO licensing_licenseassignment
            (id, public_id, tenant_id, user_id, group_id, product_id, disabled_plans,
             created_by_id, created_at)
        SELECT x.id, x.public_id, %(tenant)s, %(user)s, NULL, x.product_id, x.disabled_plans,
               %(account)s, %(now)s
        FROM jsonb_to_recordset(%(new_assignments)s::jsonb)
             AS x(id bigint, public_id uuid, product_id bigint, disabled_plans jsonb)
    """,
    "changed_assignments": """
        UPDATE licensing_licenseassignment a SET disabled_plans = x.disabled_plans
        FROM jsonb_to_recordset(%(changed_assignments)s::jsonb)
             AS x(id bigint, disabled_plans jsonb)
        WHERE a.id = x.id
    """,
    "gone_rows": """
        DELETE FROM licensing_userlicense WHERE id = ANY(%(gone_rows)s::bigint[])
    """,
    "new_rows": """
        INSERT INTO licensing_userlicense
            (tenant_id, user_id, assignment_id, product_id, via_group_id, disabled_plans, state,
             error, last_updated)
        SELECT %(tenant)s, %(user)s, x.assignment_id, x.product_id, x.via_group_id,
               x.disabled_plans, x.state, x.error, %(now)s
        FROM jsonb_to_recordset(%(new_rows)s::jsonb)
             AS x(assignment_id bigint, product_id bigint, via_group_id bigint,
                  disabled_plans jsonb, state text, error text)
    """,
    "changed_rows": """
        UPDATE licensing_userlicense l
        SET disabled_plans = x.disabled_plans, state = x.state, error = x.error,
            last_updated = %(now)s
        FROM jsonb_to_recordset(%(changed_rows)s::jsonb)
             AS x(id bigint, disabled_plans jsonb, state text, error text)
        WHERE l.id = x.id
    """,
    "deltas": """
        UPDATE licensing_tenantproduct t SET assigned = t.assigned + x.delta
        FROM jsonb_to_recordset(%(deltas)s::jsonb) AS x(product_id bigint, delta integer)
        WHERE t.tenant_id = %(tenant)s AND t.product_id = x.product_id
    """,
}

_AUDIT_SQL = """
INSERT INTO licensing_auditevent
    (occurred_at, actor_id, actor_name, tenant_id, activity, target_type, target_id,
     target_name, details)
VALUES (%(now)s, %(actor_id)s, %(actor_name)s, %(tenant)s, %(activity)s, %(target_type)s,
        %(target_id)s, %(target_name)s, %(details)s::jsonb)
"""


def write(
    tenant: Tenant,
    user_id: int,
    *,
    now: datetime,
    account_id: int | None,
    gone_assignments: list[int],
    new_assignments: list[tuple[int, str, int, list[str]]],
    changed_assignments: list[tuple[int, list[str]]],
    rows: RowChanges,
    deltas: dict[int, int],
    audit: dict,
) -> None:
    """The whole change in one statement: direct assignments deleted, made (id, public id,
    product id, disabled plans) and changed (id, disabled plans); the rows; the Assigned
    counters; and the audit event (``licensing.audit.fields``)."""
    parts = {
        "gone_assignments": gone_assignments,
        "new_assignments": [
            {"id": a_id, "public_id": public_id, "product_id": p_id, "disabled_plans": plans}
            for a_id, public_id, p_id, plans in new_assignments
        ],
        "changed_assignments": [
            {"id": a_id, "disabled_plans": plans} for a_id, plans in changed_assignments
        ],
        "gone_rows": rows.delete,
        "new_rows": [
            {
                "assignment_id": a_id,
                "product_id": want.product_id,
                "via_group_id": want.group_id,
                "disabled_plans": want.disabled,
                "state": want.state,
                "error": want.error,
            }
            for (a_id, _user), want in rows.create
        ],
        "changed_rows": [
            {
                "id": row_id,
                "disabled_plans": want.disabled,
                "state": want.state,
                "error": want.error,
            }
            for row_id, want in rows.update
        ],
        "deltas": [{"product_id": p, "delta": d} for p, d in sorted(deltas.items()) if d],
    }
    parts = {name: value for name, value in parts.items() if value}
    params = {
        name: value if name.startswith("gone_") else json.dumps(value)
        for name, value in parts.items()
    }
    steps = ",\n".join(f"{name} AS ({_WRITES[name]})" for name in parts)
    sql = f"WITH {steps}\n{_AUDIT_SQL}" if steps else _AUDIT_SQL
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                **params,
                "tenant": tenant.id,
                "user": user_id,
                "now": now,
                "account": account_id,
                "actor_id": audit["actor"].pk if audit["actor"] is not None else None,
                "actor_name": audit["actor_name"],
                "activity": audit["activity"],
                "target_type": audit["target_type"],
                "target_id": audit["target_id"],
                "target_name": audit["target_name"],
                "details": json.dumps(audit["details"]),
            },
        )
