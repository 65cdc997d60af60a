"""Soft delete and restore (docs/rules.md §7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from licensing import services
from licensing.locking import NeedsMoreLocks
from licensing.models import AuditEvent, DirectoryUser, GroupMembership
from licensing.services import directory
from tests.factories import GroupFactory, product
from tests.helpers import assert_consistent, paths_of, seats

pytestmark = pytest.mark.django_db


@pytest.fixture
def licensed_user(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 2)
    buy("POWER_BI_PRO", 2)
    (user,) = users(1, source="synced")
    group = GroupFactory(tenant=tenant, name="Analysts")
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("POWER_BI_PRO"): []}, actor=actor
    )
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=actor
    )
    return user


def test_soft_deleted_users_licenses_become_suspended_and_keep_their_seats(
    tenant, licensed_user, actor
):
    services.user_soft_delete(tenant=tenant, user=licensed_user, actor=actor)
    assert paths_of(licensed_user) == {
        ("AAD_PREMIUM", None, "Suspended", ""),
        ("POWER_BI_PRO", "Analysts", "Suspended", ""),
    }
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1
    assert seats(tenant, "POWER_BI_PRO")["assigned"] == 1
    assert_consistent(tenant)


def test_restoring_makes_the_licenses_active_again(tenant, licensed_user, actor):
    services.user_soft_delete(tenant=tenant, user=licensed_user, actor=actor)
    services.user_restore(tenant=tenant, user=licensed_user, actor=actor)
    assert paths_of(licensed_user) == {
        ("AAD_PREMIUM", None, "Active", ""),
        ("POWER_BI_PRO", "Analysts", "Active", ""),
    }
    assert [e.activity for e in AuditEvent.objects.filter(target_id=licensed_user.public_id)][
        :2
    ] == [
        "Restore user",
        "Delete user",
    ]


def test_restore_after_seats_ran_out_gives_count_violation_not_oversubscription(
    tenant, licensed_user, users, actor
):
    services.user_soft_delete(tenant=tenant, user=licensed_user, actor=actor)
    subscription = tenant.subscriptions.get(product=product("AAD_PREMIUM"))
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=users(1), actor=actor
    )
    services.subscription_update(tenant=tenant, subscription=subscription, units=1, actor=actor)
    assert seats(tenant, "AAD_PREMIUM")["over_assigned"]
    waiting = services.user_restore(tenant=tenant, user=licensed_user, actor=actor)
    assert waiting == 1  # what the page says: one license has no seat left
    assert ("AAD_PREMIUM", None, "Error", "CountViolation") in paths_of(licensed_user)
    assert ("POWER_BI_PRO", "Analysts", "Active", "") in paths_of(licensed_user)
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1
    assert_consistent(tenant)


def test_permanent_deletion_removes_the_user_and_frees_the_seats(tenant, licensed_user, actor):
    services.user_soft_delete(tenant=tenant, user=licensed_user, actor=actor)
    services.user_delete_permanently(tenant=tenant, user=licensed_user, actor=actor)
    assert not DirectoryUser.objects.filter(id=licensed_user.id).exists()
    assert not GroupMembership.objects.filter(user_id=licensed_user.id).exists()
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 0
    assert seats(tenant, "POWER_BI_PRO")["assigned"] == 0
    assert AuditEvent.objects.filter(activity="Hard delete user").count() == 1


def test_users_deleted_more_than_30_days_ago_are_purged_and_recent_ones_kept(
    tenant, licensed_user, users, actor
):
    (recent,) = users(1)
    services.user_soft_delete(tenant=tenant, user=licensed_user, actor=actor)
    services.user_soft_delete(tenant=tenant, user=recent, actor=actor)
    DirectoryUser.objects.filter(id=licensed_user.id).update(
        soft_deleted_at=timezone.now() - timedelta(days=31)
    )
    assert services.users_purge_expired(tenant=tenant, actor=None) == 1
    assert list(DirectoryUser.objects.filter(tenant=tenant).values_list("id", flat=True)) == [
        recent.id
    ]


def test_a_product_a_deleted_users_group_gains_is_applied_only_on_restore(
    tenant, buy, users, actor
):
    buy("AAD_PREMIUM", 5)
    (user,) = users(1)
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
    services.user_soft_delete(tenant=tenant, user=user, actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    # No seat, no error, not counted as failed: not applied until the user is restored.
    assert paths_of(user) == set()
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 0
    services.user_restore(tenant=tenant, user=user, actor=actor)
    assert paths_of(user) == {("AAD_PREMIUM", group.name, "Active", "")}


def _needs_more_locks_the_first_time(monkeypatch) -> list:
    """The service's first attempt finds it needs another product's lock (a user waiting
    there), so it runs again from the start, with the caller's same user object."""
    real, calls = directory.reconcile, []

    def reconcile(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise NeedsMoreLocks({product("EMS").id})
        return real(**kwargs)

    monkeypatch.setattr(directory, "reconcile", reconcile)
    return calls


def test_a_retried_soft_delete_and_restore_apply_and_are_audited(
    tenant, licensed_user, actor, monkeypatch
):
    """Found by the state machine: the retried attempt read what the rolled-back one had set
    on the user object ("already deleted", "already there") and applied nothing."""
    calls = _needs_more_locks_the_first_time(monkeypatch)
    services.user_soft_delete(tenant=tenant, user=licensed_user, actor=actor)
    assert len(calls) == 2
    assert DirectoryUser.objects.get(id=licensed_user.id).is_soft_deleted
    assert ("AAD_PREMIUM", None, "Suspended", "") in paths_of(licensed_user)
    calls.clear()
    assert services.user_restore(tenant=tenant, user=licensed_user, actor=actor) == 0
    assert len(calls) == 2
    assert not DirectoryUser.objects.get(id=licensed_user.id).is_soft_deleted
    assert ("AAD_PREMIUM", None, "Active", "") in paths_of(licensed_user)
    calls.clear()
    services.user_set_usage_location(
        tenant=tenant, user=licensed_user, usage_location="BE", actor=actor
    )
    assert len(calls) == 2
    assert DirectoryUser.objects.get(id=licensed_user.id).usage_location == "BE"
    assert list(AuditEvent.objects.order_by("id").values_list("activity", flat=True))[-3:] == [
        "Delete user",
        "Restore user",
        "Update user",
    ]
    assert_consistent(tenant)


def test_a_permanent_deletion_retried_for_more_locks_still_deletes_and_frees(
    tenant, buy, users, actor, monkeypatch
):
    buy("AAD_PREMIUM", 1)
    (user,) = users(1)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=actor
    )
    calls = _needs_more_locks_the_first_time(monkeypatch)
    services.user_delete_permanently(tenant=tenant, user=user, actor=actor)
    assert len(calls) == 2
    assert not DirectoryUser.objects.filter(id=user.id).exists()
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 0
