"""A list keeps its place in the browser's history: search, sort and page are in the URL
that each htmx swap pushes, so Back from a user returns to the same rows."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible
from tests.factories import DirectoryUserFactory, GroupFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_back_from_a_user_returns_to_the_same_search_sort_and_page(page, signed_in, tenant):
    # 60 Megans over three usage locations, and others the search leaves out.
    for i in range(60):
        DirectoryUserFactory(
            tenant=tenant,
            display_name=f"Megan {i:02}",
            usage_location=["US", "NL", "DE"][i % 3],
        )
    DirectoryUserFactory.create_batch(5, tenant=tenant, display_name="Other Person")
    signed_in()
    page.goto("/users/")
    rows = page.locator("#user-rows tbody tr")
    page.get_by_placeholder("Search by name or user principal name").fill("megan")
    expect(page).to_have_url(re.compile(r"/users/\?q=megan$"))
    page.locator("#user-rows").get_by_role("link", name="Usage location").click()
    expect(page.locator("#user-rows th[aria-sort=ascending]")).to_have_text("Usage location ▲")
    assert _query(page.url) == {"q": ["megan"], "sort": ["location"]}
    page.locator("#user-rows").get_by_role("link", name="Next ›").click()
    expect(page.locator("#user-rows .pager")).to_contain_text("Items 51–60")
    expect(page).to_have_url(re.compile(r"page=2"))
    assert _query(page.url) == {"q": ["megan"], "sort": ["location"], "page": ["2"]}
    # Page 2 by usage location: the last ten Megans of the US.
    expect(rows).to_have_count(10)
    expect(rows.first).to_contain_text("US")
    first_on_page_2 = rows.first.locator("td").first.inner_text()
    rows.first.get_by_role("link").click()
    expect(page.locator("h1")).to_contain_text(first_on_page_2)
    page.go_back()
    expect(page).to_have_url(re.compile(r"page=2"))
    assert _query(page.url) == {"q": ["megan"], "sort": ["location"], "page": ["2"]}
    expect(page.locator("#user-rows .pager")).to_contain_text("Items 51–60")
    expect(rows.first.locator("td").first).to_have_text(first_on_page_2)
    expect(page.locator("#user-search-q")).to_have_value("megan")
    expect(page.locator("#user-rows th[aria-sort=ascending]")).to_have_text("Usage location ▲")
    # A search now keeps the sort and starts again at the first page.
    page.locator("#user-search-q").fill("megan 5")
    expect(page).to_have_url(re.compile(r"q=megan(\+|%20)5"))
    expect(rows).to_have_count(10)
    assert _query(page.url) == {"q": ["megan 5"], "sort": ["location"]}
    expect(rows.first).to_contain_text("DE")
    assert_accessible(page)


def test_a_groups_error_list_is_searched_and_paged_and_back_returns_to_it(
    page, signed_in, tenant, buy
):
    from licensing import services
    from tests.factories import product

    buy("ENTERPRISEPACK", 1)
    people = [DirectoryUserFactory(tenant=tenant, display_name=f"Zed {i:02}") for i in range(60)]
    people += DirectoryUserFactory.create_batch(3, tenant=tenant, display_name="Ann Other")
    group = GroupFactory(tenant=tenant, name="Everyone")
    services.group_add_members(tenant=tenant, group=group, users=people, actor=None)
    services.group_licenses_change(
        tenant=tenant, group=group, add={product("ENTERPRISEPACK"): []}, actor=None
    )
    signed_in()
    page.goto(f"/groups/{group.public_id}/licenses/")
    errors = page.locator("#group-licenses table[aria-labelledby] tbody tr")
    expect(errors).to_have_count(50)
    search = page.locator("#group-error-q")
    search.fill("zed")
    expect(page.locator("#group-licenses")).to_contain_text("users match")
    expect(search).to_be_focused()
    assert _query(page.url) == {"q": ["zed"]}
    page.locator("#group-licenses").get_by_role("link", name="Next ›").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    assert _query(page.url) == {"q": ["zed"], "page": ["2"]}
    expect(errors.first).to_contain_text("Zed")
    opened = errors.first.locator("td").first.inner_text()
    errors.first.get_by_role("link").click()
    expect(page.locator("h1")).to_contain_text(opened)
    page.go_back()
    expect(page).to_have_url(re.compile(r"page=2"))
    assert _query(page.url) == {"q": ["zed"], "page": ["2"]}
    expect(errors.first.locator("td").first).to_have_text(opened)
    assert_accessible(page)
