"""Group-based licensing (docs/rules.md §4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from licensing import services
from licensing.errors import DependencyRefused, GroupStillLicensed
from licensing.models import AuditEvent, Group, ProcessingState, UserLicense
from tests.factories import GroupFactory, GroupMembershipFactory, product
from tests.helpers import assert_consistent, paths_of, seats

pytestmark = pytest.mark.django_db


def _members(tenant, group, people, start=None):
    """Add members with distinct, increasing join times (first in the list joined first)."""
    start = start or timezone.now() - timedelta(days=10)
    for i, person in enumerate(people):
        GroupMembershipFactory(group=group, user=person, added_at=start + timedelta(minutes=i))


def test_assigning_to_a_group_gives_every_direct_member_an_inherited_path(
    tenant, buy, users, actor
):
    buy("AAD_PREMIUM", 10)
    group = GroupFactory(tenant=tenant, name="Sales")
    people = users(3)
    services.group_add_members(tenant=tenant, group=group, users=people, actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    for person in people:
        assert paths_of(person) == {("AAD_PREMIUM", "Sales", "Active", "")}
    assert_consistent(tenant)


def test_members_take_seats_earliest_membership_first_and_the_rest_get_count_violation(
    tenant, buy, users, actor
):
    buy("AAD_PREMIUM", 2)
    group = GroupFactory(tenant=tenant, name="Sales")
    people = users(4)
    # Joined in reverse order of creation: the last-created person joined first.
    _members(tenant, group, list(reversed(people)))
    outcome = services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    assert outcome == {"assigned": 2, "failed": 2}
    assert paths_of(people[3]) == {("AAD_PREMIUM", "Sales", "Active", "")}
    assert paths_of(people[2]) == {("AAD_PREMIUM", "Sales", "Active", "")}
    assert paths_of(people[1]) == {("AAD_PREMIUM", "Sales", "Error", "CountViolation")}
    assert paths_of(people[0]) == {("AAD_PREMIUM", "Sales", "Error", "CountViolation")}
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 2


def test_one_failing_product_fails_every_product_of_that_group_for_the_member(
    tenant, buy, users, actor
):
    buy("AAD_PREMIUM", 5)
    buy("POWER_BI_PRO", 1)
    group = GroupFactory(tenant=tenant, name="Analysts")
    first, second = users(2)
    _members(tenant, group, [first, second])
    services.group_assign_products(
        tenant=tenant,
        group=group,
        products={product("AAD_PREMIUM"): [], product("POWER_BI_PRO"): []},
        actor=actor,
    )
    assert paths_of(first) == {
        ("AAD_PREMIUM", "Analysts", "Active", ""),
        ("POWER_BI_PRO", "Analysts", "Active", ""),
    }
    assert paths_of(second) == {
        ("AAD_PREMIUM", "Analysts", "Error", "CountViolation"),
        ("POWER_BI_PRO", "Analysts", "Error", "CountViolation"),
    }
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1
    assert_consistent(tenant)


def test_joining_a_licensed_group_grants_and_leaving_revokes_that_path_only(
    tenant, buy, users, actor
):
    buy("AAD_PREMIUM", 5)
    p1 = product("AAD_PREMIUM")
    sales, it = GroupFactory(tenant=tenant, name="Sales"), GroupFactory(tenant=tenant, name="IT")
    for group in (sales, it):
        services.group_assign_products(tenant=tenant, group=group, products={p1: []}, actor=actor)
    (user,) = users(1)
    services.group_add_members(tenant=tenant, group=sales, users=[user], actor=actor)
    services.group_add_members(tenant=tenant, group=it, users=[user], actor=actor)
    assert paths_of(user) == {
        ("AAD_PREMIUM", "Sales", "Active", ""),
        ("AAD_PREMIUM", "IT", "Active", ""),
    }
    services.group_remove_members(tenant=tenant, group=sales, users=[user], actor=actor)
    assert paths_of(user) == {("AAD_PREMIUM", "IT", "Active", "")}
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1


def test_reprocess_repairs_rows_that_drifted_from_intent(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=users(3), actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    # Something outside the services (a restored backup, a bad migration) broke the rows.
    UserLicense.objects.update(state="Error", error="Other")
    services.reprocess_group(tenant=tenant, group=group, actor=actor)
    assert set(UserLicense.objects.values_list("state", flat=True)) == {"Active"}
    assert AuditEvent.objects.filter(activity="Reprocess group license assignment").count() == 1


def test_errored_members_get_seats_when_more_are_bought_then_reprocess_changes_nothing(
    tenant, buy, users, actor
):
    sub = buy("AAD_PREMIUM", 1)
    group = GroupFactory(tenant=tenant)
    people = users(3)
    _members(tenant, group, people)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    assert UserLicense.objects.filter(error="CountViolation").count() == 2
    services.subscription_update(tenant=tenant, subscription=sub, units=2, actor=actor)
    # The earliest waiting member takes the new seat.
    assert paths_of(people[1]) == {("AAD_PREMIUM", group.name, "Active", "")}
    assert paths_of(people[2]) == {("AAD_PREMIUM", group.name, "Error", "CountViolation")}
    outcome = services.reprocess_group(tenant=tenant, group=group, actor=actor)
    assert outcome == {"assigned": 2, "failed": 1}
    assert_consistent(tenant)


def test_seat_freed_by_a_removal_goes_to_the_earliest_waiting_member(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 1)
    p1 = product("AAD_PREMIUM")
    (direct,) = users(1)
    services.product_assign_to_users(tenant=tenant, product=p1, users=[direct], actor=actor)
    group = GroupFactory(tenant=tenant)
    waiting = users(2)
    _members(tenant, group, waiting)
    services.group_assign_products(tenant=tenant, group=group, products={p1: []}, actor=actor)
    assert UserLicense.objects.filter(via_group=group, error="CountViolation").count() == 2
    services.product_remove_from_users(tenant=tenant, product=p1, users=[direct], actor=actor)
    assert paths_of(waiting[0]) == {("AAD_PREMIUM", group.name, "Active", "")}
    assert paths_of(waiting[1]) == {("AAD_PREMIUM", group.name, "Error", "CountViolation")}
    assert_consistent(tenant)


def test_a_group_that_still_holds_licenses_cannot_be_deleted(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    with pytest.raises(GroupStillLicensed, match="Microsoft Entra ID P1"):
        services.group_delete(tenant=tenant, group=group, actor=actor)
    assert Group.objects.filter(id=group.id).exists()
    services.group_remove_products(
        tenant=tenant, group=group, products=[product("AAD_PREMIUM")], actor=actor
    )
    services.group_delete(tenant=tenant, group=group, actor=actor)
    assert not Group.objects.filter(id=group.id).exists()


def test_group_processing_ends_complete_with_start_and_finish_events(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 2)
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=users(3), actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    group.refresh_from_db()
    assert (group.processing_state, group.processing_done, group.processing_total) == (
        ProcessingState.COMPLETE,
        3,
        3,
    )
    finish = AuditEvent.objects.get(activity="Finish applying group based license to users")
    assert finish.details["summary"] == (
        "Users successfully assigned licenses: 2, Users for whom license assignment failed: 1."
    )
    assert (
        AuditEvent.objects.filter(activity="Start applying group based license to users").count()
        == 1
    )


def test_group_with_errors_is_listed_by_with_license_errors(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 1)
    fine, short = (
        GroupFactory(tenant=tenant, name="Fine"),
        GroupFactory(tenant=tenant, name="Short"),
    )
    services.group_add_members(tenant=tenant, group=short, users=users(3), actor=actor)
    services.group_assign_products(
        tenant=tenant, group=short, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    assert list(Group.objects.filter(tenant=tenant).with_license_errors()) == [short]
    assert Group.objects.with_license_errors().get().members_in_error == 2
    assert fine not in Group.objects.with_license_errors()


def test_mutually_exclusive_group_path_errors_and_takes_no_seat(tenant, buy, users, actor):
    buy("STANDARDPACK", 5)
    buy("ENTERPRISEPACK", 5)
    (user,) = users(1)
    services.product_assign_to_users(
        tenant=tenant, product=product("STANDARDPACK"), users=[user], actor=actor
    )
    group = GroupFactory(tenant=tenant, name="E3 users")
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("ENTERPRISEPACK"): []}, actor=actor
    )
    assert paths_of(user) == {
        ("STANDARDPACK", None, "Active", ""),
        ("ENTERPRISEPACK", "E3 users", "Error", "MutuallyExclusiveViolation"),
    }
    assert seats(tenant, "ENTERPRISEPACK")["assigned"] == 0
    # Remove the direct E1: the group's E3 now applies.
    services.product_remove_from_users(
        tenant=tenant, product=product("STANDARDPACK"), users=[user], actor=actor
    )
    assert paths_of(user) == {("ENTERPRISEPACK", "E3 users", "Active", "")}
    assert_consistent(tenant)


def test_a_group_cannot_get_an_add_on_without_its_prerequisite(tenant, buy, users, actor):
    buy("EXCHANGEARCHIVE_ADDON", 5)
    buy("EXCHANGESTANDARD", 5)
    (user,) = users(1)
    group = GroupFactory(tenant=tenant, name="Archive")
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
    with pytest.raises(DependencyRefused) as refused:
        services.group_assign_products(
            tenant=tenant, group=group, products={product("EXCHANGEARCHIVE_ADDON"): []}, actor=actor
        )
    assert str(refused.value) == (
        "License operation failed. Make sure that the group has necessary services before "
        "adding or removing a dependent service. The service Exchange Online Archiving requires "
        "Exchange Online (Plan 1) or Exchange Online (Plan 2) to be enabled as well."
    )
    assert paths_of(user) == set()
    # With the prerequisite in the same group it is accepted.
    services.group_assign_products(
        tenant=tenant,
        group=group,
        products={product("EXCHANGESTANDARD"): [], product("EXCHANGEARCHIVE_ADDON"): []},
        actor=actor,
    )
    assert paths_of(user) == {
        ("EXCHANGEARCHIVE_ADDON", "Archive", "Active", ""),
        ("EXCHANGESTANDARD", "Archive", "Active", ""),
    }
    assert_consistent(tenant)
