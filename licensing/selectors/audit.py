"""The audit log as its page reads it."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.db import connection

from licensing import audit
from licensing.models import AuditEvent, Tenant
from licensing.selectors._shared import Window, keyset_by, window_of


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


# Entra's category of each activity (directoryAudit.category), as the API shows and filters
# them; an activity not listed is "Other".
CATEGORIES = {
    "UserManagement": (
        audit.ADD_USER,
        audit.UPDATE_USER,
        audit.DELETE_USER,
        audit.RESTORE_USER,
        audit.HARD_DELETE_USER,
        audit.CHANGE_USER_LICENSE,
        audit.REPROCESS_USER,
    ),
    "GroupManagement": (
        audit.ADD_GROUP,
        audit.UPDATE_GROUP,
        audit.DELETE_GROUP,
        audit.ADD_MEMBER,
        audit.REMOVE_MEMBER,
        audit.SET_GROUP_LICENSE,
        audit.START_GROUP_APPLY,
        audit.FINISH_GROUP_APPLY,
        audit.REPROCESS_GROUP,
    ),
    "DirectoryManagement": (
        audit.ADD_COMPANY,
        audit.UPDATE_COMPANY,
        audit.CHANGE_SUBSCRIPTION,
        audit.UPDATE_CATALOG,
        audit.REPROCESS_PRODUCT,
    ),
    "RoleManagement": (
        audit.ADD_ROLE_MEMBER,
        audit.UPDATE_ROLE_MEMBER,
        audit.REMOVE_ROLE_MEMBER,
    ),
    "ApplicationManagement": (
        audit.ADD_APPLICATION,
        audit.REVOKE_APPLICATION,
        audit.ADD_PROVISIONING_TOKEN,
        audit.REVOKE_PROVISIONING_TOKEN,
    ),
}
OTHER = "Other"
_CATEGORY_OF = {
    activity: name for name, activities in CATEGORIES.items() for activity in activities
}


def events_page(
    *,
    tenant: Tenant,
    after: int | None = None,
    size: int,
    since: Sequence[datetime.datetime] = (),
    later_than: Sequence[datetime.datetime] = (),
    until: Sequence[datetime.datetime] = (),
    earlier_than: Sequence[datetime.datetime] = (),
    activities: Sequence[str] = (),
    categories: Sequence[str] = (),
) -> list[AuditEvent]:
    """A page of the tenant's events, newest first, keyset-paged after the event with id
    ``after`` (``_shared.keyset_by`` on the time: a walk sees each event once, also while
    new ones are written): ``size`` + 1 at most, the last one only saying that there is a
    next page. Only events at or after each of ``since``, after each of ``later_than``, at
    or before each of ``until``, before each of ``earlier_than``, of each of ``activities``
    and in each of ``categories`` (``CATEGORIES``), each with its ``category``. One query,
    by the index of (tenant, time)."""
    found = AuditEvent.objects.filter(tenant=tenant)
    for moment in since:
        found = found.filter(occurred_at__gte=moment)
    for moment in later_than:
        found = found.filter(occurred_at__gt=moment)
    for moment in until:
        found = found.filter(occurred_at__lte=moment)
    for moment in earlier_than:
        found = found.filter(occurred_at__lt=moment)
    for activity in activities:
        found = found.filter(activity=activity)
    for category in categories:
        if category == OTHER:
            found = found.exclude(activity__in=list(_CATEGORY_OF))
        else:
            found = found.filter(activity__in=list(CATEGORIES.get(category, ())))
    ordered = keyset_by(found, after=after, field="occurred_at", descending=True)
    events = list(ordered[: size + 1])
    for event in events:
        event.category = _CATEGORY_OF.get(event.activity, OTHER)
    return events
