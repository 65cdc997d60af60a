"""The quick start's SQLite with a task worker beside the web server (portal/settings.py):
WAL, transactions that take the write lock when they begin, and a busy timeout, so that
`TASKS_BACKEND=database` and `manage.py run_worker` work on it too. Each case runs
manage.py in subprocesses on a SQLite file of its own (the test run's own database is
PostgreSQL)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = 600

SETUP = f"""
from licensing import services
from licensing.models import Group
from tests.factories import (
    AccountFactory, DirectoryUserFactory, GroupFactory, GroupMembershipFactory,
    SubscriptionFactory, TenantFactory, product,
)
actor = AccountFactory()
tenant = TenantFactory(name="Contoso", initial_domain="contoso.onmicrosoft.com")
other = TenantFactory(name="Fabrikam", initial_domain="fabrikam.onmicrosoft.com")
DirectoryUserFactory(tenant=other, user_principal_name="written@fabrikam.onmicrosoft.com")
SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units={MEMBERS})
group = GroupFactory(tenant=tenant, name="Everyone")
for _ in range({MEMBERS}):
    GroupMembershipFactory(group=group, user=DirectoryUserFactory(tenant=tenant))
services.group_assign_products(
    tenant=tenant, group=group, products={{product("AAD_PREMIUM"): []}}, actor=actor
)
print(Group.objects.get(pk=group.pk).processing_state)
"""

# The web server's side: read, then write, one transaction at a time, until told to stop.
WRITER = """
import os, time
from django.db import transaction
from django.utils import timezone
from licensing.models import DirectoryUser
stop = os.environ["STOP_FILE"]
writes = 0
while not os.path.exists(stop):
    with transaction.atomic():
        user = DirectoryUser.objects.get(user_principal_name="written@fabrikam.onmicrosoft.com")
        user.job_title = str(writes)
        user.save(update_fields=["job_title"])
    print(timezone.now().isoformat(), flush=True)
    writes += 1
    time.sleep(0.002)
"""

RESULT = """
from django_tasks_db.models import DBTaskResult
from licensing.models import DirectoryUser, Group, UserLicense
(task,) = DBTaskResult.objects.filter(task_path="licensing.processing.process_group_task")
print(task.status, task.started_at.isoformat(), task.finished_at.isoformat())
print(Group.objects.get(name="Everyone").processing_state)
print(UserLicense.objects.filter(user__tenant__name="Contoso", state="Active").count())
print(DirectoryUser.objects.get(user_principal_name="written@fabrikam.onmicrosoft.com").job_title)
"""


def environment(database: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {name: value for name, value in os.environ.items() if name in keep}
    env.update(
        {
            "SECRET_KEY": "a-test-key-" + "k" * 50,
            "DATABASE_URL": f"sqlite:///{database}",
            "TASKS_BACKEND": "database",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def manage(env: dict[str, str], *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def shell(env: dict[str, str], code: str) -> list[str]:
    result = manage(env, "shell", "-v0", "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")


@pytest.fixture
def database(tmp_path) -> Path:
    path = tmp_path / "quick-start.sqlite3"
    migrated = manage(environment(path), "migrate", "--noinput", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    return path


def test_sqlite_runs_in_wal_with_immediate_transactions_and_a_busy_timeout(database):
    shown = shell(
        environment(database),
        "from django.db import connection\n"
        "cursor = connection.cursor()\n"
        "print(cursor.execute('PRAGMA journal_mode').fetchone()[0])\n"
        "print(cursor.execute('PRAGMA busy_timeout').fetchone()[0])\n"
        "print(connection.transaction_mode)\n",
    )
    assert shown[:3] == ["wal", "20000", "IMMEDIATE"]
    # WAL is kept in the file: a connection without the settings finds it too.
    with sqlite3.connect(database) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_postgresql_gets_none_of_it():
    options = settings.DATABASES["default"].get("OPTIONS", {})
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert not {"init_command", "transaction_mode", "timeout"} & set(options)


def test_a_worker_completes_a_group_run_while_the_web_server_writes(database, tmp_path):
    env = environment(database)
    assert shell(env, SETUP)[-2] == "QueuedForProcessing"
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-v0", "-c", WRITER],
        cwd=ROOT,
        env={**env, "STOP_FILE": str(stop)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1)  # the writer is writing before the worker starts
        worker = manage(env, "run_worker", "--batch", "--no-startup-delay", "--interval", "0")
    finally:
        stop.touch()
        written, writer_errors = writer.communicate(timeout=60)
    assert worker.returncode == 0, worker.stderr
    assert "locked" not in worker.stderr
    assert writer.returncode == 0, writer_errors
    task, state, active, job_title = shell(env, RESULT)[:4]
    status, started, finished = task.split()
    assert status == "SUCCESSFUL"
    assert state == "ProcessingComplete"
    assert int(active) == MEMBERS
    # The web server wrote before, during and after the run (waiting for the write lock
    # while the run held it), and none of its writes was refused.
    times = [datetime.fromisoformat(line) for line in written.split()]
    assert times[0] < datetime.fromisoformat(started)
    assert times[-1] > datetime.fromisoformat(finished)
    assert int(job_title) == len(times) - 1
