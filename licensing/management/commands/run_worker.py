"""``manage.py run_worker``: django-tasks-db's ``db_worker`` that survives the database going
away (docs/operations.md).

``db_worker`` exits when a query fails because the database restarted, and leaves the task it
was running marked as running for ever. This worker instead closes its connections, waits
(1, 2, 4 … 30 s) until the database answers again, marks the interrupted task failed and
enqueues it again: every task of this project is safe to run again (a group run is one
transaction, rolled back whole when the database went; the maintenance steps skip what is
done). Everything else, the options and the graceful stop on SIGTERM, is ``db_worker``'s.
"""

from __future__ import annotations

import logging
import time

from django.db import connections
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from licensing.errors import database_unavailable

logger = logging.getLogger("licensing.worker")

MAX_WAIT = 30  # seconds between attempts to reach the database


def database_answers() -> bool:
    """Whether the database answers, on fresh connections (the old ones are broken)."""
    connections.close_all()
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # anything but an answer
        logger.info("no answer from the database: %s", error)
        return False
    return True


def keep_periodic_tasks() -> None:
    """The watch and the daily maintenance each schedule their next run; a run killed or lost
    with the database ends that chain. Scheduling them again is idempotent (one waiting run
    each), so every worker does it when it starts and after the database came back."""
    from licensing.tasks import schedule_daily_maintenance, schedule_group_watch

    schedule_group_watch()
    schedule_daily_maintenance()


class RecoveringWorker(Worker):
    """Remembers the task a lost database interrupted, to run it again once it is back."""

    interrupted: DBTaskResult | None = None

    def run_task(self, db_task_result: DBTaskResult) -> None:
        try:
            super().run_task(db_task_result)
        except BaseException as error:
            if database_unavailable(error):
                self.interrupted = db_task_result
            raise

    def recover(self) -> None:
        """Wait for the database, then give the interrupted task back to the queue."""
        wait = 1
        while self.running and not database_answers():
            logger.warning("database still unavailable; next try in %s s", wait)
            time.sleep(wait)
            wait = min(2 * wait, MAX_WAIT)
        lost, self.interrupted = self.interrupted, None
        if lost is not None and self.running:
            DBTaskResult.objects.filter(id=lost.id, status=TaskResultStatus.RUNNING).update(
                status=TaskResultStatus.FAILED
            )
            result = lost.task_result
            lost.task.enqueue(*result.args, **result.kwargs)
            logger.warning("task %s interrupted by the database: enqueued again", lost.task_path)


class Command(DbWorkerCommand):
    help = "Run the task worker; it waits out database restarts and runs interrupted tasks again."

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options,
    ) -> None:
        self.configure_logging(verbosity)
        worker = RecoveringWorker(
            queue_names=queue_name.split(","),
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=exclude_queues.split(",") if exclude_queues else [],
        )
        worker.configure_signals()
        while True:
            try:
                keep_periodic_tasks()
                worker.run()
                return
            except Exception as error:
                if not database_unavailable(error):
                    raise
                logger.warning("database unavailable (%s): waiting for it", error)
                worker.recover()
                if not worker.running:
                    return
