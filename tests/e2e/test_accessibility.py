"""axe-core on every page of the portal: no serious or critical violations."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from licensing import services
from tests.e2e.conftest import assert_accessible
from tests.factories import DirectoryUserFactory, GroupFactory, SubscriptionFactory, product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


LANGUAGE_BUTTON = {"nl": "Nederlands", "en": "English"}


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("role", ["GlobalAdministrator", "LicenseAdministrator", "GlobalReader"])
def test_every_page_and_dialog_has_no_serious_accessibility_violations(
    page, signed_in, tenant, role, language
):
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=1)
    SubscriptionFactory(tenant=tenant, product=product("ENTERPRISEPACK"), units=5)
    p1 = product("AAD_PREMIUM")
    people = DirectoryUserFactory.create_batch(3, tenant=tenant)
    group = GroupFactory(tenant=tenant, name="Sales", description="Account managers")
    services.group_add_members(tenant=tenant, group=group, users=people, actor=None)
    services.group_assign_products(tenant=tenant, group=group, products={p1: []}, actor=None)
    person = people[0]
    services.user_soft_delete(tenant=tenant, user=people[2], actor=None)
    services.product_assign_to_users(
        tenant=tenant, product=product("ENTERPRISEPACK"), users=[person], actor=None
    )

    page.goto("/accounts/login/")
    assert_accessible(page)
    signed_in(role)
    if language == "nl":  # the top bar's switch
        page.get_by_role("button", name=LANGUAGE_BUTTON["nl"]).click()
    expect(page.locator("html")).to_have_attribute("lang", language)
    urls = [
        "/licenses/",
        "/licenses/products/",
        f"/licenses/products/{p1.sku_id}/",
        f"/licenses/products/{p1.sku_id}/groups/",
        f"/licenses/products/{p1.sku_id}/plans/",
        f"/licenses/assign/?product={p1.sku_id}&user={person.public_id}",
        "/users/",
        f"/users/{person.public_id}/",
        f"/users/{person.public_id}/licenses/",
        "/groups/",
        f"/groups/{group.public_id}/",
        f"/groups/{group.public_id}/?q=a",
        f"/groups/{group.public_id}/licenses/",
        "/audit/",
        "/users/deleted/",
        "/users/sync/",
        "/apps/",
        "/provisioning/",
    ]
    for url in urls:
        response = page.goto(url)  # pages a role may not open answer the 403 page: checked too
        if response.status == 403:
            page.console_problems[:] = [p for p in page.console_problems if "403" not in p]
        assert page.title(), url
        expect(page.locator("html")).to_have_attribute("lang", language)
        assert_accessible(page)
    if role == "GlobalReader":
        return
    # The dialogs, open.
    page.goto(f"/licenses/assign/?product={p1.sku_id}&user={person.public_id}")
    page.locator("#options-button").click()
    expect(page.locator("#options-dialog")).to_be_visible()
    assert_accessible(page)
    page.keyboard.press("Escape")
    page.goto(f"/users/{person.public_id}/licenses/")
    page.locator("a.command[hx-target='#modal']").click()
    expect(page.locator("#modal dialog")).to_be_visible()
    assert_accessible(page)
    page.keyboard.press("Escape")
    page.locator("#user-licenses input[type=checkbox]").first.check()
    page.locator("button.command[hx-confirm]").first.click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    assert_accessible(page)
    page.keyboard.press("Escape")
    expect(page.locator("#confirm-dialog")).to_be_hidden()
