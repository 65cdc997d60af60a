"""Group processing in the background, written in chunks (docs/rules.md §4, §8).

The set-based path (licensing.fastpath) must give exactly the rows of the synchronous path
(the reconciler over every member in one go): each scenario runs twice, in two tenants built
alike, once each way, and the rows are compared step by step.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from licensing import fastpath, processing, services
from licensing.consistency import consistency_problems
from licensing.models import (
    AuditEvent,
    DirectoryUser,
    Group,
    LicenseAssignment,
    ProcessingState,
    Subscription,
    UserLicense,
)
from tests.factories import (
    DirectoryUserFactory,
    GroupFactory,
    GroupMembershipFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
)
from tests.helpers import DATABASE_TASKS, assert_consistent, paths_of, seats

pytestmark = pytest.mark.django_db


def rows_of(tenant) -> set[tuple]:
    """The tenant's rows by names, comparable across tenants."""
    return set(
        UserLicense.objects.filter(tenant=tenant).values_list(
            "user__display_name", "product__sku_part_number", "via_group__name", "state", "error"
        )
    )


class World:
    """One tenant with a 12-member group in a fixed join order, some members with other
    paths, one soft-deleted, some in a country where a plan is not offered."""

    def __init__(self, suffix: str, actor):
        self.actor = actor
        self.tenant = TenantFactory(
            name=f"Tenant {suffix}", initial_domain=f"t{suffix}.onmicrosoft.com", country="NL"
        )
        start = timezone.now() - timedelta(days=30)
        self.people = [
            DirectoryUserFactory(
                tenant=self.tenant,
                display_name=f"Member {i:02d}",
                user_principal_name=f"m{i:02d}@t{suffix}.example",
                usage_location="CN" if i in (3, 7) else "",
            )
            for i in range(12)
        ]
        self.group = GroupFactory(tenant=self.tenant, name="All")
        for i, person in enumerate(self.people):
            GroupMembershipFactory(
                group=self.group, user=person, added_at=start + timedelta(minutes=i)
            )

    def buy(self, sku: str, units: int) -> Subscription:
        return SubscriptionFactory(tenant=self.tenant, product=product(sku), units=units)

    def assign(self, *skus: str, disabled=None) -> None:
        services.group_assign_products(
            tenant=self.tenant,
            group=self.group,
            products={product(s): (disabled or {}).get(s, []) for s in skus},
            actor=self.actor,
        )


def _steps_plenty(w: World):
    w.buy("STANDARDPACK", 50)
    w.buy("AAD_PREMIUM", 50)
    yield w.assign("STANDARDPACK")
    yield w.assign("AAD_PREMIUM")
    yield services.group_remove_products(
        tenant=w.tenant, group=w.group, products=[product("STANDARDPACK")], actor=w.actor
    )


def _steps_shortage(w: World):
    # 5 seats for 12 members: the five who joined first hold them, in order.
    sub = w.buy("AAD_PREMIUM", 5)
    w.buy("ENTERPRISEPACK", 9)
    yield w.assign("AAD_PREMIUM")
    # All or nothing per member: E3 has 9 seats, P1 5: only those with both are active.
    yield w.assign("ENTERPRISEPACK")
    Subscription.objects.filter(id=sub.id).update(units=8)
    yield services.reprocess_group(tenant=w.tenant, group=w.group, actor=w.actor)


def _steps_freed(w: World):
    # Everyone in "All" holds P1; three others wait for it through "Late".
    w.buy("AAD_PREMIUM", 12)
    w.buy("ENTERPRISEPACK", 2)
    late = GroupFactory(tenant=w.tenant, name="Late")
    outsiders = DirectoryUserFactory.create_batch(3, tenant=w.tenant)
    for i, person in enumerate(outsiders):
        person.display_name = f"Outsider {i}"
        person.save()
    yield w.assign("AAD_PREMIUM")
    yield services.group_add_members(tenant=w.tenant, group=late, users=outsiders, actor=w.actor)
    yield services.group_assign_products(
        tenant=w.tenant, group=late, products={product("AAD_PREMIUM"): []}, actor=w.actor
    )
    # E3 for "All" with 2 seats: ten members fail and give back P1, the outsiders take it.
    yield w.assign("ENTERPRISEPACK")


def _steps_mixed(w: World):
    w.buy("STANDARDPACK", 20)
    w.buy("ENTERPRISEPACK", 20)
    w.buy("EXCHANGEARCHIVE_ADDON", 20)
    # Member 1 holds E1 directly: the group's E3 conflicts with it for them.
    yield services.product_assign_to_users(
        tenant=w.tenant, product=product("STANDARDPACK"), users=[w.people[1]], actor=w.actor
    )
    yield services.user_soft_delete(tenant=w.tenant, user=w.people[5], actor=w.actor)
    # Member 2 also holds E3 through another group, which took their seat first.
    other = GroupFactory(tenant=w.tenant, name="Other")
    yield services.group_add_members(
        tenant=w.tenant, group=other, users=[w.people[2]], actor=w.actor
    )
    yield services.group_assign_products(
        tenant=w.tenant, group=other, products={product("ENTERPRISEPACK"): []}, actor=w.actor
    )
    yield w.assign("ENTERPRISEPACK")
    # Exchange Online Archiving needs an Exchange plan: the group's E3 provides it.
    yield w.assign("EXCHANGEARCHIVE_ADDON")
    yield services.product_remove_from_users(
        tenant=w.tenant, product=product("STANDARDPACK"), users=[w.people[1]], actor=w.actor
    )
    yield services.reprocess_group(tenant=w.tenant, group=w.group, actor=w.actor)


def _steps_options(w: World):
    w.buy("ENTERPRISEPACK", 7)
    yield w.assign("ENTERPRISEPACK")
    assignment = LicenseAssignment.objects.get(group=w.group)
    plans = [
        str(p)
        for p in product("ENTERPRISEPACK").plan_links.values_list(
            "service_plan__service_plan_id", flat=True
        )
    ]
    yield services.assignment_set_disabled_plans(
        tenant=w.tenant, assignment=assignment, disabled_plans=plans[-1:], actor=w.actor
    )
    yield services.group_remove_members(
        tenant=w.tenant, group=w.group, users=w.people[:2], actor=w.actor
    )


@pytest.mark.parametrize(
    "steps", [_steps_plenty, _steps_shortage, _steps_freed, _steps_mixed, _steps_options]
)
def test_batches_in_sql_give_the_rows_of_the_synchronous_path(steps, actor, settings, monkeypatch):
    fast, slow = World("a", actor), World("b", actor)
    fast_steps, slow_steps = steps(fast), steps(slow)
    real_apply = processing.apply_members
    step = 0
    while True:
        # The background path: batches of 5 (3 of them here), set-based where it can.
        settings.GROUP_PROCESSING_BATCH = 5
        monkeypatch.setattr(processing, "apply_members", real_apply)
        if next(fast_steps, "done") == "done":
            break
        # The synchronous path: every member through the reconciler, in one batch.
        settings.GROUP_PROCESSING_BATCH = 1000
        monkeypatch.setattr(
            processing, "apply_members", lambda *, user_ids, **kw: (list(user_ids), Counter())
        )
        next(slow_steps)
        step += 1
        assert rows_of(fast.tenant) == rows_of(slow.tenant), f"after step {step}"
        assert consistency_problems(fast.tenant) == []
        assert consistency_problems(slow.tenant) == []
    assert next(slow_steps, "done") == "done"
    assert step >= 3


def test_the_shortage_goes_to_the_earliest_members_in_every_batch(actor, settings):
    settings.GROUP_PROCESSING_BATCH = 4
    w = World("c", actor)
    w.buy("AAD_PREMIUM", 6)
    w.assign("AAD_PREMIUM")
    states = dict(
        UserLicense.objects.filter(tenant=w.tenant).values_list("user__display_name", "error")
    )
    assert [states[p.display_name] for p in w.people] == [""] * 6 + ["CountViolation"] * 6
    assert_consistent(w.tenant)


def reconciled_members(monkeypatch) -> list[list[int]]:
    """The members each group run leaves to the reconciler, as the run calls it."""
    reconciled: list[list[int]] = []
    real = processing.reconcile
    monkeypatch.setattr(
        processing,
        "reconcile",
        lambda **kw: reconciled.append(list(kw["user_ids"])) or real(**kw),
    )
    return reconciled


def test_the_set_based_path_writes_the_rows_of_simple_members(actor, settings, monkeypatch):
    """The fast path is really taken (and the reconciler is not) for members whose only path
    is the group."""
    settings.GROUP_PROCESSING_BATCH = 5
    w = World("d", actor)
    w.buy("AAD_PREMIUM", 50)
    reconciled = reconciled_members(monkeypatch)
    w.assign("AAD_PREMIUM")
    assert UserLicense.objects.filter(via_group=w.group, state="Active").count() == 12
    assert all(not ids for ids in reconciled)


def test_processing_moves_through_the_states_and_writes_in_chunks(actor, settings, monkeypatch):
    """One decision for the whole run; only the writing is split, five members a statement."""
    settings.GROUP_PROCESSING_BATCH = 5
    w = World("e", actor)
    w.buy("AAD_PREMIUM", 8)
    seen, chunks = [], []
    real, real_chunk = processing._apply_run, fastpath._write_chunk

    def spy(**kwargs):
        group = Group.objects.get(id=w.group.id)
        seen.append((group.processing_state, group.processing_done, group.processing_total))
        return real(**kwargs)

    monkeypatch.setattr(processing, "_apply_run", spy)
    monkeypatch.setattr(
        fastpath, "_write_chunk", lambda *a: chunks.append(a[3].count(",") + 1) or real_chunk(*a)
    )
    w.assign("AAD_PREMIUM")
    assert seen == [("ProcessingInProgress", 0, 12)]
    assert chunks == [5, 5, 2]
    w.group.refresh_from_db()
    assert (w.group.processing_state, w.group.processing_done) == ("ProcessingComplete", 12)
    events = AuditEvent.objects.filter(tenant=w.tenant, target_type="Group").order_by("id")
    assert [e.activity for e in events] == [
        "Set group license",
        "Start applying group based license to users",
        "Finish applying group based license to users",
    ]
    assert events.last().details["summary"] == (
        "Users successfully assigned licenses: 8, Users for whom license assignment failed: 4."
    )


def test_with_a_worker_the_change_is_queued_and_the_run_applies_it(actor, settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DATABASE_TASKS
    w = World("f", actor)
    w.buy("AAD_PREMIUM", 50)
    outcome = services.group_assign_products(
        tenant=w.tenant, group=w.group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    assert outcome is None
    w.group.refresh_from_db()
    assert (w.group.processing_state, w.group.processing_total) == ("QueuedForProcessing", 12)
    assert not UserLicense.objects.filter(tenant=w.tenant).exists()
    (task,) = DBTaskResult.objects.all()
    assert task.task_path == "licensing.processing.process_group_task"
    assert task.args_kwargs["kwargs"]["run"] == w.group.processing_run
    # What the worker does with it:
    assert processing.process_group_task.call(**task.args_kwargs["kwargs"]) == {
        "assigned": 12,
        "failed": 0,
    }
    w.group.refresh_from_db()
    assert w.group.processing_state == ProcessingState.COMPLETE
    assert_consistent(w.tenant)


def test_a_change_completes_the_pending_run_before_it_and_supersedes_it(actor, settings):
    settings.TASKS = DATABASE_TASKS
    w = World("g", actor)
    w.buy("AAD_PREMIUM", 50)
    w.assign("AAD_PREMIUM")
    first_run = Group.objects.get(id=w.group.id).processing_run
    assert not UserLicense.objects.filter(tenant=w.tenant).exists()  # queued for a worker
    services.reprocess_group(tenant=w.tenant, group=w.group, actor=actor)
    # Nothing overtakes a queued change: the reprocess applied it first, then queued its own.
    assert UserLicense.objects.filter(tenant=w.tenant, state="Active").count() == 12
    assert processing.run_group(w.group.id, first_run) is None
    assert processing.run_group(w.group.id, first_run + 1) == {"assigned": 12, "failed": 0}


class WorkerDied(BaseException):
    """A worker killed mid-run (not an error the service would retry or report)."""


def test_a_run_whose_worker_dies_midway_leaves_nothing_and_is_completed_by_the_next(
    actor, settings, monkeypatch
):
    # (One settings mechanism per test: override_settings and the settings fixture together
    # restore each other's snapshot and leak TASKS into later tests.)
    settings.TASKS = DATABASE_TASKS
    settings.GROUP_PROCESSING_BATCH = 5
    w = World("h", actor)
    w.buy("AAD_PREMIUM", 7)
    w.assign("AAD_PREMIUM")
    run = Group.objects.get(id=w.group.id).processing_run
    real = fastpath._write_chunk
    calls = []

    def dies_in_the_second_chunk(*args):
        calls.append(1)
        if len(calls) == 2:
            raise WorkerDied
        return real(*args)

    monkeypatch.setattr(fastpath, "_write_chunk", dies_in_the_second_chunk)
    with pytest.raises(WorkerDied):
        processing.run_group(w.group.id, run, actor=actor)
    monkeypatch.setattr(fastpath, "_write_chunk", real)

    # The run rolled back whole (the first chunk too); the group is still in progress.
    group = Group.objects.get(id=w.group.id)
    assert (group.processing_state, group.processing_done) == ("ProcessingInProgress", 0)
    assert not UserLicense.objects.filter(tenant=w.tenant).exists()

    # Not stalled yet; a while later it is, and the next run completes it.
    assert list(processing.stalled_groups()) == []
    later = timezone.now() + processing.stall_after() + timedelta(seconds=1)
    assert processing.resume_stalled_groups(now=later) == [group]
    group.refresh_from_db()
    assert processing.run_group(group.id, group.processing_run) == {"assigned": 7, "failed": 5}
    group.refresh_from_db()
    assert group.processing_state == ProcessingState.COMPLETE
    errors = dict(
        UserLicense.objects.filter(tenant=w.tenant).values_list("user__display_name", "error")
    )
    assert [errors[p.display_name] for p in w.people] == [""] * 7 + ["CountViolation"] * 5
    events = AuditEvent.objects.filter(tenant=w.tenant, target_type="Group").order_by("id")
    assert [e.activity for e in events] == [
        "Set group license",
        "Start applying group based license to users",
        "Finish applying group based license to users",
    ]
    assert_consistent(w.tenant)


def test_soft_deleted_members_keep_their_suspended_seat_through_processing(actor, settings):
    settings.GROUP_PROCESSING_BATCH = 5
    w = World("i", actor)
    w.buy("AAD_PREMIUM", 12)
    w.assign("AAD_PREMIUM")
    services.user_soft_delete(tenant=w.tenant, user=w.people[0], actor=actor)
    services.reprocess_group(tenant=w.tenant, group=w.group, actor=actor)
    assert UserLicense.objects.get(user=w.people[0]).state == "Suspended"
    assert DirectoryUser.objects.filter(tenant=w.tenant, soft_deleted_at__isnull=False).count() == 1
    assert_consistent(w.tenant)


def test_deleting_a_group_whose_last_change_waits_completes_that_change_first(
    tenant, buy, users, actor, settings
):
    """The group's products were removed and the run that takes them from the members still
    waits for a worker when the group is deleted: the run is completed first, so that the
    members' other licenses are decided again without the group (found by the state
    machine: a license kept failing on a conflict with a group that was gone)."""
    buy("EXCHANGESTANDARD", 2)
    buy("ENTERPRISEPACK", 1)
    (user,) = users(1)
    mail = GroupFactory(tenant=tenant, name="Mail")
    office = GroupFactory(tenant=tenant, name="Office")
    for group, sku in ((mail, "EXCHANGESTANDARD"), (office, "ENTERPRISEPACK")):
        services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
        services.group_assign_products(
            tenant=tenant, group=group, products={product(sku): []}, actor=actor
        )
    # Exchange Online Plan 1 works; E3's Plan 2 excludes it.
    assert paths_of(user) == {
        ("EXCHANGESTANDARD", "Mail", "Active", ""),
        ("ENTERPRISEPACK", "Office", "Error", "MutuallyExclusiveViolation"),
    }
    settings.TASKS = DATABASE_TASKS
    services.group_remove_products(
        tenant=tenant, group=mail, products=[product("EXCHANGESTANDARD")], actor=actor
    )
    mail.refresh_from_db()
    assert mail.processing_state == ProcessingState.QUEUED
    services.group_delete(tenant=tenant, group=mail, actor=actor)
    assert paths_of(user) == {("ENTERPRISEPACK", "Office", "Active", "")}
    assert seats(tenant, "EXCHANGESTANDARD")["assigned"] == 0
    assert seats(tenant, "ENTERPRISEPACK")["assigned"] == 1
    assert_consistent(tenant)


@pytest.mark.parametrize("batch", [50_000, 1])
def test_a_seat_a_member_holds_stays_with_their_other_claim_that_needs_it(
    tenant, buy, users, actor, settings, batch
):
    """Decided at once: Mail's claim waits for a product without seats, so its Exchange no
    longer works and the member's Office claim (E3 and EMS) becomes valid; it keeps the one
    EMS seat the member holds and takes an E3 seat, ahead of earlier claims waiting for EMS."""
    buy("EMS", 1)
    buy("EXCHANGESTANDARD", 1)
    buy("ENTERPRISEPACK", 3)
    buy("AAD_PREMIUM", 0)
    first, second, member, later, last = users(5)
    mail, office = GroupFactory(tenant=tenant, name="Mail"), GroupFactory(tenant=tenant)
    services.group_assign_products(
        tenant=tenant,
        group=mail,
        products={product("EMS"): [], product("EXCHANGESTANDARD"): []},
        actor=actor,
    )
    for user in (first, second, member):
        services.group_add_members(tenant=tenant, group=office, users=[user], actor=actor)
    for user in (member, later, last):
        services.group_add_members(tenant=tenant, group=mail, users=[user], actor=actor)
    services.group_assign_products(
        tenant=tenant,
        group=office,
        products={product("ENTERPRISEPACK"): [], product("EMS"): []},
        actor=actor,
    )
    assert ("EMS", "Mail", "Active", "") in paths_of(member)
    settings.GROUP_PROCESSING_BATCH = batch
    services.group_assign_products(
        tenant=tenant, group=mail, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    assert {(s, g, st) for s, g, st, _ in paths_of(member)} == {
        ("EMS", "Mail", "Error"),
        ("EXCHANGESTANDARD", "Mail", "Error"),
        ("AAD_PREMIUM", "Mail", "Error"),
        ("ENTERPRISEPACK", office.name, "Active"),
        ("EMS", office.name, "Active"),
    }
    assert paths_of(first) == {
        ("ENTERPRISEPACK", office.name, "Error", "CountViolation"),
        ("EMS", office.name, "Error", "CountViolation"),
    }
    assert_consistent(tenant)


def test_reprocess_gives_seats_bought_meanwhile_to_waiting_members_set_based(
    actor, settings, monkeypatch
):
    """Reprocess of a group whose members wait for seats bought outside the portal decides
    them in set-based SQL: no member goes through the reconciler (the bench's 50,000-member
    Reprocess depends on it)."""
    settings.GROUP_PROCESSING_BATCH = 5
    w = World("r", actor)
    sub = w.buy("AAD_PREMIUM", 6)
    w.assign("AAD_PREMIUM")
    assert UserLicense.objects.filter(via_group=w.group, error="CountViolation").count() == 6
    Subscription.objects.filter(id=sub.id).update(units=50)  # a billing sync, say
    reconciled = reconciled_members(monkeypatch)
    services.reprocess_group(tenant=w.tenant, group=w.group, actor=actor)
    assert UserLicense.objects.filter(via_group=w.group, state="Active").count() == 12
    assert reconciled == [[]]
    assert_consistent(w.tenant)


@pytest.mark.django_db(transaction=True)
def test_a_run_still_being_applied_is_not_taken_for_a_stalled_one(transactional_catalog, actor):
    """A run is one transaction and does not move until it commits: however long it takes, the
    watch leaves it to the worker applying it (it holds the run's lock)."""
    import threading

    from django.db import connection, transaction

    w = World("s", actor)
    w.buy("AAD_PREMIUM", 50)
    Group.objects.filter(id=w.group.id).update(
        processing_state=ProcessingState.IN_PROGRESS, processing_updated_at=None
    )
    holding, done = threading.Event(), threading.Event()

    def worker():
        with transaction.atomic():
            processing._hold_run(w.group.id)
            holding.set()
            done.wait(10)
        connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    holding.wait(10)
    try:
        assert processing.being_applied(w.group.id)
        assert [g.id for g in processing.stalled_groups()] == [w.group.id]
        assert processing.resume_stalled_groups() == []
    finally:
        done.set()
        thread.join()
    assert not processing.being_applied(w.group.id)


def test_a_run_completed_inside_another_leaves_the_outer_groups_free_seats_to_it(actor, settings):
    """A run completed inside another run (``inside``: the outer one needed its seat locks)
    gives no free seat of the outer group's products: the outer run has not decided its own
    members yet, whose claims may come first. It does give seats of other products, and the
    outer run then decides the claims left waiting, in claim order."""
    settings.TASKS = DATABASE_TASKS
    w = World("i", actor)
    w.buy("AAD_PREMIUM", 50)
    w.buy("EMS", 50)
    outer = GroupFactory(tenant=w.tenant, name="Outer")
    services.group_assign_products(
        tenant=w.tenant, group=outer, products={product("EMS"): []}, actor=actor
    )
    processing.run_group(outer.id, Group.objects.get(id=outer.id).processing_run)
    w.assign("AAD_PREMIUM", "EMS")  # queued: the inner run
    inner = Group.objects.get(id=w.group.id)
    assert inner.processing_state == ProcessingState.QUEUED
    processing.run_group(inner.id, inner.processing_run, inside=frozenset({outer.id}))
    # EMS is the outer group's product: every member's claim (P1 + EMS, all or nothing) waits.
    rows = set(UserLicense.objects.filter(via_group=inner).values_list("state", "error").distinct())
    assert rows == {("Error", "CountViolation")}
    # Without an outer run, the same run gives the seats.
    services.reprocess_group(tenant=w.tenant, group=inner, actor=actor)
    inner.refresh_from_db()
    processing.run_group(inner.id, inner.processing_run)
    assert (
        UserLicense.objects.filter(via_group=inner, state__in=["Active", "ActiveWithError"]).count()
        == 24
    )
    assert_consistent(w.tenant)
