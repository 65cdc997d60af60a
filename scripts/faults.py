"""`make faults`: real faults injected into a running portal, and what survives them
(docs/operations.md).

Runs inside scripts/with-postgres (a throwaway cluster it may restart): gunicorn with two web
workers and two task workers (`manage.py run_worker`) on loopback, production settings
(DEBUG=0, the database task backend). Each scenario runs ROUNDS times at random points:

* worker_killed: SIGKILL to the task worker running a group run of every member (100,000;
  `--quick` 20,000); the other worker or the restarted one finishes it (the watch, and the
  driver racing it, enqueue the stalled run again: exactly one worker applies it);
* database_restarted_during_run: `pg_ctl restart -m fast` during such a run;
* database_restarted_under_requests: the same restart while 20 direct assigns come in at
  once, 10 through the portal and 10 through the API;
* web_worker_killed: SIGKILL to the gunicorn workers in the middle of a direct assign of 990
  users through the portal (Django reads at most 1,000 form fields), and of a SCIM PATCH that
  adds 990 members to a group;
* maintenance_killed: SIGKILL to `purge_deleted_users` and to `advance_subscriptions` halfway,
  then run again.

After every scenario: the rows equal the independent model's (tests/model) and the engine's
own recomputation (`check_consistency`: counters equal the rows, so no seat is counted twice);
every change that committed is whole and audited once, every change that did not left nothing.
Prints `faults_injected`, `faults_survived`, `changes_lost` and `inconsistent`, and exits
non-zero unless every fault was survived with nothing lost and nothing inconsistent.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The processes and this driver share production settings, on the database task backend.
ENV = {
    "SECRET_KEY": "faults-secret-key-not-for-production-0123456789abcdef",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SECURE_HSTS_SECONDS": "0",
    "PLAIN_STATIC_FILES": "1",
    "TASKS_BACKEND": "database",
    "AXES_FAILURE_LIMIT": "1000",
    "GRAPH_RATE_LIMIT": "100000",
    # A run that has not moved for 3 s is stalled; a worker looks every 2 s (production: 600
    # and 300, docs/operations.md).
    "GROUP_PROCESSING_STALL_SECONDS": "3",
    "GROUP_PROCESSING_WATCH_SECONDS": "2",
    "CONN_MAX_AGE": "60",
    "DJANGO_SETTINGS_MODULE": "portal.settings",
}
os.environ.update(ENV)

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import close_old_connections, connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from licensing import audit, processing, services  # noqa: E402
from licensing.consistency import consistency_problems  # noqa: E402
from licensing.models import (  # noqa: E402
    AuditEvent,
    DirectoryUser,
    Group,
    GroupMembership,
    ProcessingState,
    Product,
    Role,
    RoleAssignment,
    Subscription,
    SubscriptionStatus,
    Tenant,
    UserLicense,
)
from scripts.bulk import add_users, group_of_everyone  # noqa: E402
from tests.model.licensing_model import Model, differences  # noqa: E402

PY = str(ROOT / ".venv/bin/python")
logging.getLogger("httpx").setLevel(logging.WARNING)
PASSWORD = "faults-admin-password-2026"
BASE_URL = os.environ["DATABASE_URL"]
DELAY = 1.0  # the longest wait before a fault in a group run, seconds (``calibrate`` sets it)


def log(message: str) -> None:
    print(f"faults: {message}", flush=True)


class Tally:
    def __init__(self):
        self.injected = self.survived = self.lost = self.inconsistent = 0
        self.problems: list[str] = []

    def fault(self) -> None:
        self.injected += 1

    def outcome(self, scenario: str, problems: list[str], lost: int = 0, hit: str = "") -> None:
        """``hit``: where the fault met the work (mid-run, mid-request, after it ended)."""
        self.lost += lost
        if problems:
            self.inconsistent += 1
            self.problems += [f"{scenario}: {p}" for p in problems[:20]]
            log(f"{scenario} ({hit}): NOT survived: {problems[:5]}")
        else:
            self.survived += 1
            log(f"{scenario} ({hit}): survived")


# -- the processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Portal:
    """gunicorn (two web workers) and two task workers, restarted as faults need."""

    def __init__(self, build: Path):
        self.build = build
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.web = self._spawn(
            "web",
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--timeout",
                "300",
                "--log-level",
                "warning",
            ],
        )
        self.workers: dict[str, subprocess.Popen] = {}
        self.generation = 0
        for name in ("w1", "w2"):
            self.start_worker(name)
        self.wait_web()

    def _spawn(self, name: str, argv: list[str], env=None) -> subprocess.Popen:
        out = open(self.build / f"faults-{name}.log", "ab")  # noqa: SIM115 - lives with the process
        return subprocess.Popen(argv, cwd=ROOT, env=env or os.environ, stdout=out, stderr=out)

    def start_worker(self, name: str) -> None:
        self.generation += 1
        worker_id = f"{name}-{self.generation}"
        # Its connections carry its id, so that the driver sees which worker applies a run.
        env = {**os.environ, "DATABASE_URL": f"{BASE_URL}?application_name={worker_id}"}
        self.workers[worker_id] = self._spawn(
            name,
            [
                PY,
                "manage.py",
                "run_worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.2",
                "--worker-id",
                worker_id,
            ],
            env,
        )

    def kill_worker(self, worker_id: str) -> None:
        process = self.workers.pop(worker_id)
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.start_worker(worker_id.split("-")[0])

    def web_workers(self) -> list[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.web.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in found.split()]

    def kill_web_workers(self) -> None:
        for pid in self.web_workers():
            os.kill(pid, signal.SIGKILL)

    def wait_web(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                answer = httpx.get(f"{self.url}/accounts/login/", timeout=5)
                if answer.status_code == 200 and len(self.web_workers()) >= 2:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the portal did not answer")

    def stop(self) -> None:
        for process in [self.web, *self.workers.values()]:
            process.terminate()
        for process in [self.web, *self.workers.values()]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def restart_database() -> None:
    run_as = os.environ.get("PORTAL_PG_RUN_AS", "").split()
    subprocess.run(
        [
            *run_as,
            os.environ["PORTAL_PG_CTL"],
            "-D",
            os.environ["PORTAL_PG_DATA"],
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "restart",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    connections.close_all()


# -- the data ----------------------------------------------------------------------------


class World:
    """One tenant: MEMBERS users in one group, products with seats for all, an admin of the
    portal, an app for the API and a SCIM token."""

    def __init__(self, members: int):
        self.members = members
        self.tenant = Tenant.objects.create(
            name="Faults", initial_domain="faults.onmicrosoft.com", country="NL"
        )
        self.products = list(
            Product.objects.filter(applies_to="User")
            .exclude(sku_part_number__in=["EXCHANGESTANDARD", "EXCHANGEARCHIVE_ADDON"])
            .order_by("display_name")[:6]
        )
        for product in self.products:
            services.subscription_create(
                tenant=self.tenant,
                product=product,
                units=3 * members,
                start_date=datetime.date(2026, 1, 1),
                actor=None,
            )
        add_users(self.tenant, members, name="Faults", locations=["NL"])
        self.group = group_of_everyone(self.tenant, "All employees")
        self.patched = Group.objects.create(tenant=self.tenant, name="Provisioned")
        services.group_assign_products(
            tenant=self.tenant, group=self.patched, products={self.products[5]: []}, actor=None
        )  # queued: the workers apply it once they run
        self.admin = get_user_model().objects.create_user(
            "faults-admin@faults.onmicrosoft.com", password=PASSWORD
        )
        RoleAssignment.objects.create(
            account=self.admin, tenant=self.tenant, role=Role.GLOBAL_ADMINISTRATOR
        )
        self.app, self.app_secret = services.app_register(
            tenant=self.tenant, name="Faults script", actor=None
        )
        _token, self.scim_secret = services.scim_token_issue(tenant=self.tenant, actor=None)
        self.people = list(
            DirectoryUser.objects.filter(tenant=self.tenant)
            .order_by("id")
            .values_list("id", "public_id", "user_principal_name")
        )
        self.next_person = 0

    def take(self, n: int) -> list[tuple]:
        """n users no scenario has used yet (their direct licenses are theirs alone)."""
        people = self.people[self.next_person : self.next_person + n]
        self.next_person += n
        if len(people) < n:
            raise RuntimeError("the tenant has too few users for these rounds")
        return people


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            close_old_connections()
            if condition():
                return True
        except Exception:  # the database restarting: ask again
            connections.close_all()
        time.sleep(0.1)
    log(f"timed out waiting for {what}")
    return False


def state(group: Group) -> tuple:
    return (
        Group.objects.filter(id=group.id)
        .values_list("processing_state", "processing_done", "processing_run")
        .get()
    )


def wait_complete(group: Group, timeout: float = 300) -> bool:
    return wait_for(
        lambda: state(group)[0] == ProcessingState.COMPLETE, timeout, f"group {group.name}"
    )


def checked(world: World, model: Model) -> list[str]:
    """The rows against the independent model and the engine's own recomputation."""
    connections.close_all()
    model.step()
    return [*differences(model), *consistency_problems(world.tenant)]


def events(tenant, activity: str, after: int, **filters) -> int:
    return AuditEvent.objects.filter(
        tenant=tenant, activity=activity, id__gt=after, **filters
    ).count()


def last_event() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


# -- clients -----------------------------------------------------------------------------


def portal_session(portal: Portal) -> httpx.Client:
    client = httpx.Client(base_url=portal.url, timeout=120, follow_redirects=False)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    reply = client.post(
        "/accounts/login/",
        data={
            "csrfmiddlewaretoken": token,
            "username": "faults-admin@faults.onmicrosoft.com",
            "password": PASSWORD,
        },
    )
    if reply.status_code != 302:
        raise RuntimeError(f"portal sign-in: {reply.status_code}")
    return client


def portal_assign(client: httpx.Client, product: Product, people: list[tuple]) -> httpx.Response:
    return client.post(
        "/licenses/assign/",
        data={
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
            "product": str(product.sku_id),
            "user": [str(public_id) for _, public_id, _ in people],
            "action": "assign",
        },
    )


def api_token(portal: Portal, world: World) -> str:
    reply = httpx.post(
        f"{portal.url}/{world.tenant.initial_domain}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": str(world.app.client_id),
            "client_secret": world.app_secret,
            "scope": "https://graph.microsoft.com/.default",
        },
        timeout=30,
    )
    reply.raise_for_status()
    return reply.json()["access_token"]


def api_assign(portal: Portal, token: str, product: Product, person: tuple) -> httpx.Response:
    return httpx.post(
        f"{portal.url}/v1.0/users/{person[1]}/assignLicense",
        json={"addLicenses": [{"skuId": str(product.sku_id)}], "removeLicenses": []},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )


def clean_answer(reply: httpx.Response | Exception, api: bool) -> str | None:
    """Why this answer is not a clean one (success, or 503 with Retry-After in the protocol's
    shape), or None."""
    if isinstance(reply, Exception):
        return f"no answer: {reply!r}"
    if reply.status_code == 503:
        if reply.headers.get("Retry-After") != "5":
            return "503 without Retry-After"
        if api and reply.json().get("error", {}).get("code") != "serviceNotAvailable":
            return f"503 without Graph's envelope: {reply.text[:200]}"
        return None
    if reply.status_code in (200, 204, 303):
        return None
    return f"{reply.status_code}: {reply.text[:200]}"


# -- scenarios ---------------------------------------------------------------------------


def group_run_with(world: World, portal: Portal, tally: Tally, product: Product, fault) -> None:
    """Give the big group a product (queued for the workers), inject the fault while its run
    is in progress, wait for the run to be completed by whoever can, and check it."""
    name = fault.__name__
    model = Model(world.tenant)
    model.step()
    before = last_event()
    services.group_assign_products(
        tenant=world.tenant, group=world.group, products={product: []}, actor=world.admin
    )
    run = state(world.group)[2]
    started = wait_for(
        lambda: state(world.group)[0] != ProcessingState.QUEUED, 60, "the run to start"
    )
    # A run is one transaction: it shows no progress until it commits, so the moment to
    # strike is while a worker holds the run's lock (licensing.processing._hold_run).
    wait_for(
        lambda: applier(world.group) or state(world.group)[0] == ProcessingState.COMPLETE,
        60,
        "a worker to apply the run",
    )
    time.sleep(random.uniform(0.0, DELAY))
    victim = applier(world.group)
    hit = "mid-run" if victim else "after the run"
    fault(world, portal, victim)
    tally.fault()
    completed = wait_complete(world.group, timeout=300)
    problems = [] if started and completed else [f"run {run} not completed"]
    if completed:
        connections.close_all()
        got = UserLicense.objects.filter(
            via_group=world.group, product=product, state="Active"
        ).count()
        members = GroupMembership.objects.filter(group=world.group).count()
        if got != members:
            problems.append(f"{got} of {members} members hold {product.sku_part_number}")
        for activity in (audit.START_GROUP_APPLY, audit.FINISH_GROUP_APPLY):
            n = events(world.tenant, activity, before, target_id=str(world.group.public_id))
            if n != 1:
                problems.append(f"{activity}: {n} events")
        problems += checked(world, model)
    lost = 0 if completed else 1
    tally.outcome(name, problems, lost=lost, hit=hit)
    # Back as it was, for the next round (no fault).
    services.group_remove_products(
        tenant=world.tenant, group=world.group, products=[product], actor=world.admin
    )
    wait_complete(world.group)


def applier(group: Group) -> str | None:
    """The worker applying this group's run right now: the holder of the run's lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s
            """,
            [processing.RUN_LOCK, group.id],
        )
        found = cursor.fetchone()
    return found[0] if found else None


def worker_killed(world: World, portal: Portal, victim: str | None) -> None:
    if victim not in portal.workers:
        victim = random.choice(list(portal.workers))  # the run is over: any worker
    portal.kill_worker(victim)
    # The watch enqueues the stalled run again; a cron job may too, at the same moment: two
    # tasks, two workers, and exactly one of them applies it.
    time.sleep(float(ENV["GROUP_PROCESSING_STALL_SECONDS"]) + 0.5)
    processing.resume_stalled_groups()


def database_restarted_during_run(world: World, portal: Portal, victim: str | None) -> None:
    restart_database()


def database_restarted_under_requests(world: World, portal: Portal, tally: Tally) -> None:
    """20 clients (10 portal, 10 API) assign a product user after user, each to users of its
    own, from before the restart until after the database is back."""
    model = Model(world.tenant)
    model.step()
    product = world.products[1]
    session = portal_session(portal)
    token = api_token(portal, world)
    mine = [world.take(40) for _ in range(20)]
    answers: dict[tuple, httpx.Response | Exception] = {}
    go, stop = threading.Barrier(21), threading.Event()

    def send(i: int, people: list[tuple]) -> None:
        client = httpx.Client(base_url=portal.url, timeout=120, cookies=session.cookies)
        go.wait()
        for person in people:
            if stop.is_set():
                break
            try:
                if i < 10:
                    answers[person] = portal_assign(client, product, [person])
                else:
                    answers[person] = api_assign(portal, token, product, person)
            except Exception as error:
                answers[person] = error

    threads = [threading.Thread(target=send, args=(i, p)) for i, p in enumerate(mine)]
    for thread in threads:
        thread.start()
    go.wait()
    time.sleep(random.uniform(0.05, 0.5))
    restart_database()
    tally.fault()
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()
    api = {p for people in mine[10:] for p in people}
    problems, lost = [], 0
    for person, answer in answers.items():
        why = clean_answer(answer, api=person in api)
        if why:
            problems.append(f"{person[2]}: {why}")
        held = UserLicense.objects.filter(user_id=person[0], product=product).exists()
        audited = AuditEvent.objects.filter(
            activity=audit.CHANGE_USER_LICENSE, target_id=str(person[1])
        ).count()
        if held != (audited == 1) or audited > 1:
            problems.append(f"{person[2]}: license {held}, {audited} audit events")
        if not isinstance(answer, Exception) and answer.status_code in (200, 303) and not held:
            lost += 1
            problems.append(f"{person[2]}: answered {answer.status_code} but has no license")
    problems += checked(world, model)
    unavailable = sum(
        1 for a in answers.values() if not isinstance(a, Exception) and a.status_code == 503
    )
    hit = f"{unavailable} of {len(answers)} answered 503, the rest went through"
    if not unavailable:
        hit += " (the restart met no request)"
    tally.outcome("database_restarted_under_requests", problems, lost=lost, hit=hit)


def web_worker_killed_in(kind: str, world: World, portal: Portal, tally: Tally) -> None:
    """Kill the web workers while they apply a 990-user change; it is all there or not."""
    model = Model(world.tenant)
    model.step()
    people = world.take(990)
    answer: list = []
    if kind == "direct assign":
        session = portal_session(portal)
        product = world.products[2]

        def send():
            try:
                answer.append(portal_assign(session, product, people))
            except Exception as error:
                answer.append(error)

        def applied() -> int:
            return UserLicense.objects.filter(
                user_id__in=[p[0] for p in people], product=product
            ).count()

        audited = audit.CHANGE_USER_LICENSE
    else:
        url = f"{portal.url}/scim/v2/{world.tenant.public_id}/Groups/{world.patched.public_id}"
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": str(p[1])} for p in people]}
            ],
        }

        def send():
            try:
                answer.append(
                    httpx.patch(
                        url,
                        json=body,
                        headers={"Authorization": f"Bearer {world.scim_secret}"},
                        timeout=120,
                    )
                )
            except Exception as error:
                answer.append(error)

        def applied() -> int:
            return GroupMembership.objects.filter(
                group=world.patched, user_id__in=[p[0] for p in people]
            ).count()

        audited = audit.ADD_MEMBER

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(random.uniform(0.02, 0.4))
    hit = "after the answer" if answer else "mid-request"
    portal.kill_web_workers()
    tally.fault()
    sender.join()
    portal.wait_web()
    connections.close_all()
    wait_complete(world.patched)
    n = applied()
    problems = [] if n in (0, len(people)) else [f"{kind}: {n} of {len(people)} applied"]
    events_of_them = AuditEvent.objects.filter(
        activity=audited, target_id__in=[str(p[1]) for p in people]
    ).count()
    if events_of_them != n:
        problems.append(f"{kind}: {n} applied, {events_of_them} audit events")
    reply = answer[0]
    if not isinstance(reply, Exception) and reply.status_code < 400 and n == 0:
        problems.append(f"{kind}: answered {reply.status_code}, nothing applied")
    problems += checked(world, model)
    tally.outcome(f"web_worker_killed ({kind})", problems, hit=hit)


def maintenance_killed(kind: str, world: World, tally: Tally, build: Path) -> None:
    """Kill a maintenance command halfway, run it again: it completes, nothing done twice."""
    model = Model(world.tenant)
    model.step()
    long_ago = timezone.now() - datetime.timedelta(days=40)
    before = last_event()
    if kind == "purge_deleted_users":
        people = world.take(300)
        services.product_assign_to_users(
            tenant=world.tenant,
            product=world.products[3],
            users=list(DirectoryUser.objects.filter(id__in=[p[0] for p in people])),
            actor=None,
        )
        DirectoryUser.objects.filter(id__in=[p[0] for p in people]).update(soft_deleted_at=long_ago)
        model.step()
        expected = {str(p[1]) for p in people}
    else:
        product = world.products[4]
        today = timezone.now().date()
        created = []
        for _ in range(150):
            # Due long ago: Enabled → Warning → Suspended → deleted, three steps each.
            created.append(
                Subscription.objects.create(
                    tenant=world.tenant,
                    product=product,
                    units=1,
                    status=SubscriptionStatus.ENABLED,
                    start_date=today - datetime.timedelta(days=400),
                    next_lifecycle_date=today - datetime.timedelta(days=200),
                ).id
            )
    out = open(build / "faults-maintenance.log", "ab")  # noqa: SIM115
    command = [PY, "manage.py", kind]
    purging = kind == "purge_deleted_users"
    activity = audit.HARD_DELETE_USER if purging else audit.CHANGE_SUBSCRIPTION
    total = 300 if purging else 450
    process = subprocess.Popen(command, cwd=ROOT, env=os.environ, stdout=out, stderr=out)
    # Strike once it has done its first step, at a random moment after.
    wait_for(
        lambda: process.poll() is not None or events(world.tenant, activity, before) > 0,
        60,
        f"{kind} to start",
    )
    time.sleep(random.uniform(0.0, 0.5))
    process.send_signal(signal.SIGKILL)
    process.wait()
    tally.fault()
    done = events(world.tenant, activity, before)
    hit = f"after {done} of {total} steps" if 0 < done < total else f"{done} of {total} steps"
    again = subprocess.run(command, cwd=ROOT, env=os.environ, stdout=out, stderr=out)
    problems = [] if again.returncode == 0 else [f"{kind} failed when run again"]
    connections.close_all()
    if kind == "purge_deleted_users":
        left = DirectoryUser.objects.filter(id__in=[p[0] for p in people]).count()
        if left:
            problems.append(f"{left} users not purged")
        deleted = list(
            AuditEvent.objects.filter(activity=audit.HARD_DELETE_USER, id__gt=before).values_list(
                "target_id", flat=True
            )
        )
        if sorted(deleted) != sorted(expected):
            problems.append(f"{len(deleted)} delete events for {len(expected)} users")
    else:
        left = Subscription.objects.filter(id__in=created).count()
        if left:
            problems.append(f"{left} subscriptions not advanced to the end")
        steps = events(world.tenant, audit.CHANGE_SUBSCRIPTION, before)
        if steps != 150 * 3:
            problems.append(f"{steps} subscription events for 150 subscriptions of 3 steps")
    problems += checked(world, model)
    tally.outcome(f"maintenance_killed ({kind})", problems, hit=hit)


def calibrate(world: World) -> None:
    """Time one run of the big group without a fault, so that faults land within a run: at
    a random moment in its first 80 %."""
    global DELAY
    product = world.products[0]
    services.group_assign_products(
        tenant=world.tenant, group=world.group, products={product: []}, actor=None
    )
    wait_for(lambda: state(world.group)[0] != ProcessingState.QUEUED, 60, "the run to start")
    started = time.monotonic()
    wait_complete(world.group)
    DELAY = max(0.1, 0.8 * (time.monotonic() - started))
    log(f"a run of {world.members} members takes {DELAY / 0.8:.1f} s")
    services.group_remove_products(
        tenant=world.tenant, group=world.group, products=[product], actor=None
    )
    wait_complete(world.group)


# -- main --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one fault per scenario")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rounds, members = (1, 20_000) if args.quick else (args.rounds, args.members)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    random.seed(seed)
    log(f"seed {seed}, {rounds} round(s), {members} members")
    build = ROOT / "build"
    build.mkdir(exist_ok=True)
    call_command("migrate", verbosity=0)
    started = time.monotonic()
    world = World(members)
    log(f"tenant built in {time.monotonic() - started:.0f} s")
    portal = Portal(build)
    call_command("schedule_maintenance", verbosity=0)
    calibrate(world)
    tally = Tally()
    try:
        for i in range(rounds):
            product = world.products[i % 2]
            group_run_with(world, portal, tally, product, worker_killed)
            group_run_with(world, portal, tally, product, database_restarted_during_run)
            database_restarted_under_requests(world, portal, tally)
            web_worker_killed_in("direct assign", world, portal, tally)
            web_worker_killed_in("SCIM PATCH", world, portal, tally)
            maintenance_killed("purge_deleted_users", world, tally, build)
            maintenance_killed("advance_subscriptions", world, tally, build)
    finally:
        portal.stop()
    for problem in tally.problems:
        log(problem)
    print(f"faults_injected: {tally.injected}")
    print(f"faults_survived: {tally.survived}")
    print(f"changes_lost: {tally.lost}")
    print(f"inconsistent: {tally.inconsistent}")
    print(f"faults_minutes: {(time.monotonic() - started) / 60:.1f}")
    ok = tally.survived == tally.injected and not tally.lost and not tally.inconsistent
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
