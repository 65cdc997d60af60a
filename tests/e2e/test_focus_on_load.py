"""Where the keyboard starts: after a page loads, the blade's heading has the focus, so one
Tab goes into the blade rather than through the header and the left navigation. Unless the
page asks for the focus elsewhere: a #fragment, a dialog open on load, a field with
autofocus; and htmx swaps keep their own focus."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from licensing import services
from tests.factories import DirectoryUserFactory, GroupFactory, SubscriptionFactory, product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The focused element, described: its tag, its text or label, and whether it is in the blade.
FOCUSED = """() => {
  const e = document.activeElement;
  return {tag: e.tagName, text: (e.getAttribute("aria-label") || e.textContent || e.value || "")
    .replace(/\\s+/g, " ").trim(), inBlade: !!e.closest(".blade"), id: e.id};
}"""
# The blade's first control in the tab order (the first focusable element after its heading).
FIRST_CONTROL = """() => {
  const controls = document.querySelectorAll(
    ".blade a[href], .blade button:not([disabled]), .blade input:not([type=hidden]):not([disabled]), .blade select, .blade textarea");
  const first = Array.from(controls).find((e) => e.offsetParent !== null && e.tabIndex >= 0
    && !e.closest("dialog:not([open])"));
  return first.getAttribute("aria-label") || first.textContent.replace(/\\s+/g, " ").trim();
}"""


@pytest.fixture
def contoso(tenant):
    SubscriptionFactory(tenant=tenant, product=product("ENTERPRISEPACK"), units=10)
    megan = DirectoryUserFactory(tenant=tenant, display_name="Megan Bowen")
    services.product_assign_to_users(
        tenant=tenant, product=product("ENTERPRISEPACK"), users=[megan], actor=None
    )
    return {"megan": megan, "sales": GroupFactory(tenant=tenant, name="Sales")}


def test_after_a_page_loads_the_heading_has_the_focus_and_tab_goes_into_the_blade(
    page, signed_in, contoso
):
    signed_in()
    e3 = product("ENTERPRISEPACK").sku_id
    megan, sales = contoso["megan"].public_id, contoso["sales"].public_id
    for address in (
        "/licenses/",
        "/licenses/products/",
        f"/licenses/products/{e3}/",
        "/users/",
        f"/users/{megan}/licenses/",
        f"/groups/{sales}/",
        "/audit/",
    ):
        page.goto(address)
        heading = page.get_by_role("heading", level=1)
        expect(heading).to_be_focused()
        first = page.evaluate(FIRST_CONTROL)
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["inBlade"], (address, focused)
        assert focused["text"] == first, (address, focused, first)


def test_the_focused_heading_shows_a_focus_outline(page, signed_in):
    signed_in()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_be_focused()
    assert heading.evaluate("h => getComputedStyle(h).outlineStyle") != "none"
    # Elsewhere, the focus takes its outline along.
    page.get_by_role("link", name="All products").focus()
    assert heading.evaluate("h => getComputedStyle(h).outlineStyle") == "none"


def test_the_heading_does_not_take_the_focus_from_a_fragment(page, signed_in):
    signed_in()
    page.goto("/licenses/products/#product-rows")
    assert page.evaluate(FOCUSED)["tag"] != "H1"
    # The keyboard goes on from the place the address names: the rows' first control.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('#product-rows') !== null")


def test_the_heading_does_not_take_the_focus_from_a_dialog_open_on_load(page, signed_in, contoso):
    signed_in()
    # Without htmx, + Assignments is a page with its dialog open.
    page.goto(f"/users/{contoso['megan'].public_id}/licenses/assignments/")
    expect(page.get_by_role("dialog")).to_be_visible()
    assert page.evaluate(FOCUSED)["tag"] != "H1"


def test_the_heading_does_not_take_the_focus_from_a_field_with_autofocus(page, signed_in, contoso):
    signed_in()
    # Assign opened for a product: its Users and groups picker asks for the focus.
    page.goto(f"/licenses/assign/?product={product('ENTERPRISEPACK').sku_id}")
    expect(page.get_by_role("searchbox", name="Search users and groups")).to_be_focused()


def test_htmx_swaps_keep_their_own_focus(page, signed_in, contoso):
    signed_in()
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    # A tab of the blade draws the blade again: the tab chosen keeps the focus.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/licenses/products/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("All products")
    expect(page.get_by_role("link", name="All products")).to_be_focused()
    # Search as you type redraws the rows: the focus stays in the search box.
    search = page.get_by_role("searchbox", name="Search products")
    search.focus()
    with page.expect_response(lambda r: "q=e3" in r.url.lower()):
        page.keyboard.type("E3")
    expect(page.locator("#product-rows")).to_contain_text("Office 365 E3")
    expect(search).to_be_focused()
