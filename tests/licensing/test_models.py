"""Database constraints come first (README, "Conventions"): the database refuses what the rules forbid."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensing.models import DirectoryUser, GroupMembership, LicenseAssignment, UserLicense
from tests.factories import (
    DirectoryUserFactory,
    GroupFactory,
    LicenseAssignmentFactory,
    TenantFactory,
    UserLicenseFactory,
    product,
)

pytestmark = pytest.mark.django_db


def _refused(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_an_assignment_names_a_user_or_a_group_never_both_or_neither(tenant):
    user, group = DirectoryUserFactory(tenant=tenant), GroupFactory(tenant=tenant)
    now = timezone.now()
    _refused(
        lambda: LicenseAssignment.objects.create(
            tenant=tenant, user=user, group=group, product=product("AAD_PREMIUM"), created_at=now
        )
    )
    _refused(
        lambda: LicenseAssignment.objects.create(
            tenant=tenant, product=product("AAD_PREMIUM"), created_at=now
        )
    )


def test_one_direct_assignment_per_user_and_product(tenant):
    first = LicenseAssignmentFactory(tenant=tenant)
    _refused(
        lambda: LicenseAssignmentFactory(tenant=tenant, user=first.user, product=first.product)
    )


def test_one_assignment_per_group_and_product(tenant):
    group = GroupFactory(tenant=tenant)
    LicenseAssignmentFactory(tenant=tenant, user=None, group=group)
    _refused(lambda: LicenseAssignmentFactory(tenant=tenant, user=None, group=group))


def test_user_principal_name_is_unique_per_tenant_ignoring_case():
    a, b = TenantFactory(), TenantFactory()
    DirectoryUserFactory(tenant=a, user_principal_name="Megan@contoso.com")
    _refused(lambda: DirectoryUserFactory(tenant=a, user_principal_name="megan@CONTOSO.com"))
    DirectoryUserFactory(tenant=b, user_principal_name="megan@contoso.com")
    assert (
        DirectoryUser.objects.filter(user_principal_name__iexact="megan@contoso.com").count() == 2
    )


def test_a_user_is_a_member_of_a_group_once(tenant):
    membership = GroupMembership.objects.create(
        group=GroupFactory(tenant=tenant),
        user=DirectoryUserFactory(tenant=tenant),
        added_at=timezone.now(),
    )
    _refused(
        lambda: GroupMembership.objects.create(
            group=membership.group, user=membership.user, added_at=timezone.now()
        )
    )


def test_one_license_row_per_path_and_user(tenant):
    row = UserLicenseFactory(assignment=LicenseAssignmentFactory(tenant=tenant))
    _refused(lambda: UserLicenseFactory(assignment=row.assignment))


@pytest.mark.parametrize(
    ("state", "error", "ok"),
    [
        ("Active", "", True),
        ("Suspended", "", True),
        ("ActiveWithError", "ProhibitedInUsageLocationViolation", True),
        ("Error", "CountViolation", True),
        ("Active", "CountViolation", False),
        ("Error", "", False),
        ("ActiveWithError", "", False),
        ("Suspended", "CountViolation", False),
    ],
)
def test_a_license_rows_error_matches_its_state(tenant, state, error, ok):
    def make():
        return UserLicenseFactory(
            assignment=LicenseAssignmentFactory(tenant=tenant), state=state, error=error
        )

    if ok:
        assert make().pk
    else:
        _refused(make)


def test_deleting_a_user_removes_their_rows_but_a_product_in_use_cannot_be_deleted(tenant):
    from django.db.models import ProtectedError

    row = UserLicenseFactory(assignment=LicenseAssignmentFactory(tenant=tenant))
    with pytest.raises(ProtectedError), transaction.atomic():
        row.product.delete()
    row.user.delete()
    assert not UserLicense.objects.exists()
    assert not LicenseAssignment.objects.exists()


def test_simple_facts_about_one_row_are_properties(tenant):
    user = DirectoryUserFactory(tenant=tenant)
    assert not user.is_soft_deleted
    user.soft_deleted_at = timezone.now()
    assert user.is_soft_deleted
    assert product("AAD_PREMIUM").is_assignable
    assert not product("AAD_FREE").is_assignable
