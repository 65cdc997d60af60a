"""The audit log as its page reads it."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

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
    """The activities of the tenant's events, each once, alphabetically (the filter's list)."""
    return list(
        AuditEvent.objects.filter(tenant=tenant)
        .order_by("activity")
        .values_list("activity", flat=True)
        .distinct()
    )
