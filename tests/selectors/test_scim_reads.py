"""The selectors SCIM reads through (portal/scim/views.py): what each returns, that another
tenant's data never appears in it, and its number of queries.

Both tenants get the same world (the same names, in any case), so a selector that forgot its
tenant would return twice as much and fail here.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from licensing.selectors import groups, users
from tests.factories import (
    DirectoryUserFactory,
    GroupFactory,
    GroupMembershipFactory,
    TenantFactory,
)

pytestmark = pytest.mark.django_db


def _world(tenant) -> dict:
    ann = DirectoryUserFactory(
        tenant=tenant, user_principal_name="ann@contoso.com", display_name="Ann", external_id="a1"
    )
    bob = DirectoryUserFactory(
        tenant=tenant, user_principal_name="bob@contoso.com", display_name="Bob", external_id="b1"
    )
    cas = DirectoryUserFactory(
        tenant=tenant, user_principal_name="cas@contoso.com", display_name="Cas", external_id="c1"
    )
    sales = GroupFactory(tenant=tenant, name="Sales", external_id="s1")
    empty = GroupFactory(tenant=tenant, name="Empty", external_id="e1")
    return {"ann": ann, "bob": bob, "cas": cas, "sales": sales, "empty": empty}


@pytest.fixture
def two(tenant):
    other = TenantFactory(name="Fabrikam", initial_domain="fabrikam.onmicrosoft.com")
    mine, theirs = _world(tenant), _world(other)
    joined = timezone.now()
    for world in (mine, theirs):
        # Joined in this order, which is not the order they were made in: the claim order.
        for minutes, person in enumerate(("cas", "ann", "bob")):
            GroupMembershipFactory(
                group=world["sales"],
                user=world[person],
                added_at=joined + timedelta(minutes=minutes),
            )
    return tenant, mine, theirs


def test_users_page_counts_and_pages_the_tenants_matching_users(two, django_assert_num_queries):
    tenant, w, theirs = two
    # One count, one page.
    with django_assert_num_queries(2):
        total, page = users.users_page(tenant=tenant, matching={}, offset=1, limit=1)
    assert (total, page) == (3, [w["bob"]])
    with django_assert_num_queries(2):
        found = users.users_page(
            tenant=tenant,
            matching={"user_principal_name": "ANN@contoso.com", "external_id": "A1"},
            offset=0,
            limit=10,
        )
    assert found == (1, [w["ann"]])
    assert users.users_page(
        tenant=tenant, matching={"display_name": "bob"}, offset=0, limit=10
    ) == (1, [w["bob"]])
    mine = users.users_page(
        tenant=tenant, matching={"public_id": str(w["cas"].public_id)}, offset=0, limit=10
    )
    assert mine == (1, [w["cas"]])
    # Another tenant's user is not found by its id.
    with django_assert_num_queries(2):
        found = users.users_page(
            tenant=tenant, matching={"public_id": str(theirs["ann"].public_id)}, offset=0, limit=10
        )
    assert found == (0, [])


def test_users_page_with_an_id_that_is_no_uuid_matches_nothing_without_a_query(
    two, django_assert_num_queries
):
    tenant, _w, _theirs = two
    with django_assert_num_queries(0):
        assert users.users_page(
            tenant=tenant, matching={"public_id": "not-an-id"}, offset=0, limit=10
        ) == (0, [])


def test_users_page_refuses_a_field_it_does_not_match_on(tenant):
    with pytest.raises(ValueError):
        users.users_page(tenant=tenant, matching={"tenant__name": "x"}, offset=0, limit=1)


def test_users_by_ids_are_the_tenants_users_by_name(two, django_assert_num_queries):
    tenant, w, theirs = two
    ids = [w["cas"].public_id, theirs["bob"].public_id, w["ann"].public_id, uuid.uuid4()]
    with django_assert_num_queries(1):
        assert users.users_by_ids(tenant=tenant, public_ids=ids) == [w["ann"], w["cas"]]
    with django_assert_num_queries(0):
        assert users.users_by_ids(tenant=tenant, public_ids=[]) == []


def test_groups_page_counts_and_pages_the_tenants_matching_groups(two, django_assert_num_queries):
    tenant, w, theirs = two
    # One count, one page.
    with django_assert_num_queries(2):
        assert groups.groups_counted_page(tenant=tenant, matching={}, offset=0, limit=10) == (
            2,
            [w["sales"], w["empty"]],
        )
    with django_assert_num_queries(2):
        found = groups.groups_counted_page(
            tenant=tenant, matching={"name": "SALES", "external_id": "S1"}, offset=0, limit=10
        )
    assert found == (1, [w["sales"]])
    with django_assert_num_queries(2):
        found = groups.groups_counted_page(
            tenant=tenant, matching={"public_id": str(theirs["sales"].public_id)}, offset=0, limit=1
        )
    assert found == (0, [])
    with django_assert_num_queries(0):
        found = groups.groups_counted_page(
            tenant=tenant, matching={"public_id": "nope"}, offset=0, limit=10
        )
    assert found == (0, [])
    with pytest.raises(ValueError):
        groups.groups_counted_page(tenant=tenant, matching={"tenant_id": "1"}, offset=0, limit=1)


def test_group_member_ids_are_in_claim_order_for_the_tenants_groups_only(
    two, django_assert_num_queries
):
    tenant, w, theirs = two
    with django_assert_num_queries(1):
        found = groups.group_member_ids(
            tenant=tenant, groups=[w["sales"], w["empty"], theirs["sales"]]
        )
    assert found == {
        w["sales"].id: [w["cas"].public_id, w["ann"].public_id, w["bob"].public_id],
        w["empty"].id: [],
    }
    with django_assert_num_queries(0):
        assert groups.group_member_ids(tenant=tenant, groups=[theirs["sales"]]) == {}


def test_group_member_count_counts_the_tenants_group_only(two, django_assert_num_queries):
    tenant, w, theirs = two
    with django_assert_num_queries(1):
        assert groups.group_member_count(tenant=tenant, group=w["sales"]) == 3
    with django_assert_num_queries(0):
        assert groups.group_member_count(tenant=tenant, group=theirs["sales"]) == 0
