"""Every confirmation of a removal names what it removes and from whom (portal.js builds the
question from the ticked rows where they decide it): the attributes the pages give it."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from licensing import services
from tests.factories import GroupFactory, product

pytestmark = pytest.mark.django_db


def _page(client, url: str) -> str:
    return html.unescape(client.get(url).content.decode())


@pytest.fixture
def sales(tenant, buy, users, actor):
    buy("ENTERPRISEPACK", 10)
    people = users(2)
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_add_members(tenant=tenant, group=group, users=people, actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("ENTERPRISEPACK"): []}, actor=actor
    )
    services.product_assign_to_users(
        tenant=tenant, product=product("ENTERPRISEPACK"), users=people[:1], actor=actor
    )
    return group


def test_a_products_remove_license_names_the_product_and_the_ticked_users(client, as_role, sales):
    as_role()
    page = _page(client, reverse("portal:product", args=[product("ENTERPRISEPACK").sku_id]))
    assert 'data-confirm-rows="#licensed-users-form input[name=user]:checked"' in page
    assert 'data-confirm-one="Remove Office 365 E3 from {name}?"' in page
    assert 'data-confirm-many="Remove Office 365 E3 from {count} users?"' in page
    for member in sales.memberships.select_related("user"):
        assert f'data-name="{member.user.display_name}"' in page


def test_a_users_remove_license_names_the_user_and_the_ticked_products(client, as_role, sales):
    as_role()
    person = sales.memberships.first().user
    page = _page(client, reverse("portal:user_licenses", args=[person.public_id]))
    assert f'data-confirm-one="Remove {{name}} from {person.display_name}?"' in page
    assert f'data-confirm-many="Remove {{count}} licenses from {person.display_name}?"' in page
    assert 'data-name="Office 365 E3"' in page


def test_a_groups_removals_name_the_group_and_the_ticked_rows(client, as_role, sales):
    as_role()
    page = _page(client, reverse("portal:group_licenses", args=[sales.public_id]))
    assert 'data-confirm-one="Remove {name} from Sales and all its members?"' in page
    assert 'data-name="Office 365 E3"' in page
    page = _page(client, reverse("portal:group", args=[sales.public_id]))
    assert 'data-confirm-one="Remove {name} from Sales?"' in page
    assert 'data-confirm-many="Remove {count} members from Sales?"' in page
    assert 'hx-confirm="Delete the group Sales?"' in page


def test_the_other_removals_name_their_object(client, as_role, tenant, users, actor):
    as_role()
    (gone,) = users(1, display_name="Adele Wilber")
    services.user_soft_delete(tenant=tenant, user=gone, actor=actor)
    page = _page(client, reverse("portal:deleted_users"))
    assert 'hx-confirm="Delete Adele Wilber permanently? This cannot be undone."' in page
    services.app_register(tenant=tenant, name="Nightly script", actor=actor)
    page = _page(client, reverse("portal:apps"))
    assert 'hx-confirm="Revoke Nightly script? Its secret and tokens stop working at once."' in page
    token, _secret = services.scim_token_issue(tenant=tenant, actor=actor)
    page = _page(client, reverse("portal:provisioning"))
    assert f'hx-confirm="Revoke the token {token.token_hint}…?' in page


def test_the_questions_are_dutch_in_dutch_with_the_plural(client, as_role, sales):
    as_role()
    person = sales.memberships.first().user
    page = html.unescape(
        client.get(
            reverse("portal:user_licenses", args=[person.public_id]),
            headers={"Accept-Language": "nl"},
        ).content.decode()
    )
    assert f'data-confirm-one="{{name}} bij {person.display_name} verwijderen?"' in page
    assert f'data-confirm-many="{{count}} licenties bij {person.display_name} verwijderen?"' in page
    page = html.unescape(
        client.get(
            reverse("portal:product", args=[product("ENTERPRISEPACK").sku_id]),
            headers={"Accept-Language": "nl"},
        ).content.decode()
    )
    assert 'data-confirm-many="Office 365 E3 bij {count} gebruikers verwijderen?"' in page


def test_the_confirmation_opens_on_cancel(client, as_role, sales):
    as_role()
    page = client.get(reverse("portal:group", args=[sales.public_id])).content.decode()
    assert "data-close-dialog autofocus>Cancel</button>" in page
