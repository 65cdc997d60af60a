"""Direct assignment, and where it is offered (swap in one step) (docs/rules.md §6)."""

from __future__ import annotations

import pytest

from licensing import services
from licensing.errors import AssignmentRefused, InsufficientSeats, InvalidInput, NotFound
from licensing.models import AuditEvent, LicenseAssignment, UserLicense
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, product
from tests.helpers import assert_consistent, paths_of, seats

pytestmark = pytest.mark.django_db


def test_assign_several_products_to_many_users_at_once(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    buy("POWER_BI_PRO", 5)
    team = users(4)
    services.direct_licenses_change(
        tenant=tenant,
        users=team,
        add={product("AAD_PREMIUM"): [], product("POWER_BI_PRO"): []},
        actor=actor,
    )
    assert UserLicense.objects.filter(state="Active").count() == 8
    assert seats(tenant, "AAD_PREMIUM")["available"] == 1
    assert_consistent(tenant)


def test_too_few_seats_changes_nothing_and_says_needed_and_available(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    buy("POWER_BI_PRO", 2)
    team = users(3)
    with pytest.raises(InsufficientSeats) as refused:
        services.direct_licenses_change(
            tenant=tenant,
            users=team,
            add={product("AAD_PREMIUM"): [], product("POWER_BI_PRO"): []},
            actor=actor,
        )
    assert "needs 3 and 2 are available" in str(refused.value)
    assert LicenseAssignment.objects.count() == 0
    assert UserLicense.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_user_who_already_holds_the_product_needs_no_new_seat(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 1)
    (user,) = users(1)
    p1 = product("AAD_PREMIUM")
    services.product_assign_to_users(tenant=tenant, product=p1, users=[user], actor=actor)
    services.product_assign_to_users(tenant=tenant, product=p1, users=[user], actor=actor)
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1


def test_other_tenants_user_is_refused_by_name_and_nothing_changes(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    mine = users(2)
    stranger = DirectoryUserFactory(tenant=TenantFactory())
    with pytest.raises(NotFound):
        services.product_assign_to_users(
            tenant=tenant, product=product("AAD_PREMIUM"), users=[*mine, stranger], actor=actor
        )
    assert UserLicense.objects.count() == 0


def test_soft_deleted_user_is_refused_by_name(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    ok, gone = users(2)
    services.user_soft_delete(tenant=tenant, user=gone, actor=actor)
    gone.refresh_from_db()
    with pytest.raises(AssignmentRefused, match=gone.user_principal_name):
        services.product_assign_to_users(
            tenant=tenant, product=product("AAD_PREMIUM"), users=[ok, gone], actor=actor
        )
    assert UserLicense.objects.count() == 0


def test_plan_conflict_with_what_the_user_has_is_refused_by_name(tenant, buy, users, actor):
    buy("STANDARDPACK", 5)
    buy("ENTERPRISEPACK", 5)
    a, b = users(2)
    services.product_assign_to_users(
        tenant=tenant, product=product("STANDARDPACK"), users=[a], actor=actor
    )
    with pytest.raises(AssignmentRefused, match=a.user_principal_name) as refused:
        services.product_assign_to_users(
            tenant=tenant, product=product("ENTERPRISEPACK"), users=[a, b], actor=actor
        )
    assert "conflicts" in str(refused.value)
    assert paths_of(a) == {("STANDARDPACK", None, "Active", "")}
    assert paths_of(b) == set()


def test_missing_prerequisite_from_another_product_is_refused(tenant, buy, users, actor):
    buy("EXCHANGEARCHIVE_ADDON", 5)
    (user,) = users(1)
    with pytest.raises(AssignmentRefused, match=r"requires Exchange Online \(Plan 1\) or"):
        services.product_assign_to_users(
            tenant=tenant, product=product("EXCHANGEARCHIVE_ADDON"), users=[user], actor=actor
        )
    buy("EXCHANGESTANDARD", 5)
    services.direct_licenses_change(
        tenant=tenant,
        users=[user],
        add={product("EXCHANGESTANDARD"): [], product("EXCHANGEARCHIVE_ADDON"): []},
        actor=actor,
    )
    assert {p[2] for p in paths_of(user)} == {"Active"}


def test_swapping_products_is_one_step(tenant, buy, users, actor):
    buy("STANDARDPACK", 1)
    buy("ENTERPRISEPACK", 1)
    (user,) = users(1)
    services.product_assign_to_users(
        tenant=tenant, product=product("STANDARDPACK"), users=[user], actor=actor
    )
    # E1 and E3 are mutually exclusive (Exchange, SharePoint): only a swap in one step works.
    services.direct_licenses_change(
        tenant=tenant,
        users=[user],
        add={product("ENTERPRISEPACK"): []},
        remove=[product("STANDARDPACK")],
        actor=actor,
    )
    assert paths_of(user) == {("ENTERPRISEPACK", None, "Active", "")}
    event = AuditEvent.objects.get(
        activity="Change user license", details__added=["ENTERPRISEPACK"]
    )
    assert event.details["removed"] == ["STANDARDPACK"]
    assert_consistent(tenant)


def test_adding_and_removing_the_same_product_in_one_change_is_refused(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 2)
    (user,) = users(1)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=actor
    )
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput, match="cannot be added and removed"):
        services.direct_licenses_change(
            tenant=tenant,
            users=[user],
            add={product("AAD_PREMIUM"): []},
            remove=[product("AAD_PREMIUM")],
            actor=actor,
        )
    assert paths_of(user) == {("AAD_PREMIUM", None, "Active", "")}
    assert AuditEvent.objects.count() == before


def test_removing_a_license_the_user_does_not_have_is_refused(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 1)
    (user,) = users(1)
    with pytest.raises(NotFound, match="no direct license"):
        services.product_remove_from_users(
            tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=actor
        )


def test_setting_a_users_direct_products_swaps_in_one_step_and_leaves_inherited_ones(
    tenant, buy, users, actor
):
    """The Assignments dialog's save: the ticked products become the direct ones."""
    buy("STANDARDPACK", 1)
    buy("ENTERPRISEPACK", 1)
    buy("EMS", 1)
    (user,) = users(1)
    group = GroupFactory(tenant=tenant, name="Mobility")
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("EMS"): []}, actor=actor
    )
    services.product_assign_to_users(
        tenant=tenant, product=product("STANDARDPACK"), users=[user], actor=actor
    )
    changed = services.user_set_direct_products(
        tenant=tenant,
        user=user,
        products=[product("ENTERPRISEPACK"), product("EMS")],
        actor=actor,
    )
    assert changed
    # E1 went and E3 came in one step (they exclude each other); EMS stays inherited only.
    assert paths_of(user) == {
        ("ENTERPRISEPACK", None, "Active", ""),
        ("EMS", "Mobility", "Active", ""),
    }
    before = AuditEvent.objects.count()
    assert not services.user_set_direct_products(
        tenant=tenant, user=user, products=[product("ENTERPRISEPACK")], actor=actor
    )
    assert AuditEvent.objects.count() == before
    assert_consistent(tenant)


def test_assigning_to_users_and_groups_is_all_or_nothing(tenant, buy, users, actor):
    """The Licenses blade's Assign: a refusal for a group leaves the users' licenses
    unassigned too."""
    buy("AAD_PREMIUM", 5)
    people = users(2)
    other = GroupFactory(tenant=TenantFactory(), name="Elsewhere")
    with pytest.raises(NotFound):
        services.licenses_assign(
            tenant=tenant,
            products={product("AAD_PREMIUM"): []},
            users=people,
            groups=[other],
            actor=actor,
        )
    assert LicenseAssignment.objects.count() == 0
    assert UserLicense.objects.count() == 0
    assert AuditEvent.objects.count() == 0
    group = GroupFactory(tenant=tenant, name="Staff")
    services.licenses_assign(
        tenant=tenant,
        products={product("AAD_PREMIUM"): []},
        users=people,
        groups=[group],
        actor=actor,
    )
    assert LicenseAssignment.objects.filter(user__in=people).count() == 2
    assert LicenseAssignment.objects.filter(group=group).count() == 1
    assert_consistent(tenant)
