"""Group license processing (docs/rules.md §8): QueuedForProcessing → ProcessingInProgress →
ProcessingComplete, in the background, each run one decision with the result of applying
the change at once.

A service that changes a group's licenses records the intent and calls :func:`queue_group`
inside its transaction. That marks the group *queued*, starts a new *run*
(``Group.processing_run``) and enqueues :func:`process_group_task` through Django's task API:
with the database backend the task row commits with the intent and a ``db_worker`` picks it
up; with the immediate backend (quick start, tests) it runs at once, inside the service.

A run decides every member it has not applied yet, and every claim waiting for a seat those
members free or could take, **at once**: one evaluation in one transaction under the seat
lock, exactly as if the change had been applied synchronously. Only the writing is split
(``GROUP_PROCESSING_BATCH`` members per statement of the set-based path), so no batch can
decide differently: there is no decision between batches to differ. Two more things keep
the result independent of when the run happens:

* **Nothing overtakes a run.** Every change locks its products with
  ``licensing.locking.hold_seats``, which first completes the runs pending on them
  (:func:`complete_pending_runs`), so a change never sees a group half applied, and a queued
  change is decided as if it had run at once. A group's
  products include those of pending groups sharing a member with it
  (``licensing.seats.products_touching``): two pending runs never share a member.
* **A run completed inside another run** (from the outer run's ``hold_seats``, which names
  the outer runs in ``inside``) gives no free seat of the outer run's products
  (``_reserved``): the outer run has not
  decided its members yet, whose claims may come first.

The members are applied by :func:`licensing.fastpath.apply_members` in set-based SQL where
that gives exactly what the reconciler would, and by :func:`licensing.reconcile.reconcile`
otherwise, in the same evaluation. A run whose worker died rolled back whole; the group stays
in progress, and :func:`resume_stalled_groups` (every few minutes from a worker, or
``manage.py resume_group_processing``) runs it again, as does any change to the same
products. A newer run supersedes an older one.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django_tasks import task
from django_tasks.base import TaskResultStatus

from licensing import audit
from licensing.fastpath import apply_members
from licensing.locking import hold_seats, service
from licensing.models import (
    SEAT_STATES,
    Group,
    GroupMembership,
    LicenseAssignment,
    LicenseState,
    ProcessingState,
    Tenant,
    UserLicense,
)
from licensing.reconcile import reconcile
from licensing.seats import products_touching

logger = logging.getLogger(__name__)

UNFINISHED = (ProcessingState.QUEUED, ProcessingState.IN_PROGRESS)


def batch_size() -> int:
    """Members written per statement of a run (the decision is always one, for all)."""
    return getattr(settings, "GROUP_PROCESSING_BATCH", 50_000)


def stall_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=getattr(settings, "GROUP_PROCESSING_STALL_SECONDS", 600))


def complete_pending_runs(tenant: Tenant, locked: set[int], *, inside: frozenset[int]) -> None:
    """Complete every group run pending on these (locked) products, oldest first, except the
    runs of ``inside`` (``licensing.locking.hold_seats``)."""
    if not locked:
        return
    pending = (
        Group.objects.filter(
            tenant=tenant,
            processing_state__in=UNFINISHED,
            id__in=LicenseAssignment.objects.filter(
                tenant=tenant, group__isnull=False, product_id__in=locked
            ).values("group_id"),
        )
        .exclude(id__in=inside)
        .order_by("processing_updated_at", "id")
    )
    for group in pending:
        logger.info("completing the pending run of group %s before a change", group.id)
        run_group(group.id, group.processing_run, inside=inside)


def queue_group(*, tenant: Tenant, group: Group, actor, after: tuple | None = None) -> dict | None:
    """Mark the group queued and enqueue a run. Call inside the transaction that changed the
    group's intent (after ``hold_seats``). Returns the run's outcome when it ran at once
    (immediate backend), else None: the group page shows the progress.

    ``after`` (a member's ``(added_at, user_id)``) starts the run behind that member, the
    members up to it counted as done: for members who joined a group whose run was complete,
    whose claims all come after every member before them (``last_member``)."""
    cursor_at, cursor_user = after or (None, None)
    counts = {"total": Count("user_id")}
    if after:
        counts["done"] = Count(
            "user_id",
            filter=Q(added_at__lt=cursor_at) | Q(added_at=cursor_at, user_id__lte=cursor_user),
        )
    members = {"done": 0, **GroupMembership.objects.filter(group=group).aggregate(**counts)}
    Group.objects.filter(id=group.id).update(
        processing_run=F("processing_run") + 1,
        processing_state=ProcessingState.QUEUED,
        processing_done=members["done"],
        processing_total=members["total"],
        processing_updated_at=timezone.now(),
        processing_cursor_at=cursor_at,
        processing_cursor_user=cursor_user,
    )
    group.refresh_from_db()
    return _enqueue(group)


def last_member(group: Group) -> tuple | None:
    """The group's last member in claim order, as ``(added_at, user_id)``."""
    return (
        GroupMembership.objects.filter(group=group)
        .order_by("-added_at", "-user_id")
        .values_list("added_at", "user_id")
        .first()
    )


def _enqueue(group: Group) -> dict | None:
    result = process_group_task.enqueue(group_id=group.id, run=group.processing_run)
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
    # actor_id: accepted from tasks queued before runs were audited as the system actor.
    return run_group(group_id, run)


def run_group(
    group_id: int, run: int, *, inside: frozenset[int] = frozenset(), actor=None
) -> dict | None:
    """Process one run of a group to its end. Returns {"assigned": N, "failed": M}, or None
    when the run was superseded by a newer one, completed by someone else, or the group went.
    ``inside``: the groups whose runs this one is completed inside (``hold_seats``). Audited as
    the system actor ("Group-based licensing"); ``actor`` is not used."""
    group = Group.objects.select_related("tenant").filter(id=group_id).first()
    if group is None or group.processing_run != run:
        return None
    if not _start(group, run):
        return None
    refresh_statistics()
    return _apply_run(group_id=group_id, run=run, inside=inside)


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
def _start(group: Group, run: int) -> bool:
    """Queued → in progress (with the Start event); a run already in progress continues."""
    current = (
        Group.objects.filter(id=group.id, processing_run=run)
        .values_list("processing_state", flat=True)
        .first()
    )
    if current == ProcessingState.IN_PROGRESS:
        return True
    if current != ProcessingState.QUEUED:
        return False
    total = GroupMembership.objects.filter(group=group).count()
    Group.objects.filter(id=group.id, processing_run=run).update(
        processing_state=ProcessingState.IN_PROGRESS,
        processing_total=total,
        processing_updated_at=timezone.now(),
    )
    _audit_run(group, audit.START_GROUP_APPLY, {"members": total})
    return True


@service
def _apply_run(*, group_id: int, run: int, inside: frozenset[int]) -> dict | None:
    """Apply the run: its members (after the group's cursor), the claims waiting for seats
    they free or could take, and the Finish event, all decided at once and written in one
    transaction. Returns the run's outcome, or None when this run is no longer the one to do
    it."""
    group = Group.objects.select_related("tenant").filter(id=group_id).first()
    if group is None:
        return None
    tenant = group.tenant
    locked = hold_seats(
        tenant, products_touching(tenant, groups=[group_id]), inside=inside | {group_id}
    )
    _hold_run(group_id)  # after the seat locks, always in this order: no deadlock
    # Holding the seat lock, re-read the run: a newer run, or whoever completed this one
    # meanwhile, does the work from here.
    group = Group.objects.select_related("tenant").filter(id=group_id).first()
    if (
        group is None
        or group.processing_run != run
        or group.processing_state != ProcessingState.IN_PROGRESS
    ):
        return None
    members = GroupMembership.objects.filter(group=group).order_by("added_at", "user_id")
    if group.processing_cursor_at is not None:
        members = members.filter(
            Q(added_at__gt=group.processing_cursor_at)
            | Q(added_at=group.processing_cursor_at, user_id__gt=group.processing_cursor_user)
        )
    # Plain ids straight from the cursor: 100,000 of them through the ORM cost more than the
    # query.
    sql, params = members.values_list("user_id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        user_ids = [row[0] for row in cursor.fetchall()]
    reserved = _reserved(inside)
    if reserved:
        # The set-based path knows no reserved products; a run inside another is rare.
        rest, released = user_ids, Counter()
    else:
        rest, released = apply_members(
            tenant=tenant, group=group, user_ids=user_ids, chunk=batch_size()
        )
    # Members the set-based path does not cover, with every claim waiting for a seat of the
    # group's products or of those its members let go, in one evaluation (claim order).
    group_products = set(group.assignments.values_list("product_id", flat=True))
    reconcile(
        tenant=tenant,
        user_ids=rest,
        locked_products=locked,
        products=group_products | set(released),
        waiting_first=True,
        reserved=reserved,
    )
    return _finish(group, run)


def _reserved(inside: frozenset[int]) -> set[int]:
    """Products whose free seats this run may not give at all: those of the runs it was
    completed inside (the outer run needed the seat locks of this group's products, and
    ``hold_seats`` completes pending runs first). The outer run has not decided its members
    yet, and their claims may come first; this run leaves any claim of those products that
    lacks a seat waiting, and the outer run decides it with its own members, in claim order."""
    if not inside:
        return set()
    return set(
        LicenseAssignment.objects.filter(group_id__in=inside).values_list("product_id", flat=True)
    )


def _finish(group: Group, run: int) -> dict | None:
    # Members holding a seat through the group, and members in error: one pass over its rows.
    counts = UserLicense.objects.filter(via_group=group).aggregate(
        assigned=Count("user_id", distinct=True, filter=Q(state__in=SEAT_STATES)),
        failed=Count("user_id", distinct=True, filter=Q(state=LicenseState.ERROR)),
    )
    assigned, failed = counts["assigned"], counts["failed"]
    total = GroupMembership.objects.filter(group=group).count()
    finished = Group.objects.filter(
        id=group.id, processing_run=run, processing_state=ProcessingState.IN_PROGRESS
    ).update(
        processing_state=ProcessingState.COMPLETE,
        processing_done=total,
        processing_total=total,
        processing_updated_at=timezone.now(),
    )
    if not finished:
        return None
    summary = audit.finish_summary(assigned, failed)
    _audit_run(
        group,
        audit.FINISH_GROUP_APPLY,
        {"summary": summary, "assigned": assigned, "failed": failed},
    )
    return {"assigned": assigned, "failed": failed}


def _audit_run(group: Group, activity: str, details: dict) -> None:
    """A run's events are the system's (docs/rules.md §8), not the admin's who queued it."""
    audit.event(
        tenant=group.tenant,
        actor=audit.GROUP_LICENSING,
        activity=activity,
        target=group,
        target_type="Group",
        details=details,
    )


def stalled_groups(now: datetime.datetime | None = None):
    """Groups queued or in progress whose run has not moved for a while: its worker died,
    or its task was lost."""
    now = now or timezone.now()
    return Group.objects.filter(processing_state__in=UNFINISHED).filter(
        Q(processing_updated_at__lt=now - stall_after()) | Q(processing_updated_at__isnull=True)
    )


# The advisory lock a run holds while it is applied (PostgreSQL): (this key, the group's id).
RUN_LOCK = 7_217_001


def _hold_run(group_id: int) -> None:
    """Mark this run as being applied until the transaction ends: a live run is never taken
    for a stalled one, however long it takes (``being_applied``)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [RUN_LOCK, group_id])


def being_applied(group_id: int) -> bool:
    """Whether a worker is applying this group's run right now (it holds the run's lock).
    Without PostgreSQL, never: a run there is applied in the request that queued it."""
    if connection.vendor != "postgresql":
        return False
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [RUN_LOCK, group_id])
        return not cursor.fetchone()[0]


def resume_stalled_groups(now: datetime.datetime | None = None) -> list[Group]:
    """Enqueue the stalled run of every stalled group again, unless a worker is still applying
    it (a run is one transaction: a long one does not move until it commits)."""
    resumed = []
    for group in stalled_groups(now).select_related("tenant"):
        if being_applied(group.id):
            continue
        logger.warning("resuming stalled processing of group %s (%s)", group.id, group.name)
        Group.objects.filter(id=group.id).update(processing_updated_at=timezone.now())
        _enqueue(group)
        resumed.append(group)
    return resumed
