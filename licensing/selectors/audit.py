"""The audit log as its page reads it."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.db import connection

from licensing.models import AuditEvent, Tenant
from licensing.selectors._shared import Window, window_of


def events(
    *,
    tenant: Tenant,
    activity: str = "",
    target: str = "",
    actor: str = "",
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    order_by: Sequence[str] = ("-occurred_at", "-id"),
    page=1,
) -> Window:
    """A page of the tenant's events of this activity, whose target and actor contain these
    texts, on these days (both included), in this order; not counted (one query: a year of
    events is not read to show 50)."""
    found = AuditEvent.objects.filter(tenant=tenant)
    if activity:
        found = found.filter(activity=activity)
    if target:
        found = found.filter(target_name__icontains=target)
    if actor:
        found = found.filter(actor_name__icontains=actor)
    if since:
        found = found.filter(occurred_at__date__gte=since)
    if until:
        found = found.filter(occurred_at__date__lte=until)
    return window_of(found.order_by(*order_by), page)


def activities(*, tenant: Tenant) -> list[str]:
    """The activities of the tenant's events, each once, alphabetically (the filter's list).
    One query that skips through the index of (tenant, activity): each step reads the next
    activity after the last one, so a year of events costs as many steps as there are
    activities, not events."""
    table = AuditEvent._meta.db_table
    sql = f"""
        WITH RECURSIVE found(activity) AS (
            SELECT MIN(activity) FROM {table} WHERE tenant_id = %s
            UNION ALL
            SELECT (SELECT MIN(e.activity) FROM {table} e
                    WHERE e.tenant_id = %s AND e.activity > found.activity)
            FROM found WHERE found.activity IS NOT NULL
        )
        SELECT activity FROM found WHERE activity IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant.id, tenant.id])
        return [activity for (activity,) in cursor.fetchall()]
