"""Big tenants in a few statements, for `make bench` and `make faults` (PostgreSQL): setup, not
what they measure, so plain SQL instead of the services."""

from __future__ import annotations

from django.db import connection

from licensing.models import Group, Tenant
from licensing.seats import recount_members


def add_users(tenant: Tenant, count: int, *, name: str, locations: list[str]) -> None:
    """``count`` cloud users ``user000001@<name>.example`` … ``Bench User 000001`` …, their
    usage locations taken in turn from ``locations`` ('' for none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO licensing_directoryuser
              (public_id, tenant_id, user_principal_name, display_name, usage_location, source,
               account_enabled, department, job_title, on_premises_immutable_id, external_id,
               created_at)
            SELECT gen_random_uuid(), %(tenant)s,
                   'user' || lpad(i::text, 6, '0') || %(domain)s,
                   %(display)s || lpad(i::text, 6, '0'),
                   (%(locations)s::text[])[1 + i %% cardinality(%(locations)s::text[])],
                   'cloud', true, '', '', '', '', now()
            FROM generate_series(1, %(count)s) AS i
            """,
            {
                "tenant": tenant.id,
                "domain": f"@{name.lower()}.example",
                "display": f"{name} User ",
                "locations": locations,
                "count": count,
            },
        )


def group_of_everyone(tenant: Tenant, name: str) -> Group:
    """A group of every user of the tenant, joined a microsecond apart in id order."""
    group = group_of_first(tenant, name, None)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return group


def group_of_first(tenant: Tenant, name: str, count: int | None, *, offset: int = 0) -> Group:
    """A group of ``count`` of the tenant's users (None: all of them) in id order, from the
    ``offset``-th, joined a microsecond apart."""
    group = Group.objects.create(tenant=tenant, name=name)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO licensing_groupmembership (group_id, user_id, added_at)
            SELECT %s, id, now() - interval '1 day' + id * interval '1 microsecond'
            FROM licensing_directoryuser WHERE tenant_id = %s
            ORDER BY id OFFSET %s LIMIT %s
            """,
            [group.id, tenant.id, offset, count],
        )
    recount_members([group.id])
    group.refresh_from_db()
    return group


def add_audit_events(tenant: Tenant, count: int, *, days: int = 365) -> None:
    """``count`` audit events of the tenant spread evenly over the last ``days`` days, of a
    few activities, each naming one of its users."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO licensing_auditevent
              (occurred_at, actor_name, tenant_id, activity, target_type, target_id,
               target_name, details)
            SELECT now() - (%(days)s * interval '1 day') * i / %(count)s,
                   'admin@' || %(domain)s, %(tenant)s,
                   (ARRAY['Change user license', 'Add member to group', 'Update user',
                          'Set group license'])[1 + i %% 4],
                   'User', '', 'user' || lpad((1 + i %% 100000)::text, 6, '0') || '@example',
                   '{}'::jsonb
            FROM generate_series(1, %(count)s) AS i
            """,
            {"tenant": tenant.id, "count": count, "days": days, "domain": tenant.initial_domain},
        )
