"""The seed's first task by keyboard alone, counted: from the Overview of Licenses, assign one
product to one user with one service turned off, the way Azure's documentation walks it
(Licenses > All products > the product > + Assign > pick the user > Assignment options >
switch one service off > OK > Review + assign > Assign), in at most 40 keystrokes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from licensing.models import LicenseAssignment, UserLicense
from tests.e2e.test_keyboard_dutch import FOCUSED_NAME, answered, focused, tab_to
from tests.factories import DirectoryUserFactory, SubscriptionFactory, plan_id, product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BUDGET = 40


@pytest.fixture
def contoso(tenant):
    SubscriptionFactory(tenant=tenant, product=product("ENTERPRISEPACK"), units=10)
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=10)
    DirectoryUserFactory(tenant=tenant, display_name="Adele Vance", usage_location="NL")
    return tenant


def test_assign_one_product_to_one_user_with_one_service_off_in_40_keystrokes(
    page, signed_in, contoso, keystrokes
):
    megan = DirectoryUserFactory(tenant=contoso, display_name="Megan Bowen", usage_location="NL")
    signed_in()  # lands on Licenses | Overview; the form is filled, not typed
    assert keystrokes.count == 0
    expect(page.get_by_role("heading", level=1)).to_have_text("Licenses | Overview")

    # Licenses > All products: the blade's heading has the focus, its tabs come next.
    tab_to(page, "All products", exact=True)
    page.keyboard.press("Enter")
    page.wait_for_url("**/licenses/products/")
    focused(page, "All products")  # the tab chosen keeps the focus
    # > the product, by its name.
    tab_to(page, "Office 365 E3", exact=True)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/licenses/products/{product('ENTERPRISEPACK').sku_id}/")
    # > + Assign.
    tab_to(page, "Assign", exact=True)
    page.keyboard.press("Enter")
    page.wait_for_url("**/licenses/assign/**")
    # > Users and groups: the picker's search has the focus; type, and Enter picks the first
    # result (once the search as you type has answered, however quick the Enter).
    focused(page, "Search users and groups")
    with page.expect_response(lambda r: "/licenses/assign/" in r.url):
        page.keyboard.type("meg")
        page.keyboard.press("Enter")
    picked = page.locator("label.picked", has_text="Megan Bowen")
    expect(picked.get_by_role("checkbox")).to_be_checked()
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)
    focused(page, "Search users and groups")  # the form was drawn again; the focus stayed
    # > Assignment options: switch Microsoft Teams off; Enter is OK.
    tab_to(page, "Assignment options", back=True)
    page.keyboard.press("Enter")
    options = page.get_by_role("dialog", name="Assignment options")
    expect(options).to_be_visible()
    tab_to(page, "Microsoft Teams", exact=True)
    answered(page, lambda: page.keyboard.press("Space"))
    page.locator("#options-dialog[open] input[role=switch]:focus").wait_for()
    expect(options.get_by_role("switch", name="Microsoft Teams")).not_to_be_checked()
    answered(page, lambda: page.keyboard.press("Enter"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    focused(page, "Assignment options")
    # > Review + assign: what it will do, before it does it.
    review = page.locator("#preview")
    expect(review.locator("tbody tr")).to_contain_text("Office 365 E3")
    expect(review.locator("tbody tr")).to_contain_text("Microsoft Teams")
    expect(review.locator(".review-list")).to_have_text("Megan Bowen " + megan.user_principal_name)
    # > Assign.
    tab_to(page, "Assign", exact=True)
    page.keyboard.press("Enter")
    page.wait_for_url("**/licenses/products/")
    expect(page.locator("#notifications")).to_contain_text("Office 365 E3 assigned to Megan Bowen.")

    assert keystrokes.count <= BUDGET, f"{keystrokes.count} keystrokes, more than {BUDGET}"
    assignment = LicenseAssignment.objects.get(user=megan)
    assert assignment.product == product("ENTERPRISEPACK")
    assert assignment.disabled_plans == [plan_id("TEAMS1")]
    license = UserLicense.objects.get(user=megan)
    assert (license.state, license.disabled_plans) == ("Active", [plan_id("TEAMS1")])
    assert not LicenseAssignment.objects.exclude(user=megan).exists()


def test_enter_in_the_picker_search_picks_nothing_when_nothing_is_found(page, signed_in, contoso):
    signed_in()
    page.goto(f"/licenses/assign/?product={product('ENTERPRISEPACK').sku_id}")
    focused(page, "Search users and groups")
    answered(page, lambda: page.keyboard.type("nobody"))
    expect(page.locator("#picker")).to_contain_text("No users or groups found.")
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    # Nothing picked, nothing sent, no dialog: the focus is still in the search.
    expect(page.locator("label.picked")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert page.evaluate(FOCUSED_NAME) == "Search users and groups"


def test_enter_on_a_switch_of_assignment_options_is_ok(page, signed_in, contoso):
    """As Escape is the dialog's Cancel, Enter on a switch is its OK (the form's own default
    button would be Assignment options, which is open already)."""
    signed_in()
    page.goto(f"/licenses/assign/?product={product('ENTERPRISEPACK').sku_id}")
    tab_to(page, "Assignment options", back=True)
    page.keyboard.press("Enter")
    options = page.get_by_role("dialog", name="Assignment options")
    expect(options).to_be_visible()
    tab_to(page, "Viva Engage (Yammer)", exact=True)
    with page.expect_response(lambda r: "/licenses/assign/" in r.url):
        page.keyboard.press("Space")
        # Enter while the switch's answer is still coming: OK once it has come.
        page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_have_count(0)
    focused(page, "Assignment options")
    expect(page.get_by_text("Office 365 E3: 7 of 8 services on")).to_be_visible()
    expect(page.locator("#options-dialog")).not_to_be_visible()
