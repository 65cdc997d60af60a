"""Bad input gets a clear error a view can show, and the database is unchanged."""

from __future__ import annotations

import pytest
from django.db import connection

from licensing import services
from licensing.errors import (
    AssignmentRefused,
    InsufficientSeats,
    InvalidInput,
    LicensingError,
    NotFound,
    PlanConflict,
)
from licensing.selectors.products import picked_products
from licensing.selectors.users import picked_users
from licensing.services.base import parse_country
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, plan_id, product

pytestmark = pytest.mark.django_db

TABLES = [
    "licensing_licenseassignment",
    "licensing_userlicense",
    "licensing_groupmembership",
    "licensing_auditevent",
    "licensing_directoryuser",
    "licensing_subscription",
    "licensing_group",
]


def snapshot() -> dict:
    with connection.cursor() as cursor:
        result = {}
        for table in TABLES:
            cursor.execute(
                f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {table} t"
            )
            result[table] = cursor.fetchone()[0]
        return result


@pytest.mark.parametrize(
    "bad", ["not-a-guid", "1234", "", "84a661c4-e949-4bd2-a560-ed7766fcaf2", None, 42]
)
def test_malformed_guids_are_refused_with_a_clear_message(tenant, bad):
    with pytest.raises(InvalidInput, match="is not a valid identifier"):
        picked_users(tenant=tenant, ids=[bad])


def test_unknown_and_other_tenants_ids_read_the_same(tenant):
    other = DirectoryUserFactory(tenant=TenantFactory())
    import uuid

    for ident in (uuid.uuid4(), other.public_id):
        with pytest.raises(NotFound, match="not found in this organization"):
            picked_users(tenant=tenant, ids=[ident])
    with pytest.raises(NotFound, match="Products not found"):
        picked_products(ids=[uuid.uuid4()])


def test_get_users_names_every_missing_id(tenant, users):
    import uuid

    (mine,) = users(1)
    missing = uuid.uuid4()
    with pytest.raises(NotFound, match=str(missing)):
        picked_users(tenant=tenant, ids=[mine.public_id, missing])


@pytest.mark.parametrize("code", ["XX", "Netherlands", "N", "123"])
def test_unknown_country_codes_are_refused(tenant, users, actor, code):
    (user,) = users(1)
    before = snapshot()
    with pytest.raises(InvalidInput, match="not a known country code"):
        services.user_set_usage_location(tenant=tenant, user=user, usage_location=code, actor=actor)
    assert snapshot() == before
    assert parse_country(" nl ") == "NL"


@pytest.mark.parametrize(
    ("sku", "disabled", "error"),
    [
        ("ENTERPRISEPACK", ["SHAREPOINTENTERPRISE"], PlanConflict),
        ("AAD_PREMIUM_P2", ["AAD_PREMIUM"], PlanConflict),
        ("EMS", ["RMS_S_ENTERPRISE"], PlanConflict),
        ("AAD_PREMIUM", ["TEAMS1"], InvalidInput),
    ],
)
def test_dependency_breaking_or_foreign_plan_sets_change_nothing(
    tenant, buy, users, actor, sku, disabled, error
):
    buy(sku, 5)
    people = users(2)
    before = snapshot()
    with pytest.raises(error):
        services.product_assign_to_users(
            tenant=tenant,
            product=product(sku),
            users=people,
            disabled_plans=[plan_id(n) for n in disabled],
            actor=actor,
        )
    assert snapshot() == before


def test_malformed_plan_id_in_options_is_refused(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 5)
    with pytest.raises(InvalidInput):
        services.product_assign_to_users(
            tenant=tenant,
            product=product("AAD_PREMIUM"),
            users=users(1),
            disabled_plans=["nope"],
            actor=actor,
        )


def test_too_few_seats_for_a_group_member_add_is_not_an_error_but_a_state(
    tenant, buy, users, actor
):
    # Group licensing never refuses: it records the intent in an error state (Azure's rule).
    buy("AAD_PREMIUM", 0)
    group = GroupFactory(tenant=tenant)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    services.group_add_members(tenant=tenant, group=group, users=users(1), actor=actor)
    assert group.inherited_licenses.get().error == "CountViolation"


def _more_users_than_seats(t, people, g, a):
    crowd = [*people, *DirectoryUserFactory.create_batch(2, tenant=t)]
    return lambda: services.product_assign_to_users(
        tenant=t, product=product("AAD_PREMIUM"), users=crowd, actor=a
    )


def _add_other_tenants_user(t, people, g, a):
    stranger = DirectoryUserFactory()
    return lambda: services.group_add_members(tenant=t, group=g, users=[stranger], actor=a)


def _remove_non_member(t, people, g, a):
    return lambda: services.group_remove_members(tenant=t, group=g, users=people, actor=a)


def _remove_product_the_group_lacks(t, people, g, a):
    return lambda: services.group_remove_products(
        tenant=t, group=g, products=[product("EMS")], actor=a
    )


def _restore_user_who_is_not_deleted(t, people, g, a):
    return lambda: services.user_restore(tenant=t, user=people[0], actor=a)


def _create_user_with_malformed_upn(t, people, g, a):
    return lambda: services.user_create(
        tenant=t, user_principal_name="no-at-sign", display_name="x", actor=a
    )


def _create_duplicate_upn_in_other_case(t, people, g, a):
    upn = people[0].user_principal_name.upper()
    return lambda: services.user_create(
        tenant=t, user_principal_name=upn, display_name="x", actor=a
    )


def _delete_licensed_group(t, people, g, a):
    services.group_assign_products(
        tenant=t, group=g, products={product("AAD_PREMIUM"): []}, actor=a
    )
    return lambda: services.group_delete(tenant=t, group=g, actor=a)


@pytest.mark.parametrize(
    "case",
    [
        _more_users_than_seats,
        _add_other_tenants_user,
        _remove_non_member,
        _remove_product_the_group_lacks,
        _restore_user_who_is_not_deleted,
        _create_user_with_malformed_upn,
        _create_duplicate_upn_in_other_case,
        _delete_licensed_group,
    ],
)
def test_every_refusal_is_a_licensing_error_and_changes_nothing(tenant, buy, users, actor, case):
    buy("AAD_PREMIUM", 1)
    action = case(tenant, users(1), GroupFactory(tenant=tenant), actor)
    before = snapshot()
    with pytest.raises(LicensingError) as refused:
        action()
    assert str(refused.value)
    assert snapshot() == before


def test_assigning_more_users_than_seats_names_needed_and_available(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 2)
    with pytest.raises(InsufficientSeats) as refused:
        services.product_assign_to_users(
            tenant=tenant, product=product("AAD_PREMIUM"), users=users(5), actor=actor
        )
    assert (refused.value.needed, refused.value.available) == (5, 2)


def test_assigning_to_a_deleted_user_is_refused(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 2)
    (user,) = users(1)
    services.user_soft_delete(tenant=tenant, user=user, actor=actor)
    with pytest.raises(AssignmentRefused):
        services.product_assign_to_users(
            tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=actor
        )


@pytest.mark.parametrize(
    "name",
    ["Sales\u202egnitekram", "Sales\u200b", "Sales\x00", "a" * 257, "   "],
    ids=["bidi override", "zero width", "NUL", "too long", "blank"],
)
def test_a_group_name_follows_the_directorys_text_rule_wherever_it_comes_from(tenant, name):
    """The rule SCIM, the sync and the API follow (``clean_text``) holds for groups made or
    renamed anywhere (the portal, the Django admin): refused, nothing written."""
    from licensing.errors import InvalidInput
    from licensing.models import AuditEvent, Group

    with pytest.raises(InvalidInput):
        services.group_create(tenant=tenant, name=name, actor=None)
    group = services.group_create(tenant=tenant, name="Sales", actor=None)
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput):
        services.group_update(tenant=tenant, group=group, name=name, actor=None)
    assert list(Group.objects.filter(tenant=tenant).values_list("name", flat=True)) == ["Sales"]
    assert AuditEvent.objects.count() == before
