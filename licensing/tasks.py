"""Background tasks (django-tasks). Each task calls the same services as everything else."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone
from django_tasks import task
from django_tasks.base import TaskResultStatus

from licensing.processing import resume_stalled_groups
from licensing.services import purge_expired_users, subscriptions_advance

MAINTENANCE_HOUR = 2  # UTC


def watch_every() -> datetime.timedelta:
    """How often a worker looks for stalled group runs (GROUP_PROCESSING_WATCH_SECONDS)."""
    return datetime.timedelta(seconds=getattr(settings, "GROUP_PROCESSING_WATCH_SECONDS", 300))


@task()
def daily_maintenance() -> dict[str, int]:
    """Advance subscriptions along their lifecycle and purge users deleted more than 30 days
    ago, then schedule tomorrow's run: a periodic task wherever a worker runs."""
    steps = subscriptions_advance(today=timezone.now().date())
    purged = sum(purge_expired_users(actor=None).values())
    schedule_daily_maintenance()
    return {"subscription_steps": len(steps), "purged_users": purged}


def next_maintenance_time(now: datetime.datetime | None = None) -> datetime.datetime:
    now = now or timezone.now()
    at = now.astimezone(datetime.UTC).replace(
        hour=MAINTENANCE_HOUR, minute=0, second=0, microsecond=0
    )
    return at if at > now else at + datetime.timedelta(days=1)


def schedule_daily_maintenance(now: datetime.datetime | None = None) -> datetime.datetime | None:
    """Enqueue the next run unless one is already waiting. Only a backend with a worker can
    run a task later; with the immediate backend (quick start, tests) this returns None and
    cron runs the commands instead (README)."""
    return _enqueue_once(daily_maintenance, next_maintenance_time(now))


def _enqueue_once(periodic, run_after: datetime.datetime) -> datetime.datetime | None:
    """Enqueue a periodic task for later unless a run of it is already waiting. Only a backend
    with a worker runs tasks later; otherwise None (cron runs the commands, README)."""
    if not periodic.get_backend().supports_defer:
        return None
    from django_tasks_db.models import DBTaskResult

    if DBTaskResult.objects.filter(
        task_path=periodic.module_path, status=TaskResultStatus.READY
    ).exists():
        return None
    periodic.using(run_after=run_after).enqueue()
    return run_after


@task()
def watch_group_processing() -> int:
    """Every few minutes where a worker runs: start a new run for any group whose run
    stalled (its worker died mid-way), then schedule the next look. Returns how many."""
    resumed = len(resume_stalled_groups())
    schedule_group_watch()
    return resumed


def schedule_group_watch(now: datetime.datetime | None = None) -> datetime.datetime | None:
    """Enqueue the next look unless one is already waiting."""
    return _enqueue_once(watch_group_processing, (now or timezone.now()) + watch_every())
