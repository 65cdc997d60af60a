"""The provisioning services (licensing/services/provisioning.py): each SCIM request is one of
them, all or nothing, audited as the services it is made of (docs/provisioning.md)."""

from __future__ import annotations

import pytest

from licensing import services
from licensing.errors import AssignmentRefused, InvalidInput, NameTaken, NotFound
from licensing.models import AuditEvent, DirectoryUser, Group, GroupMembership
from licensing.services.scim import PROVISIONING_ACTOR as ACTOR
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, product
from tests.helpers import assert_consistent, paths_of
from tests.licensing.test_bad_input import snapshot

pytestmark = pytest.mark.django_db


def activities(since: int = 0) -> list[tuple[str, str]]:
    """(activity, target name) of the audit events after ``since``, in the order written."""
    return list(
        AuditEvent.objects.filter(id__gt=since)
        .order_by("id")
        .values_list("activity", "target_name")
    )


def last_event() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def members(group) -> set[str]:
    return set(
        GroupMembership.objects.filter(group=group).values_list(
            "user__user_principal_name", flat=True
        )
    )


@pytest.fixture
def stranger(db):
    other = TenantFactory(name="Fabrikam", initial_domain="fabrikam.onmicrosoft.com")
    return DirectoryUserFactory(tenant=other, user_principal_name="eve@fabrikam.com")


@pytest.fixture
def people(tenant):
    return {
        name: DirectoryUserFactory(tenant=tenant, user_principal_name=f"{name}@contoso.com")
        for name in ("ann", "bob", "cas", "dee")
    }


# -- users ------------------------------------------------------------------------------------


def test_a_provisioned_user_is_synced_with_its_whole_profile(tenant):
    user = services.user_provision(
        tenant=tenant,
        user_principal_name="megan",  # SCIM's userName need not be a UPN
        display_name="Megan Bowen",
        usage_location="NL",
        profile={"external_id": "0a21f0f2", "job_title": "Engineer", "department": "Sales"},
        actor=ACTOR,
    )
    user = DirectoryUser.objects.get(id=user.id)
    assert (user.user_principal_name, user.display_name, user.source) == (
        "megan",
        "Megan Bowen",
        "synced",
    )
    assert (user.usage_location, user.external_id, user.job_title, user.department) == (
        "NL",
        "0a21f0f2",
        "Engineer",
        "Sales",
    )
    assert not user.is_soft_deleted
    assert activities() == [("Add user", "megan"), ("Update user", "megan")]


def test_a_user_provisioned_disabled_is_soft_deleted(tenant):
    user = services.user_provision(
        tenant=tenant, user_principal_name="megan@contoso.com", active=False, actor=ACTOR
    )
    assert DirectoryUser.objects.get(id=user.id).is_soft_deleted
    assert DirectoryUser.objects.get(id=user.id).display_name == "megan@contoso.com"
    assert [a for a, _ in activities()] == ["Add user", "Delete user"]


@pytest.mark.parametrize(
    "name, profile, refusal",
    [
        ("ann@contoso.com", {}, NameTaken),
        ("megan@contoso.com", {"department": "Sa\x00les"}, InvalidInput),
        ("megan@contoso.com", {"job_title": "x" * 500}, InvalidInput),
    ],
)
def test_a_refused_user_provision_creates_nothing(tenant, people, name, profile, refusal):
    before = snapshot()
    with pytest.raises(refusal):
        services.user_provision(
            tenant=tenant, user_principal_name=name, profile=profile, active=False, actor=ACTOR
        )
    assert snapshot() == before


@pytest.fixture
def licensed(tenant, buy, people, actor):
    """Ann holds AAD Premium directly, and is soft-deleted (disabled at the provider)."""
    buy("AAD_PREMIUM", 2)
    ann = people["ann"]
    DirectoryUser.objects.filter(id=ann.id).update(usage_location="NL")
    ann.refresh_from_db()
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[ann], actor=actor
    )
    services.user_soft_delete(tenant=tenant, user=ann, actor=actor)
    ann.refresh_from_db()
    return ann


def test_a_provisioned_change_applies_profile_restore_and_location_in_one_step(tenant, licensed):
    since = last_event()
    services.user_provision_update(
        tenant=tenant,
        user=licensed,
        profile={"display_name": "Ann Archer", "external_id": "a1"},
        usage_location="BE",
        active=True,
        actor=ACTOR,
    )
    ann = DirectoryUser.objects.get(id=licensed.id)
    assert (ann.display_name, ann.external_id, ann.usage_location) == ("Ann Archer", "a1", "BE")
    assert not ann.is_soft_deleted
    assert paths_of(ann) == {("AAD_PREMIUM", None, "Active", "")}
    assert [a for a, _ in activities(since)] == ["Update user", "Restore user", "Update user"]
    assert_consistent(tenant)


def test_a_provisioned_disable_suspends_the_licenses(tenant, licensed):
    services.user_provision_update(tenant=tenant, user=licensed, active=True, actor=ACTOR)
    licensed.refresh_from_db()
    since = last_event()
    services.user_provision_update(tenant=tenant, user=licensed, active=False, actor=ACTOR)
    assert DirectoryUser.objects.get(id=licensed.id).is_soft_deleted
    assert paths_of(licensed) == {("AAD_PREMIUM", None, "Suspended", "")}
    assert [a for a, _ in activities(since)] == ["Delete user"]


def test_nothing_to_change_changes_nothing(tenant, licensed):
    before = snapshot()
    services.user_provision_update(
        tenant=tenant, user=licensed, profile={"external_id": ""}, active=False, actor=ACTOR
    )
    assert snapshot() == before


def test_a_refused_provisioned_change_changes_nothing_not_even_the_profile(tenant, licensed):
    before = snapshot()
    with pytest.raises(InvalidInput):
        services.user_provision_update(
            tenant=tenant,
            user=licensed,
            profile={"display_name": "Renamed"},
            usage_location="XX",  # no such country, refused after the profile was written
            active=True,
            actor=ACTOR,
        )
    assert snapshot() == before


def test_another_tenants_user_is_not_found(tenant, stranger):
    before = snapshot()
    with pytest.raises(NotFound):
        services.user_provision_update(tenant=tenant, user=stranger, active=False, actor=ACTOR)
    assert snapshot() == before


# -- groups -----------------------------------------------------------------------------------


def test_a_provisioned_group_has_its_id_and_members_disabled_ones_too(tenant, people, actor):
    services.user_soft_delete(tenant=tenant, user=people["bob"], actor=actor)
    since = last_event()
    group = services.group_provision(
        tenant=tenant,
        name="Sales",
        external_id="g-1",
        members=[people["ann"], people["bob"]],
        actor=ACTOR,
    )
    group = Group.objects.get(id=group.id)
    assert (group.name, group.external_id) == ("Sales", "g-1")
    assert members(group) == {"ann@contoso.com", "bob@contoso.com"}
    assert sorted(activities(since)) == [
        ("Add group", "Sales"),
        ("Add member to group", "ann@contoso.com"),
        ("Add member to group", "bob@contoso.com"),
        ("Update group", "Sales"),
    ]


def test_a_refused_group_provision_creates_nothing(tenant, people, stranger):
    before = snapshot()
    with pytest.raises(NotFound):
        services.group_provision(
            tenant=tenant, name="Sales", external_id="g-1", members=[stranger], actor=ACTOR
        )
    assert snapshot() == before
    with pytest.raises(InvalidInput):
        services.group_provision(tenant=tenant, name="Sales", external_id="\x01", actor=ACTOR)
    assert snapshot() == before


def test_setting_members_makes_them_exactly_those_and_leaves_who_stays(tenant, buy, people, actor):
    buy("AAD_PREMIUM", 5)
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    services.group_add_members(
        tenant=tenant, group=group, users=[people["ann"], people["bob"]], actor=actor
    )
    joined = GroupMembership.objects.get(group=group, user=people["bob"]).added_at
    since = last_event()
    services.group_set_members(
        tenant=tenant, group=group, users=[people["bob"], people["cas"], people["bob"]], actor=ACTOR
    )
    assert members(group) == {"bob@contoso.com", "cas@contoso.com"}
    assert GroupMembership.objects.get(group=group, user=people["bob"]).added_at == joined
    assert activities(since) == [
        ("Remove member from group", "ann@contoso.com"),
        ("Add member to group", "cas@contoso.com"),
    ]
    assert paths_of(people["ann"]) == set()
    assert paths_of(people["cas"]) == {("AAD_PREMIUM", "Sales", "Active", "")}
    assert_consistent(tenant)


def test_a_refused_member_set_keeps_the_members_who_would_have_left(tenant, people, actor):
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_add_members(tenant=tenant, group=group, users=[people["ann"]], actor=actor)
    services.user_soft_delete(tenant=tenant, user=people["dee"], actor=actor)
    before = snapshot()
    # Ann leaves first, then Dee, a deleted user, cannot join: neither happens.
    with pytest.raises(AssignmentRefused):
        services.group_set_members(tenant=tenant, group=group, users=[people["dee"]], actor=actor)
    assert snapshot() == before
    services.group_set_members(
        tenant=tenant, group=group, users=[people["dee"]], actor=actor, deleted_too=True
    )
    assert members(group) == {"dee@contoso.com"}


def test_a_provisioned_group_change_renames_and_moves_members_at_once(tenant, people, actor):
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_add_members(
        tenant=tenant, group=group, users=[people["ann"], people["bob"]], actor=actor
    )
    since = last_event()
    services.group_provision_update(
        tenant=tenant,
        group=group,
        changes={"name": "Sales NL", "external_id": "g-2"},
        # Ann is already a member and Dee never was: both are left as they are.
        add=[people["ann"], people["cas"]],
        remove=[people["bob"], people["dee"]],
        actor=ACTOR,
    )
    group = Group.objects.get(id=group.id)
    assert (group.name, group.external_id) == ("Sales NL", "g-2")
    assert members(group) == {"ann@contoso.com", "cas@contoso.com"}
    assert activities(since) == [
        ("Update group", "Sales NL"),
        ("Remove member from group", "bob@contoso.com"),
        ("Add member to group", "cas@contoso.com"),
    ]


def test_a_provisioned_group_change_with_members_replaces_them(tenant, people, actor):
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_add_members(
        tenant=tenant, group=group, users=[people["ann"], people["bob"]], actor=actor
    )
    services.group_provision_update(
        tenant=tenant, group=group, members=[people["cas"]], add=[people["dee"]], actor=ACTOR
    )
    assert members(group) == {"cas@contoso.com"}
    services.group_provision_update(tenant=tenant, group=group, members=[], actor=ACTOR)
    assert members(group) == set()


def test_a_refused_group_change_changes_nothing_not_even_the_name(tenant, people, stranger, actor):
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_add_members(tenant=tenant, group=group, users=[people["ann"]], actor=actor)
    before = snapshot()
    with pytest.raises(NotFound):
        services.group_provision_update(
            tenant=tenant,
            group=group,
            changes={"name": "Renamed"},
            remove=[people["ann"]],
            add=[stranger],
            actor=ACTOR,
        )
    assert snapshot() == before
    assert Group.objects.get(id=group.id).name == "Sales"
