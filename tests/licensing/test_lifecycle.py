"""Subscription lifecycle and purge (docs/rules.md §7, §1): the commands an operator runs."""

from __future__ import annotations

import datetime
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from licensing import services
from licensing.errors import ProductNotAssignable
from licensing.models import AuditEvent, DirectoryUser, Subscription, UserLicense
from tests.factories import SubscriptionFactory, product
from tests.helpers import seats

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 11, 23)


@pytest.fixture
def expiring(tenant, users, actor):
    subscription = SubscriptionFactory(
        tenant=tenant, product=product("AAD_PREMIUM"), units=3, next_lifecycle_date=DAY
    )
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=users(3), actor=actor
    )
    return subscription


def test_expired_subscription_moves_to_warning_for_30_days_and_still_counts(tenant, expiring):
    steps = services.subscriptions_advance(today=DAY)
    expiring.refresh_from_db()
    assert (expiring.status, expiring.next_lifecycle_date) == ("Warning", DAY + timedelta(days=30))
    assert steps == [
        f"{tenant.name}: Microsoft Entra ID P1 (3 units): Warning until {DAY + timedelta(days=30)}"
    ]
    assert seats(tenant, "AAD_PREMIUM") == {
        "total": 3,
        "expiring": 3,
        "assigned": 3,
        "available": 0,
        "over_assigned": False,
    }


def test_then_suspended_for_90_days_over_assigned_and_nothing_removed(
    tenant, expiring, users, actor
):
    services.subscriptions_advance(today=DAY + timedelta(days=30))
    expiring.refresh_from_db()
    assert (expiring.status, expiring.next_lifecycle_date) == (
        "Suspended",
        DAY + timedelta(days=120),
    )
    counts = seats(tenant, "AAD_PREMIUM")
    assert (counts["total"], counts["assigned"], counts["over_assigned"]) == (0, 3, True)
    assert set(UserLicense.objects.values_list("state", flat=True)) == {"Active"}
    with pytest.raises(ProductNotAssignable, match="suspended"):
        services.product_assign_to_users(
            tenant=tenant, product=product("AAD_PREMIUM"), users=users(1), actor=actor
        )


def test_a_late_run_catches_up_to_deletion_and_every_step_is_audited(tenant, expiring):
    steps = services.subscriptions_advance(today=DAY + timedelta(days=200))
    assert [s.split(": ")[-1].split(" until")[0] for s in steps] == [
        "Warning",
        "Suspended",
        "deleted",
    ]
    assert not Subscription.objects.filter(id=expiring.id).exists()
    assert AuditEvent.objects.filter(activity="Change subscription").count() == 3
    assert UserLicense.objects.count() == 3  # nothing removed silently


def test_subscriptions_not_due_and_locked_out_ones_are_left_alone(tenant):
    later = SubscriptionFactory(tenant=tenant, next_lifecycle_date=DAY + timedelta(days=1))
    locked = SubscriptionFactory(tenant=tenant, status="LockedOut", next_lifecycle_date=DAY)
    assert services.subscriptions_advance(today=DAY) == []
    later.refresh_from_db()
    locked.refresh_from_db()
    assert (later.status, locked.status) == ("Enabled", "LockedOut")


def test_advance_subscriptions_command(tenant, expiring):
    out = io.StringIO()
    call_command("advance_subscriptions", today=str(DAY), stdout=out)
    assert (
        "Warning until" in out.getvalue() and "Subscriptions advanced: 1 steps." in out.getvalue()
    )
    with pytest.raises(CommandError, match="must be a date"):
        call_command("advance_subscriptions", today="tomorrow")


def test_purge_deletes_users_soft_deleted_more_than_30_days_ago_and_frees_seats(
    tenant, expiring, actor
):
    old, recent, active = DirectoryUser.objects.filter(tenant=tenant).order_by("id")
    for user in (old, recent):
        services.user_soft_delete(tenant=tenant, user=user, actor=actor)
    DirectoryUser.objects.filter(id=old.id).update(
        soft_deleted_at=timezone.now() - timedelta(days=31)
    )
    out = io.StringIO()
    call_command("purge_deleted_users", stdout=out)
    assert "Contoso: 1 users deleted permanently" in out.getvalue()
    assert set(DirectoryUser.objects.values_list("id", flat=True)) == {recent.id, active.id}
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 2
    assert AuditEvent.objects.filter(activity="Hard delete user", actor_name="System").count() == 1
