"""``manage.py run_worker`` waits out a lost database and runs the task it interrupted again
(docs/operations.md); `make faults` restarts a real database under it."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from licensing import processing
from licensing.management.commands import run_worker
from licensing.management.commands.run_worker import RecoveringWorker
from tests.helpers import DATABASE_TASKS

pytestmark = pytest.mark.django_db


def worker() -> RecoveringWorker:
    return RecoveringWorker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )


@pytest.fixture
def claimed(settings) -> DBTaskResult:
    """A group run's task, queued and taken by the worker under test."""
    settings.TASKS = DATABASE_TASKS
    processing.process_group_task.enqueue(group_id=123, run=4)
    (row,) = DBTaskResult.objects.all()
    row.claim("test-worker")
    return row


def test_a_task_the_database_interrupted_is_enqueued_again_once_it_is_back(claimed, monkeypatch):
    row = claimed

    def lost(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(processing, "run_group", lost)
    monkeypatch.setattr(DBTaskResult, "set_failed", lost)  # the database is gone for it too
    w = worker()
    with pytest.raises(OperationalError):
        w.run_task(row)
    assert w.interrupted is not None
    monkeypatch.undo()  # set_failed and run_group as they are
    # Back at once (`make faults` restarts a real one; here the test's transaction must live).
    monkeypatch.setattr(run_worker, "database_answers", lambda: True)
    w.recover()
    row.refresh_from_db()
    assert row.status == TaskResultStatus.FAILED
    (again,) = DBTaskResult.objects.exclude(id=row.id)
    assert again.status == TaskResultStatus.READY
    assert again.task_path == "licensing.processing.process_group_task"
    assert again.args_kwargs["kwargs"] == {"group_id": 123, "run": 4}
    assert w.interrupted is None


def test_any_other_failure_is_the_tasks_own_and_nothing_is_enqueued(claimed, monkeypatch):
    row = claimed

    def bug(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(processing, "run_group", bug)
    w = worker()
    w.run_task(row)  # recorded as the task's failure, as db_worker does
    row.refresh_from_db()
    assert row.status == TaskResultStatus.FAILED
    assert w.interrupted is None
    assert DBTaskResult.objects.count() == 1
