"""The daily maintenance task: periodic where a worker runs (TASKS_BACKEND=database)."""

from __future__ import annotations

import datetime
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from licensing import services
from licensing.models import DirectoryUser, Group, Subscription
from licensing.tasks import (
    daily_maintenance,
    next_maintenance_time,
    schedule_daily_maintenance,
    schedule_group_watch,
    watch_group_processing,
)
from tests.factories import GroupFactory, SubscriptionFactory, product
from tests.helpers import DATABASE_TASKS

pytestmark = pytest.mark.django_db


def test_next_run_is_the_coming_0200_utc():
    noon = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
    assert next_maintenance_time(noon) == datetime.datetime(2026, 11, 24, 2, 0, tzinfo=datetime.UTC)
    early = datetime.datetime(2026, 11, 23, 1, 0, tzinfo=datetime.UTC)
    assert next_maintenance_time(early) == datetime.datetime(
        2026, 11, 23, 2, 0, tzinfo=datetime.UTC
    )


def test_without_a_worker_backend_nothing_is_scheduled():
    assert schedule_daily_maintenance() is None
    assert not DBTaskResult.objects.exists()


@override_settings(TASKS=DATABASE_TASKS)
def test_scheduling_is_idempotent():
    out = io.StringIO()
    call_command("schedule_maintenance", stdout=out)
    assert "Daily maintenance scheduled for" in out.getvalue()
    assert "Group processing watch scheduled for" in out.getvalue()
    assert schedule_daily_maintenance() is None
    assert schedule_group_watch() is None
    waiting = DBTaskResult.objects.order_by("run_after")
    assert [w.task_path for w in waiting] == [
        watch_group_processing.module_path,
        daily_maintenance.module_path,
    ]
    assert all(w.run_after > timezone.now() for w in waiting)


@override_settings(TASKS=DATABASE_TASKS)
def test_the_watch_resumes_a_stalled_group_and_looks_again_later(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=users(2), actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    # Queued for a worker that died: nothing moved for longer than the stall limit.
    Group.objects.filter(id=group.id).update(
        processing_updated_at=timezone.now() - timedelta(hours=1)
    )
    run = Group.objects.get(id=group.id).processing_run
    assert watch_group_processing.call() == 1
    group.refresh_from_db()
    # The same run is queued again; it continues where it stopped.
    assert group.processing_run == run
    assert group.processing_state == "QueuedForProcessing"
    paths = set(DBTaskResult.objects.values_list("task_path", flat=True))
    assert paths == {"licensing.processing.process_group_task", watch_group_processing.module_path}
    # Without a worker backend, cron runs the command instead.
    out = io.StringIO()
    call_command("resume_group_processing", stdout=out)
    assert "0 group(s) resumed." in out.getvalue()


@override_settings(TASKS=DATABASE_TASKS)
@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_due_maintenance_and_it_schedules_the_next_run(
    transactional_catalog, tenant, users
):
    # A real worker commits and closes its connection: this test cannot run inside a rollback.
    (old,) = users(1)
    services.user_soft_delete(tenant=tenant, user=old, actor=None)
    DirectoryUser.objects.filter(id=old.id).update(
        soft_deleted_at=timezone.now() - timedelta(days=31)
    )
    expired = SubscriptionFactory(tenant=tenant, next_lifecycle_date=timezone.now().date())
    daily_maintenance.using(run_after=timezone.now() - timedelta(minutes=1)).enqueue()
    call_command(
        "db_worker",
        batch=True,
        startup_delay=False,
        reload=False,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    done = DBTaskResult.objects.get(status="SUCCESSFUL")
    assert done.return_value == {"subscription_steps": 1, "purged_users": 1}
    assert not DirectoryUser.objects.filter(id=old.id).exists()
    assert Subscription.objects.get(id=expired.id).status == "Warning"
    assert (
        DBTaskResult.objects.filter(status="READY", task_path=daily_maintenance.module_path).count()
        == 1
    )
