"""Audit trail (docs/rules.md §10): every change writes an AuditEvent in its own transaction."""

from __future__ import annotations

import datetime

import pytest

from licensing import services
from licensing.errors import InsufficientSeats
from licensing.models import AuditEvent, LicenseAssignment
from tests.factories import AuditEventFactory, GroupFactory, product

pytestmark = pytest.mark.django_db


def _activities():
    return [e.activity for e in AuditEvent.objects.order_by("id")]


def test_every_kind_of_change_writes_an_event_named_like_azure(tenant, buy, users, actor):
    subscription = buy("AAD_PREMIUM", 5)
    a, b = users(2)
    p1 = product("AAD_PREMIUM")
    group = GroupFactory(tenant=tenant, name="Sales")
    steps = [
        (
            lambda: services.product_assign_to_users(
                tenant=tenant, product=p1, users=[a], actor=actor
            ),
            ["Change user license"],
        ),
        (
            lambda: services.assignment_set_disabled_plans(
                tenant=tenant,
                assignment=LicenseAssignment.objects.get(user=a),
                disabled_plans=[],
                actor=actor,
            ),
            ["Change user license"],
        ),
        (
            lambda: services.group_add_members(tenant=tenant, group=group, users=[b], actor=actor),
            ["Add member to group"],
        ),
        (
            lambda: services.group_assign_products(
                tenant=tenant, group=group, products={p1: []}, actor=actor
            ),
            [
                "Set group license",
                "Start applying group based license to users",
                "Finish applying group based license to users",
            ],
        ),
        (
            lambda: services.user_set_usage_location(
                tenant=tenant, user=a, usage_location="BE", actor=actor
            ),
            ["Update user"],
        ),
        (
            lambda: services.reprocess_user(tenant=tenant, user=a, actor=actor),
            ["Reprocess user license assignment"],
        ),
        (
            lambda: services.reprocess_product(tenant=tenant, product=p1, actor=actor),
            ["Reprocess product license assignments"],
        ),
        (lambda: services.user_soft_delete(tenant=tenant, user=a, actor=actor), ["Delete user"]),
        (lambda: services.user_restore(tenant=tenant, user=a, actor=actor), ["Restore user"]),
        (
            lambda: services.subscription_update(
                tenant=tenant, subscription=subscription, units=9, actor=actor
            ),
            ["Change subscription"],
        ),
        (
            lambda: services.group_remove_members(
                tenant=tenant, group=group, users=[b], actor=actor
            ),
            ["Remove member from group"],
        ),
    ]
    for step, expected in steps:
        before = AuditEvent.objects.count()
        step()
        assert _activities()[before:] == expected
    # Group runs are the system's doing; every change that queued one is the admin's.
    runs = AuditEvent.objects.filter(activity__endswith="group based license to users")
    assert set(runs.values_list("actor_name", flat=True)) == {"Group-based licensing"}
    assert set(AuditEvent.objects.exclude(id__in=runs).values_list("actor_name", flat=True)) == {
        actor.username
    }
    assert set(AuditEvent.objects.values_list("tenant_id", flat=True)) == {tenant.id}


def test_a_refused_change_leaves_no_event(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 1)
    with pytest.raises(InsufficientSeats):
        services.product_assign_to_users(
            tenant=tenant, product=product("AAD_PREMIUM"), users=users(2), actor=actor
        )
    assert AuditEvent.objects.count() == 0


def test_audit_events_are_append_only(db):
    event = AuditEventFactory()
    event.activity = "Something else"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


def test_change_user_license_records_what_changed(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 1)
    (user,) = users(1)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=actor
    )
    event = AuditEvent.objects.get()
    assert (event.target_type, event.target_name, event.target_id) == (
        "User",
        user.user_principal_name,
        str(user.public_id),
    )
    assert event.details["added"] == ["AAD_PREMIUM"]
    assert event.occurred_at.date() >= datetime.date(2026, 1, 1)
