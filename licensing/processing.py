"""Group license processing (SPEC §3.5): QueuedForProcessing → ProcessingInProgress →
ProcessingComplete, in batches, in the background.

A service that changes a group's licenses (or re-processes it) records the intent and calls
:func:`queue_group`, inside its transaction. That marks the group *queued*, starts a new *run*
(``Group.processing_run``) and enqueues :func:`process_group_task` through Django's task API:
with the database backend the task row commits with the intent and a ``db_worker`` picks it
up; with the immediate backend (quick start, tests) it runs at once, inside the service.

A run walks the members in claim order (earliest membership first, SPEC §3.5) in batches of
``GROUP_PROCESSING_BATCH``. Each batch is one transaction under the seat lock, so a worker and
a web request can never oversubscribe, and records processed / total on the group. A batch is
applied by :func:`licensing.fastpath.apply_members` in set-based SQL where that gives exactly
what the reconciler would, and by :func:`licensing.reconcile.reconcile` otherwise.

Nothing is half-applied: every batch is all-or-nothing, and the rows of a batch are a pure
function of intent, so a run that dies mid-way (a killed worker) leaves the group in progress
and the next run — :func:`resume_stalled_groups`, every few minutes from a worker, or
Reprocess — redoes the batches; those already applied change nothing. A newer run supersedes
an older one: the older one stops at its next batch.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, F, Q
from django.utils import timezone
from django_tasks import task
from django_tasks.base import TaskResultStatus

from licensing import audit
from licensing.fastpath import apply_members
from licensing.models import (
    SEAT_STATES,
    Group,
    GroupMembership,
    LicenseState,
    ProcessingState,
    Tenant,
    UserLicense,
)
from licensing.reconcile import reconcile
from licensing.seats import lock_seats, products_touching
from licensing.services.base import service

logger = logging.getLogger(__name__)

UNFINISHED = (ProcessingState.QUEUED, ProcessingState.IN_PROGRESS)


def batch_size() -> int:
    return getattr(settings, "GROUP_PROCESSING_BATCH", 50_000)


def stall_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=getattr(settings, "GROUP_PROCESSING_STALL_SECONDS", 600))


def queue_group(*, tenant: Tenant, group: Group, actor) -> dict | None:
    """Mark the group queued and enqueue a run. Call inside the transaction that changed the
    group's intent. Returns the run's outcome when it ran at once (immediate backend), else
    None: the group page shows the progress."""
    Group.objects.filter(id=group.id).update(
        processing_run=F("processing_run") + 1,
        processing_state=ProcessingState.QUEUED,
        processing_done=0,
        processing_total=GroupMembership.objects.filter(group=group).count(),
        processing_updated_at=timezone.now(),
    )
    group.refresh_from_db()
    result = process_group_task.enqueue(
        group_id=group.id, run=group.processing_run, actor_id=getattr(actor, "pk", None)
    )
    if result.status == TaskResultStatus.FAILED:
        # The immediate backend records a task's exception instead of raising it; raise it
        # here so that the service's transaction rolls back whole.
        raise RuntimeError(f"group processing failed: {result.errors[-1].traceback}")
    if result.status == TaskResultStatus.SUCCESSFUL:
        group.refresh_from_db()
        return result.return_value
    return None


@task()
def process_group_task(group_id: int, run: int, actor_id: int | None = None) -> dict | None:
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return run_group(group_id, run, actor=actor)


def run_group(group_id: int, run: int, *, actor=None) -> dict | None:
    """Process one run of a group. Returns {"assigned": N, "failed": M}, or None when the run
    was superseded by a newer one (or the group was deleted)."""
    group = Group.objects.select_related("tenant").filter(id=group_id).first()
    if group is None or group.processing_run != run:
        return None
    tenant = group.tenant
    if not _start(group, run, actor):
        return None
    refresh_statistics()
    # The group's products (and those of groups waiting on them). A batch whose members
    # with other paths need more locks retries with them (services.base.service).
    touching = products_touching(tenant, groups=[group.id])
    after: tuple | None = None
    while True:
        outcome = _process_batch(
            tenant=tenant, group=group, run=run, after=after, touching=touching
        )
        if outcome is None:
            return None
        count, after = outcome
        if count < batch_size():
            # The last batch. (Members who join from now on are applied by their own change.)
            break
    return _finish(group, run, actor)


def refresh_statistics() -> None:
    """ANALYZE the derived rows when they changed a lot since PostgreSQL last looked: a
    planner that believes a 100,000-row table holds no errors picks nested loops that take
    minutes instead of milliseconds. (Autovacuum gets there too, but later.)"""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_mod_since_analyze > greatest(1000, n_live_tup / 10) "
            "FROM pg_stat_user_tables WHERE relname = 'licensing_userlicense'"
        )
        row = cursor.fetchone()
        if row and row[0]:
            cursor.execute("ANALYZE licensing_userlicense")


@service
def _start(group: Group, run: int, actor) -> bool:
    total = GroupMembership.objects.filter(group=group).count()
    started = _set_state(group, run, ProcessingState.IN_PROGRESS, done=0, total=total)
    if started:
        audit.event(
            tenant=group.tenant,
            actor=actor,
            activity=audit.START_GROUP_APPLY,
            target=group,
            target_type="Group",
            details={"members": total},
        )
    return started


@service
def _process_batch(
    *, tenant: Tenant, group: Group, run: int, after: tuple | None, touching: set[int]
) -> tuple[int, tuple | None] | None:
    """One batch, all or nothing: the next members after ``after`` in claim order."""
    locked = lock_seats(tenant, touching)
    # Holding the seat lock, re-read the run: a newer run (queued by a later change) does
    # the work from here, so this one stops.
    current = Group.objects.filter(id=group.id).values_list("processing_run", flat=True).first()
    if current != run:
        return None
    members = GroupMembership.objects.filter(group=group).order_by("added_at", "user_id")
    if after is not None:
        members = members.filter(
            Q(added_at__gt=after[0]) | Q(added_at=after[0], user_id__gt=after[1])
        )
    # Plain ids straight from the cursor: 25,000 of them through the ORM cost more than the
    # query.
    sql, params = members.values_list("user_id")[: batch_size()].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        user_ids = [row[0] for row in cursor.fetchall()]
    if not user_ids:
        return 0, after
    last = members.filter(user_id=user_ids[-1]).values_list("added_at", "user_id").get()
    rest, freed = apply_members(tenant=tenant, group=group, user_ids=user_ids)
    if rest or freed:
        # Members the set-based path does not cover, and seats it freed for waiting claims.
        group_products = set(group.assignments.values_list("product_id", flat=True))
        reconcile(tenant=tenant, user_ids=rest, locked_products=locked, products=group_products)
    Group.objects.filter(id=group.id, processing_run=run).update(
        processing_done=F("processing_done") + len(user_ids),
        processing_updated_at=timezone.now(),
    )
    return len(user_ids), last


@service
def _finish(group: Group, run: int, actor) -> dict | None:
    # Members holding a seat through the group, and members in error: one pass over its rows.
    counts = UserLicense.objects.filter(via_group=group).aggregate(
        assigned=Count("user_id", distinct=True, filter=Q(state__in=SEAT_STATES)),
        failed=Count("user_id", distinct=True, filter=Q(state=LicenseState.ERROR)),
    )
    assigned, failed = counts["assigned"], counts["failed"]
    total = GroupMembership.objects.filter(group=group).count()
    if not _set_state(group, run, ProcessingState.COMPLETE, done=total, total=total):
        return None
    audit.event(
        tenant=group.tenant,
        actor=actor,
        activity=audit.FINISH_GROUP_APPLY,
        target=group,
        target_type="Group",
        details={
            "summary": f"Users successfully assigned licenses: {assigned}, "
            f"Users for whom license assignment failed: {failed}",
            "assigned": assigned,
            "failed": failed,
        },
    )
    return {"assigned": assigned, "failed": failed}


def _set_state(group: Group, run: int, state: str, *, done: int, total: int) -> bool:
    """Move the group to this state if the run is still the current one."""
    return bool(
        Group.objects.filter(id=group.id, processing_run=run).update(
            processing_state=state,
            processing_done=done,
            processing_total=total,
            processing_updated_at=timezone.now(),
        )
    )


def stalled_groups(now: datetime.datetime | None = None):
    """Groups queued or in progress whose run has not moved for a while: its worker died,
    or its task was lost."""
    now = now or timezone.now()
    return Group.objects.filter(processing_state__in=UNFINISHED).filter(
        Q(processing_updated_at__lt=now - stall_after()) | Q(processing_updated_at__isnull=True)
    )


def resume_stalled_groups(now: datetime.datetime | None = None) -> list[Group]:
    """Start a new run for every stalled group (the new run redoes the old one's batches)."""
    resumed = []
    for group in stalled_groups(now).select_related("tenant"):
        logger.warning("resuming stalled processing of group %s (%s)", group.id, group.name)
        _resume(group)
        resumed.append(group)
    return resumed


@service
def _resume(group: Group) -> None:
    queue_group(tenant=group.tenant, group=group, actor=None)
