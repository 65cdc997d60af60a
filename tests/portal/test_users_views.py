"""Users, the user's Licenses blade, usage location (docs/rules.md §6)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from licensing import services
from licensing.models import DirectoryUser, UserLicense
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, product

pytestmark = pytest.mark.django_db


@pytest.fixture
def licensed(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 10)
    buy("POWER_BI_PRO", 10)
    (person,) = users(1)
    group = GroupFactory(tenant=tenant, name="Analysts")
    services.group_add_members(tenant=tenant, group=group, users=[person], actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("POWER_BI_PRO"): []}, actor=actor
    )
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[person], actor=actor
    )
    return person


def test_user_list_searches_and_paginates(
    client, as_role, tenant, users, django_assert_num_queries
):
    as_role("GlobalReader")
    users(55)
    DirectoryUserFactory(tenant=tenant, display_name="Zed Findme")
    assert len(client.get(reverse("portal:users")).context["page"].object_list) == 50
    page = client.get(reverse("portal:users"), {"q": "findme"}).content.decode()
    assert "Zed Findme" in page
    # session, account, roles, page (not counted): fixed
    with django_assert_num_queries(4):
        client.get(reverse("portal:users"))


def test_user_licenses_shows_paths_with_the_group_linked(client, as_role, licensed):
    as_role()
    page = client.get(reverse("portal:user_licenses", args=[licensed.public_id])).content.decode()
    group = licensed.memberships.get().group
    assert "Inherited (Analysts)" in page and "Direct" in page
    assert f'<a href="{reverse("portal:group_licenses", args=[group.public_id])}">' in page
    # No callout about where else licenses are made: said where it matters, in the dialogs.
    assert "made from the Products page" not in page


def test_user_licenses_query_count_does_not_grow_with_licenses(
    client, as_role, tenant, licensed, buy, actor, django_assert_num_queries
):
    as_role()
    for sku in ("EMS", "INTUNE_A", "EXCHANGESTANDARD"):
        buy(sku, 3)
        services.product_assign_to_users(
            tenant=tenant, product=product(sku), users=[licensed], actor=actor
        )
    # session, account, roles, user, rows with products and groups, catalog stamp (the
    # catalog itself was read by the services above)
    with django_assert_num_queries(6):
        client.get(reverse("portal:user_licenses", args=[licensed.public_id]))


def test_removing_a_direct_license(client, as_role, licensed):
    as_role("LicenseAdministrator")
    response = client.post(
        reverse("portal:user_remove_license", args=[licensed.public_id]),
        {"selection": "direct", "product": [product("AAD_PREMIUM").sku_id]},
    )
    assert response.status_code == 303
    assert set(
        UserLicense.objects.filter(user=licensed).values_list("product__sku_part_number", flat=True)
    ) == {"POWER_BI_PRO"}


def test_removing_an_inherited_license_is_refused_with_the_azure_message_and_the_group(
    client, as_role, licensed, htmx_headers
):
    as_role()
    response = client.post(
        reverse("portal:user_remove_license", args=[licensed.public_id]),
        {"product": [product("POWER_BI_PRO").sku_id]},
        headers=htmx_headers,
    )
    assert response["HX-Retarget"] == "#user-licenses"
    page = response.content.decode()
    assert (
        "User license is inherited from group membership and cannot be removed directly from the user"
        in page
    )
    assert f"Remove {licensed.display_name} from Analysts" in page
    assert UserLicense.objects.filter(user=licensed).count() == 2


def test_license_administrator_is_told_who_can_remove_the_membership(client, as_role, licensed):
    as_role("LicenseAdministrator")
    response = client.post(
        reverse("portal:user_remove_license", args=[licensed.public_id]),
        {"product": [product("POWER_BI_PRO").sku_id]},
    )
    page = response.content.decode()
    assert "a Global administrator can remove the user from it" in page
    assert "<html" in page  # without JavaScript: the whole page, with the explanation


def test_removing_the_user_from_the_group_from_that_message(client, as_role, licensed):
    as_role()
    group = licensed.memberships.get().group
    response = client.post(
        reverse("portal:group_remove_members", args=[group.public_id]),
        {
            "user": [licensed.public_id],
            "next": reverse("portal:user_licenses", args=[licensed.public_id]),
        },
    )
    assert response["Location"] == reverse("portal:user_licenses", args=[licensed.public_id])
    assert set(
        UserLicense.objects.filter(user=licensed).values_list("product__sku_part_number", flat=True)
    ) == {"AAD_PREMIUM"}


def test_other_tenants_user_is_404_everywhere(client, as_role, licensed):
    as_role(on=TenantFactory())
    for name in ("portal:user", "portal:user_licenses"):
        assert client.get(reverse(name, args=[licensed.public_id])).status_code == 404
    for name in (
        "portal:user_remove_license",
        "portal:user_reprocess",
        "portal:user_usage_location",
    ):
        assert client.post(reverse(name, args=[licensed.public_id])).status_code == 404


def test_reader_changes_nothing_and_get_on_commands_is_405(client, as_role, licensed):
    as_role("GlobalReader")
    for name in (
        "portal:user_remove_license",
        "portal:user_reprocess",
        "portal:user_usage_location",
    ):
        assert (
            client.post(
                reverse(name, args=[licensed.public_id]), {"usage_location": "BE"}
            ).status_code
            == 403
        )
        assert client.get(reverse(name, args=[licensed.public_id])).status_code == 405
    assert DirectoryUser.objects.get(id=licensed.id).usage_location == ""


def test_license_administrator_sets_usage_location(client, as_role, licensed):
    as_role("LicenseAdministrator")
    response = client.post(
        reverse("portal:user_usage_location", args=[licensed.public_id]), {"usage_location": "be"}
    )
    assert response.status_code == 303
    assert DirectoryUser.objects.get(id=licensed.id).usage_location == "BE"
    bad = client.post(
        reverse("portal:user_usage_location", args=[licensed.public_id]),
        {"usage_location": "XX"},
        follow=True,
    )
    assert "not a known country code" in bad.content.decode()


def test_profile_shows_soft_deleted_state_and_licenses_show_suspended(
    client, as_role, tenant, licensed, actor
):
    services.user_soft_delete(tenant=tenant, user=licensed, actor=actor)
    as_role()
    assert (
        "This user was deleted"
        in client.get(reverse("portal:user", args=[licensed.public_id])).content.decode()
    )
    assert (
        "Suspended"
        in client.get(reverse("portal:user_licenses", args=[licensed.public_id])).content.decode()
    )


def test_assignments_dialog_swaps_products_in_one_step(
    client, as_role, tenant, buy, users, actor, htmx_headers
):
    buy("STANDARDPACK", 1)
    buy("ENTERPRISEPACK", 1)
    (person,) = users(1)
    services.product_assign_to_users(
        tenant=tenant, product=product("STANDARDPACK"), users=[person], actor=actor
    )
    as_role()
    dialog = client.get(
        reverse("portal:user_assignments", args=[person.public_id]), headers=htmx_headers
    )
    assert "<dialog" in dialog.content.decode() and "<html" not in dialog.content.decode()
    # E1 and E3 are mutually exclusive: only a swap in one step can work.
    response = client.post(
        reverse("portal:user_assignments", args=[person.public_id]),
        {"selection": "direct", "product": [product("ENTERPRISEPACK").sku_id]},
        headers=htmx_headers,
    )
    assert response.status_code == 204
    events = json.loads(response["HX-Trigger"])
    assert {"closeModal", "licensesChanged"} <= events.keys()
    assert list(
        UserLicense.objects.filter(user=person).values_list("product__sku_part_number", "state")
    ) == [("ENTERPRISEPACK", "Active")]


def test_assignments_dialog_shows_the_refusal_and_changes_nothing(
    client, as_role, tenant, buy, users, actor
):
    buy("AAD_PREMIUM", 0)
    (person,) = users(1)
    as_role()
    response = client.post(
        reverse("portal:user_assignments", args=[person.public_id]),
        {"selection": "direct", "product": [product("AAD_PREMIUM").sku_id]},
    )
    assert response.status_code == 200
    assert (
        "Not enough licenses" in response.content.decode() and "<html" in response.content.decode()
    )
    assert not UserLicense.objects.exists()


def test_assignments_dialog_does_not_offer_an_inherited_product(client, as_role, licensed):
    as_role()
    page = client.get(
        reverse("portal:user_assignments", args=[licensed.public_id])
    ).content.decode()
    group = licensed.memberships.get().group
    assert "Inherited: managed from the group" in page
    assert reverse("portal:group_licenses", args=[group.public_id]) in page
    assert (
        client.post(
            reverse("portal:user_assignments", args=[licensed.public_id]),
            {"selection": "direct"},
        ).status_code
        == 303
    )
    # Unticking everything removes only the direct license; the inherited one stays.
    assert list(
        UserLicense.objects.filter(user=licensed).values_list("via_group__name", flat=True)
    ) == ["Analysts"]


def test_assignments_dialog_is_403_for_reader_and_404_for_another_tenant(client, as_role, licensed):
    as_role("GlobalReader")
    assert (
        client.get(reverse("portal:user_assignments", args=[licensed.public_id])).status_code == 403
    )
    as_role(on=TenantFactory())
    assert (
        client.get(reverse("portal:user_assignments", args=[licensed.public_id])).status_code == 404
    )
