"""The left navigation and the tenant switch, checked on every page of the portal's URLconf
(``portal.portal_urls``), not on a list of pages someone remembered.

- Exactly one item of the left navigation is the current one (``aria-current``) on every
  page, and it is the blade the page belongs to: the item whose address starts the page's
  address (Licenses, ``/licenses/``, for its Overview, All products, a product's pages and
  Assign).
- Switching tenant stays on the same kind of page: a list on the same list, an object's page
  on its list, never this tenant's object id in the other tenant; the page it came from is
  named by its URL name, and a name that is no page lands on the Overview.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from licensing import services
from scripts.bench import route_urls
from tests.factories import (
    DirectoryUserFactory,
    GroupFactory,
    RoleAssignmentFactory,
    TenantFactory,
    product,
)

pytestmark = pytest.mark.django_db

LEFTNAV = re.compile(r'<nav class="leftnav"[^>]*>(.*?)</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"([^>]*)>')


@pytest.fixture
def world(tenant, buy, actor):
    buy("ENTERPRISEPACK", 5)
    e3 = product("ENTERPRISEPACK")
    user = DirectoryUserFactory(tenant=tenant)
    group = GroupFactory(tenant=tenant)
    services.product_assign_to_users(tenant=tenant, product=e3, users=[user], actor=actor)
    app, _secret = services.app_register(tenant=tenant, name="Script", read_only=True, actor=actor)
    token, _value = services.scim_token_issue(tenant=tenant, actor=actor)
    return {"product": e3, "user": user, "group": group, "app": app, "token": token}


def _pages(client, world) -> list[tuple[str, str, str]]:
    """(URL name, address, HTML) of every route that answers a GET with a page."""
    pages = []
    for name, url in route_urls(world):
        response = client.get(url)
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            pages.append((name, url, response.content.decode()))
    return pages


def test_every_page_highlights_exactly_its_blade_in_the_left_navigation(client, as_role, world):
    as_role()
    pages = _pages(client, world)
    # Not vacuous: the blades of every area were opened.
    assert {"portal:overview", "portal:product", "portal:assign", "portal:user"} <= {
        n for n, _u, _h in pages
    }
    for name, url, html in pages:
        links = LINK.findall(LEFTNAV.search(html).group(1))
        current = [href for href, attrs in links if 'aria-current="page"' in attrs]
        blade = max((href for href, _a in links if url.startswith(href)), key=len)
        assert current == [blade], f"{name} ({url}) highlights {current}, not {blade}"


def test_licenses_opens_its_overview_whose_purchased_link_opens_all_products(client, as_role):
    as_role()
    html = client.get(reverse("portal:users")).content.decode()
    links = dict(
        (label, href)
        for href, label in re.findall(
            r'<a href="([^"]+)"[^>]*>([^<]+)</a>', LEFTNAV.search(html).group(1)
        )
    )
    assert links["Licenses"] == reverse("portal:overview")
    assert "Overview" not in links  # one item for the blade, its Overview is the blade's tab
    overview = client.get(links["Licenses"]).content.decode()
    assert f'<a href="{reverse("portal:products")}">Purchased ›</a>' in overview


@pytest.fixture
def two(client, as_role, world):
    account = as_role()
    fabrikam = TenantFactory(name="Fabrikam", initial_domain="fabrikam.onmicrosoft.com")
    RoleAssignmentFactory(account=account, tenant=fabrikam, role="GlobalAdministrator")
    return fabrikam


def _switch(client, tenant, page: str):
    return client.post(
        reverse("portal:switch_tenant"), {"tenant": str(tenant.public_id), "from": page}
    )


def test_the_switch_names_the_page_it_is_on(client, two, world):
    html = client.get(reverse("portal:product", args=[world["product"].sku_id])).content.decode()
    assert '<input type="hidden" name="from" value="portal:product">' in html


KIND = {
    "portal:product": "portal:products",
    "portal:product_groups": "portal:products",
    "portal:product_plans": "portal:products",
    "portal:assign": "portal:products",
    "portal:user": "portal:users",
    "portal:user_licenses": "portal:users",
    "portal:user_assignments": "portal:users",
    "portal:user_license_plans": "portal:users",
    "portal:group": "portal:groups",
    "portal:group_licenses": "portal:groups",
    "portal:sync_upload": "portal:sync_upload",
}


def test_switching_tenant_stays_on_the_same_kind_of_page(client, two, world, tenant):
    """From every page of the URLconf: an object's page goes to its list, a list to the same
    list, and the page opens in the other tenant."""
    fabrikam = two
    pages = _pages(client, world)
    for name, _url, _html in pages:
        response = _switch(client, fabrikam, name)
        expected = KIND.get(name, name)
        assert (response.status_code, response["Location"]) == (303, reverse(expected)), name
        landed = client.get(response["Location"])
        assert landed.status_code == 200 and landed.context["current_tenant"] == fabrikam, name
        _switch(client, tenant, "portal:overview")
    assert len(pages) >= 15


def test_a_role_without_the_directory_lands_on_the_overview(client, two, world, tenant):
    fabrikam = two
    account = RoleAssignmentFactory._meta.model.objects.get(tenant=fabrikam).account
    RoleAssignmentFactory._meta.model.objects.filter(tenant=fabrikam).update(
        role="LicenseAdministrator"
    )
    assert account.is_authenticated
    for page in ("portal:apps", "portal:provisioning", "portal:sync_upload"):
        response = _switch(client, fabrikam, page)
        assert response["Location"] == reverse("portal:overview")
        assert client.get(response["Location"]).status_code == 200
        _switch(client, tenant, "portal:overview")


@pytest.mark.parametrize(
    "forged",
    [
        "https://evil.example/",
        "//evil.example/",
        "/users/",
        "admin:index",
        "portal:switch_tenant",
        "portal:user_remove_license",
        "",
    ],
)
def test_a_forged_page_is_refused_and_lands_on_the_overview(client, two, forged):
    response = _switch(client, two, forged)
    assert (response.status_code, response["Location"]) == (303, reverse("portal:overview"))
    assert client.get(reverse("portal:overview")).context["current_tenant"] == two
