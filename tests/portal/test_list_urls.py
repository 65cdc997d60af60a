"""Every list keeps its search, sort, filters and page in the URL.

For each list: an address with all of them opens the list in that state; the links and forms
of that page carry them (a sort link keeps the search and filters and goes back to page 1, a
pager link keeps search, sort and filters, the search form sends the sort and filters but no
page); and the htmx swaps push the URL they load (``hx-push-url``), so Back and a bookmark
come back to the same place.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from licensing import services
from tests.factories import AuditEventFactory, DirectoryUserFactory, GroupFactory, product

pytestmark = pytest.mark.django_db


def _anchors(html: str) -> list[tuple[str, str]]:
    """(href, the rest of the tag) of every link."""
    return [(unescape(h), a) for h, a in re.findall(r'<a href="([^"]*)"([^>]*)>', html)]


def _query(href: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(href).query, keep_blank_values=True).items()}


def _link(html: str, text: str) -> tuple[str, str]:
    """The link whose text starts with ``text``: (query, its tag)."""
    match = re.search(r'<a href="([^"]*)"([^>]*)>' + re.escape(text), html)
    assert match, text
    return _query(unescape(match.group(1))), match.group(2)


def _sort_links(html: str) -> list[tuple[dict, str]]:
    """The sortable column headers' links: (query, tag)."""
    found = re.findall(r'<th aria-sort="[^"]*"[^>]*><a href="([^"]*)"([^>]*)>', html)
    return [(_query(unescape(h)), a) for h, a in found]


def _check_links(html: str, kept: dict[str, str], page: int, *, previous: bool = True):
    """The sort links keep ``kept`` but the sort and the page; the pager keeps all of
    ``kept``; every one of them is pushed into the history by htmx."""
    sorts = _sort_links(html)
    assert sorts
    for query, tag in sorts:
        assert "page" not in query
        assert {k: v for k, v in query.items() if k != "sort"} == {
            k: v for k, v in kept.items() if k != "sort"
        }
        assert 'hx-push-url="true"' in tag
    pager = "‹ Previous" if previous else "Next ›"
    query, tag = _link(html, pager)
    assert query == {**kept, "page": str(page - 1 if previous else page + 1)}
    assert 'hx-push-url="true"' in tag


def _search_form(html: str, form_id: str) -> str:
    match = re.search(rf'<form [^>]*id="{form_id}"[^>]*>', html)
    assert match, form_id
    return match.group(0)


def _hidden_sort(html: str, form_id: str) -> str | None:
    match = re.search(rf'<input type="hidden" name="sort" value="([^"]*)" form="{form_id}">', html)
    return match.group(1) if match else None


def test_users_search_sort_and_page_live_in_the_url(client, as_role, tenant, htmx_headers):
    for i in range(60):
        DirectoryUserFactory(
            tenant=tenant, display_name=f"Ann {i:02}", usage_location=["US", "NL", "DE"][i % 3]
        )
    DirectoryUserFactory(tenant=tenant, display_name="Bob Other", usage_location="AA")
    as_role()
    url = reverse("portal:users") + "?q=ann&sort=-location&page=2"
    response = client.get(url)
    html = response.content.decode()
    # The state the address names: the Anns by usage location descending, the second page.
    page = response.context["page"]
    assert page.number == 2
    assert [p.usage_location for p in page.object_list] == ["DE"] * 10
    assert "Bob Other" not in html
    assert response.context["search"] == "ann"
    assert 'aria-sort="descending"' in html
    _check_links(html, {"q": "ann", "sort": "-location"}, 2)
    form = _search_form(html, "user-search")
    assert 'hx-push-url="true"' in form and 'method="get"' in form
    assert _hidden_sort(html, "user-search") == "-location"
    assert 'name="page"' not in html  # a search starts again at the first page
    # The htmx swap of the same address is the same state, with the same links.
    fragment = client.get(url, headers=htmx_headers).content.decode()
    assert "<html" not in fragment
    _check_links(fragment, {"q": "ann", "sort": "-location"}, 2)
    assert _hidden_sort(fragment, "user-search") == "-location"


def test_htmx_restoring_its_history_gets_the_whole_page(client, as_role, tenant):
    """Back to an address htmx pushed, when its cache no longer holds the page: htmx asks
    the server, and must get the whole page, not the table alone."""
    DirectoryUserFactory(tenant=tenant, display_name="Ann Archer")
    as_role()
    url = reverse("portal:users") + "?q=ann&sort=location"
    html = client.get(
        url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    ).content.decode()
    assert "<html" in html and "Ann Archer" in html


def test_all_users_lists_no_deleted_user_and_shows_whether_the_account_is_enabled(
    client, as_role, tenant, actor
):
    kept = DirectoryUserFactory(tenant=tenant, display_name="Kept User")
    blocked = DirectoryUserFactory(tenant=tenant, display_name="Blocked User")
    blocked.account_enabled = False
    blocked.save()
    gone = DirectoryUserFactory(tenant=tenant, display_name="Gone User")
    services.user_soft_delete(tenant=tenant, user=gone, actor=actor)
    as_role()
    response = client.get(reverse("portal:users") + "?sort=enabled")
    html = response.content.decode()
    assert [p.display_name for p in response.context["page"].object_list] == [
        kept.display_name,
        blocked.display_name,
    ]
    assert "Gone User" not in html and "Account enabled" in html
    assert "Gone User" in client.get(reverse("portal:deleted_users")).content.decode()
    assert "Gone User" not in client.get(reverse("portal:users") + "?q=gone").content.decode()


def test_deleted_users_page_lives_in_the_url(client, as_role, tenant, actor):
    people = DirectoryUserFactory.create_batch(55, tenant=tenant)
    for person in people:
        services.user_soft_delete(tenant=tenant, user=person, actor=actor)
    as_role()
    html = client.get(reverse("portal:deleted_users") + "?page=2").content.decode()
    query, tag = _link(html, "‹ Previous")
    assert query == {"page": "1"} and 'hx-push-url="true"' in tag
    # Its refresh after a command reloads the same page.
    assert 'hx-get="/users/deleted/?page=2"' in html


def test_groups_search_sort_and_page_live_in_the_url(client, as_role, tenant):
    for i in range(55):
        GroupFactory(tenant=tenant, name=f"Team {i:02}", description=f"d{99 - i:02}")
    GroupFactory(tenant=tenant, name="Other")
    as_role()
    response = client.get(reverse("portal:groups") + "?q=team&sort=description&page=2")
    html = response.content.decode()
    assert [g.name for g in response.context["page"].object_list] == [
        f"Team {i:02}" for i in range(4, -1, -1)
    ]
    _check_links(html, {"q": "team", "sort": "description"}, 2)
    assert 'hx-push-url="true"' in _search_form(html, "group-search")
    assert _hidden_sort(html, "group-search") == "description"


def test_a_groups_members_page_lives_in_the_url(client, as_role, tenant, actor):
    group = GroupFactory(tenant=tenant)
    people = DirectoryUserFactory.create_batch(55, tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=people, actor=actor)
    as_role()
    url = reverse("portal:group", args=[group.public_id]) + "?page=2"
    html = client.get(url).content.decode()
    query, tag = _link(html, "‹ Previous")
    assert query == {"page": "1"} and 'hx-push-url="true"' in tag
    assert f'hx-get="{url}"' in html  # the refresh after a command keeps the page


def test_audit_filters_sort_and_page_live_in_the_url(client, as_role, tenant):
    for i in range(55):
        AuditEventFactory(tenant=tenant, activity="Add user", target_name=f"t{i:02}@x")
    AuditEventFactory(tenant=tenant, activity="Delete user", target_name="t99@x")
    as_role()
    url = reverse("portal:audit") + "?activity=Add+user&target=t&sort=target&page=2"
    response = client.get(url)
    html = response.content.decode()
    assert [e.target_name for e in response.context["page"].object_list] == [
        f"t{i:02}@x" for i in range(50, 55)
    ]
    kept = {"activity": "Add user", "target": "t", "sort": "target"}
    _check_links(html, kept, 2)
    assert 'hx-push-url="true"' in _search_form(html, "audit-filters")
    assert _hidden_sort(html, "audit-filters") == "target"


def test_all_products_search_and_sort_live_in_the_url(client, as_role, buy):
    buy("ENTERPRISEPACK", 5)
    buy("EMS", 9)
    buy("AAD_PREMIUM", 7)
    as_role()
    response = client.get(reverse("portal:products") + "?q=e&sort=-total")
    html = response.content.decode()
    totals = [row["total"] for row in response.context["rows"]]
    assert totals == sorted(totals, reverse=True) and len(totals) >= 2
    for query, tag in _sort_links(html):
        assert query["q"] == "e" and "page" not in query and 'hx-push-url="true"' in tag
    # The search is its own form (the products' form opens Assign), sending the sort.
    form = _search_form(html, "product-search")
    assert f'action="{reverse("portal:products")}"' in form
    assert 'form="product-search"' in html and 'hx-push-url="true"' in html
    assert _hidden_sort(html, "product-search") == "-total"


@pytest.fixture
def licensed(tenant, buy, actor):
    """E3 with 2 seats: Ann and Ann 2 direct (Active), a group of 3 Anns (Error,
    CountViolation), Dee deleted (Suspended), and 55 active users more."""
    buy("ENTERPRISEPACK", 58)
    e3 = product("ENTERPRISEPACK")
    many = DirectoryUserFactory.create_batch(55, tenant=tenant, usage_location="NL")
    services.product_assign_to_users(tenant=tenant, product=e3, users=many, actor=actor)
    dee = DirectoryUserFactory(tenant=tenant, display_name="Dee Deleted")
    services.product_assign_to_users(tenant=tenant, product=e3, users=[dee], actor=actor)
    services.user_soft_delete(tenant=tenant, user=dee, actor=actor)
    # Every seat taken: the group's members wait in CountViolation.
    direct = [DirectoryUserFactory(tenant=tenant, display_name=f"Ann Direct {i}") for i in (1, 2)]
    services.product_assign_to_users(tenant=tenant, product=e3, users=direct, actor=actor)
    group = GroupFactory(tenant=tenant, name="Waiting")
    waiting = [
        DirectoryUserFactory(tenant=tenant, display_name=f"Ann Waits {i}") for i in (1, 2, 3)
    ]
    services.group_add_members(tenant=tenant, group=group, users=waiting, actor=actor)
    services.group_licenses_change(tenant=tenant, group=group, add={e3: []}, actor=actor)
    return e3


def _names(response) -> list[str]:
    return [line["user"]["display_name"] for line in response.context["lines"]]


def test_licensed_users_filter_by_state_and_by_error(client, as_role, licensed):
    as_role()
    url = reverse("portal:product", args=[licensed.sku_id])
    assert _names(client.get(url + "?state=Error")) == [f"Ann Waits {i}" for i in (1, 2, 3)]
    assert _names(client.get(url + "?state=Suspended")) == ["Dee Deleted"]
    assert _names(client.get(url + "?error=CountViolation&q=waits+2")) == ["Ann Waits 2"]
    assert _names(client.get(url + "?state=Active&q=ann+direct")) == [
        "Ann Direct 1",
        "Ann Direct 2",
    ]
    assert _names(client.get(url + "?error=MutuallyExclusiveViolation")) == []
    # An unknown value is no filter.
    assert len(_names(client.get(url + "?state=Bogus&error=Bogus"))) == 50
    html = client.get(url + "?state=Error").content.decode()
    assert '<option value="Error" selected>Error</option>' in html
    assert '<option value="CountViolation" >Not enough licenses</option>' in html


def test_licensed_users_search_filters_sort_and_page_live_in_the_url(
    client, as_role, licensed, htmx_headers
):
    as_role()
    url = reverse("portal:product", args=[licensed.sku_id])
    address = url + "?q=&state=Active&error=&sort=-location&page=2"
    response = client.get(address)
    html = response.content.decode()
    assert response.context["page"].number == 2 and len(response.context["lines"]) == 7
    assert response.context["state"] == "Active"
    kept = {"q": "", "state": "Active", "error": "", "sort": "-location"}
    _check_links(html, kept, 2)
    form = _search_form(html, "licensed-users-search")
    assert 'hx-push-url="true"' in form
    assert _hidden_sort(html, "licensed-users-search") == "-location"
    # The refresh after a command reloads this very state.
    assert f'hx-get="{address.replace("&", "&amp;")}"' in html
    fragment = client.get(address, headers=htmx_headers).content.decode()
    _check_links(fragment, kept, 2)


@pytest.fixture
def error_group(tenant, buy, actor):
    """A group of 60 on one seat of E3: 59 members in error, 55 of them Zeds."""
    buy("ENTERPRISEPACK", 1)
    people = [DirectoryUserFactory(tenant=tenant, display_name=f"Ann {i}") for i in range(5)]
    people += [DirectoryUserFactory(tenant=tenant, display_name=f"Zed {i:02}") for i in range(55)]
    group = GroupFactory(tenant=tenant, name="Everyone")
    services.group_add_members(tenant=tenant, group=group, users=people, actor=actor)
    services.group_licenses_change(
        tenant=tenant, group=group, add={product("ENTERPRISEPACK"): []}, actor=actor
    )
    return group


def test_a_groups_error_list_is_searched_and_paged_in_the_url(
    client, as_role, error_group, htmx_headers
):
    as_role("GlobalReader")
    url = reverse("portal:group_licenses", args=[error_group.public_id])
    response = client.get(url + "?q=zed&page=2")
    html = response.content.decode()
    assert [line["user"].display_name for line in response.context["in_error"]] == [
        "Zed 50",
        "Zed 51",
        "Zed 52",
        "Zed 53",
        "Zed 54",
    ]
    assert "59 users have license assignment errors" in html
    assert "55 users match" in html
    query, tag = _link(html, "‹ Previous")
    assert query == {"q": "zed", "page": "1"} and 'hx-push-url="true"' in tag
    form = _search_form(html, "group-error-search")
    assert 'hx-push-url="true"' in form and 'method="get"' in form
    assert 'id="group-error-q" name="q" value="zed"' in html
    fragment = client.get(url + "?q=zed&page=2", headers=htmx_headers).content.decode()
    assert "<html" not in fragment and "Zed 54" in fragment
    none = client.get(url + "?q=nobody").content.decode()
    assert "No users with license assignment errors match your search." in none
    assert "0 users match" in none


def test_a_groups_error_list_searches_this_tenants_group_only(client, as_role, error_group):
    from tests.factories import RoleAssignmentFactory, TenantFactory

    account = as_role()
    fabrikam = TenantFactory(name="Fabrikam")
    RoleAssignmentFactory(account=account, tenant=fabrikam)
    client.post(reverse("portal:switch_tenant"), {"tenant": str(fabrikam.public_id)})
    url = reverse("portal:group_licenses", args=[error_group.public_id])
    assert client.get(url + "?q=zed").status_code == 404
