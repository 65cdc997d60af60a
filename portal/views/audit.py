"""Audit logs: the tenant's events, filtered by date, activity, target, actor."""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from licensing import selectors
from portal.access import portal_view
from portal.responses import template_for
from portal.sorting import Column, Sorter

AUDIT_COLUMNS = [
    Column("date", _("Date"), ("occurred_at", "id")),
    Column("activity", _("Activity"), ("activity", "-occurred_at")),
    Column("target", _("Target"), ("target_name", "-occurred_at")),
    Column("actor", _("Initiated by"), ("actor_name", "-occurred_at")),
]


def _date(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


@require_safe
@portal_view
def audit_log(request: HttpRequest) -> HttpResponse:
    filters = {
        k: request.GET.get(k, "").strip() for k in ("activity", "target", "actor", "since", "until")
    }
    sorter = Sorter(request, AUDIT_COLUMNS, "-date")
    page = selectors.audit.events(
        tenant=request.tenant,
        activity=filters["activity"],
        target=filters["target"],
        actor=filters["actor"],
        since=_date(filters["since"]),
        until=_date(filters["until"]),
        order_by=sorter.order_by(),
        page=request.GET.get("page", 1),
    )
    context = {
        "section": "audit",
        "page": page,
        "filters": filters,
        "activities": selectors.audit.activities(tenant=request.tenant),
        "sort_headers": sorter.headers(),
        "sort_param": sorter.param,
    }
    return render(request, template_for(request, "portal/audit/list.html", "audit-rows"), context)
