"""A user's license services, the confirmations that name what they remove, and counts that
follow a change without a reload: in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from licensing import services
from licensing.models import LicenseAssignment, UserLicense
from tests.e2e.conftest import assert_accessible, confirm, watched_page
from tests.factories import (
    DirectoryUserFactory,
    GroupFactory,
    SubscriptionFactory,
    plan_id,
    product,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Set on the page's window: still there after a change means the page was not loaded again.
MARK = "() => { window.notReloaded = true; }"
STILL_MARKED = "() => window.notReloaded === true"


@pytest.fixture
def contoso(tenant):
    SubscriptionFactory(tenant=tenant, product=product("ENTERPRISEPACK"), units=10)
    SubscriptionFactory(tenant=tenant, product=product("POWER_BI_PRO"), units=10)
    return tenant


@pytest.fixture
def megan(contoso):
    """Megan Bowen: Office 365 E3 directly, Power BI Pro from Analysts."""
    megan = DirectoryUserFactory(tenant=contoso, display_name="Megan Bowen", usage_location="NL")
    services.product_assign_to_users(
        tenant=contoso, product=product("ENTERPRISEPACK"), users=[megan], actor=None
    )
    analysts = GroupFactory(tenant=contoso, name="Analysts")
    services.group_add_members(tenant=contoso, group=analysts, users=[megan], actor=None)
    services.group_assign_products(
        tenant=contoso, group=analysts, products={product("POWER_BI_PRO"): []}, actor=None
    )
    return megan


def test_the_confirmation_names_the_ticked_users_and_opens_on_cancel(page, signed_in, contoso):
    people = [
        DirectoryUserFactory(tenant=contoso, display_name=name)
        for name in ("Adele Wilber", "Alex Wilber", "Diego Siciliani")
    ]
    e3 = product("ENTERPRISEPACK")
    services.product_assign_to_users(tenant=contoso, product=e3, users=people, actor=None)
    signed_in()
    page.goto(f"/licenses/products/{e3.sku_id}/")
    dialog = page.locator("dialog#confirm-dialog")
    page.get_by_label("Select Adele Wilber").check()
    page.get_by_role("button", name="Remove license").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Remove Office 365 E3 from Adele Wilber?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    assert_accessible(page)
    # Enter answers the focused Cancel: nothing is removed.
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Remove license")).to_be_focused()
    assert UserLicense.objects.filter(product=e3).count() == 3
    page.get_by_label("Select Alex Wilber").check()
    page.get_by_label("Select Diego Siciliani").check()
    page.get_by_role("button", name="Remove license").click()
    expect(dialog).to_contain_text("Remove Office 365 E3 from 3 users?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    confirm(page, "Cancel")
    assert UserLicense.objects.filter(product=e3).count() == 3


def test_nothing_ticked_asks_nothing_and_the_portal_says_what_to_select(
    page, signed_in, contoso, megan
):
    signed_in()
    page.goto(f"/licenses/products/{product('ENTERPRISEPACK').sku_id}/")
    page.get_by_role("button", name="Remove license").click()
    expect(page.locator("#notifications")).to_contain_text(
        "Select the users whose license you want to remove."
    )
    expect(page.locator("dialog#confirm-dialog")).to_be_hidden()


def test_the_header_counts_follow_remove_license_without_a_reload(page, signed_in, contoso):
    people = DirectoryUserFactory.create_batch(3, tenant=contoso)
    e3 = product("ENTERPRISEPACK")
    services.product_assign_to_users(tenant=contoso, product=e3, users=people, actor=None)
    signed_in()
    page.goto(f"/licenses/products/{e3.sku_id}/")
    header = page.locator("#product-header")
    expect(header).to_contain_text("Total 10 · Assigned 3 · Available 7")
    page.evaluate(MARK)
    page.get_by_label(f"Select {people[0].display_name}").check()
    page.get_by_label(f"Select {people[1].display_name}").check()
    page.get_by_role("button", name="Remove license").click()
    confirm(page)
    expect(page.locator("#notifications")).to_contain_text("Removed Office 365 E3")
    expect(header).to_contain_text("Total 10 · Assigned 1 · Available 9")
    expect(page.locator("#licensed-users tbody tr")).to_have_count(1)
    assert page.evaluate(STILL_MARKED)
    # Reprocess too: the header asks again, and the tab of the page stays current.
    page.get_by_role("button", name="Reprocess").click()
    expect(page.locator("#notifications")).to_contain_text("Reprocessed")
    expect(header.get_by_role("link", name="Licensed users")).to_have_attribute(
        "aria-current", "page"
    )
    assert page.evaluate(STILL_MARKED)


def test_saving_a_users_service_switches(page, signed_in, megan):
    signed_in()
    page.goto(f"/users/{megan.public_id}/licenses/")
    page.evaluate(MARK)
    page.get_by_role("link", name="Edit services of Office 365 E3").click()
    dialog = page.get_by_role("dialog", name="Assignment options: Office 365 E3")
    expect(dialog).to_be_visible()
    assert_accessible(page)
    # A refusal is shown in the dialog, as the service words it, and nothing changes.
    dialog.get_by_role("switch", name="SharePoint Online (Plan 2)").uncheck()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        "Office for the web requires SharePoint Online (Plan 2)"
    )
    assert LicenseAssignment.objects.get(user=megan).disabled_plans == []
    dialog.get_by_role("switch", name="SharePoint Online (Plan 2)").check()
    dialog.get_by_role("switch", name="Microsoft Teams").uncheck()
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("#notifications")).to_contain_text(
        "Saved the services of Office 365 E3 for Megan Bowen."
    )
    row = page.locator("#user-licenses tr", has_text="Office 365 E3")
    expect(row).not_to_contain_text("Microsoft Teams")
    expect(row).to_contain_text("Exchange Online (Plan 2)")
    assert page.evaluate(STILL_MARKED)
    assert LicenseAssignment.objects.get(user=megan).disabled_plans == [plan_id("TEAMS1")]
    # Opened again, the switch is off.
    page.get_by_role("link", name="Edit services of Office 365 E3").click()
    expect(dialog.get_by_role("switch", name="Microsoft Teams")).not_to_be_checked()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit services of Office 365 E3")).to_be_focused()


def test_an_inherited_licenses_services_are_read_only_with_the_group(page, signed_in, megan):
    signed_in()
    page.goto(f"/users/{megan.public_id}/licenses/")
    page.get_by_role("link", name="View services of Power BI Pro").click()
    dialog = page.get_by_role("dialog", name="Assignment options: Power BI Pro")
    expect(dialog).to_contain_text("Inherited from Analysts.")
    for switch in dialog.get_by_role("switch").all():
        expect(switch).to_be_disabled()
    expect(dialog.get_by_role("button", name="Save")).to_have_count(0)
    assert_accessible(page)
    dialog.get_by_role("link", name="Open Analysts").click()
    page.wait_for_url("**/groups/*/licenses/")
    expect(page.get_by_role("heading", name="Analysts | Licenses")).to_be_visible()


def test_the_services_dialog_works_without_javascript(browser, live_server, megan):
    from tests.e2e.conftest import PASSWORD
    from tests.factories import AccountFactory, RoleAssignmentFactory

    account = AccountFactory()
    RoleAssignmentFactory(account=account, tenant=megan.tenant, role="LicenseAdministrator")
    with watched_page(browser, live_server, java_script_enabled=False) as page:
        page.goto("/accounts/login/")
        page.fill("#id_username", account.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/licenses/")
        page.goto(f"/users/{megan.public_id}/licenses/")
        page.get_by_role("link", name="Edit services of Office 365 E3").click()
        page.wait_for_url("**/plans/")
        page.get_by_role("switch", name="Viva Engage").uncheck()
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(f"**/users/{megan.public_id}/licenses/")
        expect(page.locator("#notifications")).to_contain_text("Saved the services")
    assert LicenseAssignment.objects.get(user=megan).disabled_plans == [
        plan_id("YAMMER_ENTERPRISE")
    ]
