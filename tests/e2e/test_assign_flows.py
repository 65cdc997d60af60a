"""The Assign blade in a real browser: Cancel and Escape of the Assignment options, and the
busy state while the server answers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible
from tests.factories import DirectoryUserFactory, SubscriptionFactory, product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def assign_page(page, signed_in, tenant):
    SubscriptionFactory(tenant=tenant, product=product("ENTERPRISEPACK"), units=10)
    megan = DirectoryUserFactory(tenant=tenant, display_name="Megan Bowen", usage_location="NL")
    signed_in()
    page.goto(
        f"/licenses/assign/?product={product('ENTERPRISEPACK').sku_id}&user={megan.public_id}"
    )
    return page


def _answered(page, act) -> None:
    with page.expect_response(lambda r: "/licenses/assign/" in r.url):
        act()
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def test_cancel_and_escape_put_the_switches_back_ok_keeps_them(assign_page):
    page = assign_page
    summary = page.locator(".options-summary")
    review = page.locator("#preview tbody tr")
    opener = page.get_by_role("button", name="Assignment options")
    options = page.get_by_role("dialog", name="Assignment options")
    teams = options.get_by_role("switch", name="Microsoft Teams")
    for close in ("Cancel", "Escape"):
        opener.click()
        _answered(page, teams.uncheck)
        # Toggled: the server drew the form again with Teams off, the dialog still open.
        expect(summary).to_have_text("Office 365 E3: 7 of 8 services on")
        expect(review).to_contain_text("Microsoft Teams")
        expect(teams).not_to_be_checked()
        if close == "Cancel":
            _answered(page, options.get_by_role("button", name="Cancel").click)
        else:
            _answered(page, lambda: page.keyboard.press("Escape"))
        expect(options).to_be_hidden()
        expect(opener).to_be_focused()
        # Back as on opening, on the server too: the summary and the review say so.
        expect(summary).to_have_text("Office 365 E3: 8 of 8 services on")
        expect(review).to_have_text(re.compile(r"Office 365 E3\s*None\s*1\s*10"))
        opener.click()
        expect(teams).to_be_checked()
        page.keyboard.press("Escape")
        expect(options).to_be_hidden()
    opener.click()
    _answered(page, teams.uncheck)
    _answered(page, options.get_by_role("button", name="OK").click)
    expect(options).to_be_hidden()
    expect(summary).to_have_text("Office 365 E3: 7 of 8 services on")
    # Kept: Cancel after a later opening goes back to this choice, not to the first one.
    opener.click()
    expect(teams).not_to_be_checked()
    _answered(page, options.get_by_role("button", name="Cancel").click)
    expect(summary).to_have_text("Office 365 E3: 7 of 8 services on")
    expect(review).to_contain_text("Microsoft Teams")


def test_the_form_is_busy_while_the_server_answers(assign_page):
    page = assign_page
    form = page.locator("#assign-form")
    assign = page.get_by_role("button", name="Assign", exact=True)
    expect(assign).to_be_enabled()
    expect(form).not_to_have_attribute("aria-busy", "true")
    held = []
    page.route(
        "**/licenses/assign/",
        lambda route: held.append(route) if route.request.method == "POST" else route.continue_(),
    )
    page.get_by_role("button", name="Assignment options").click()
    page.get_by_role("switch", name="Microsoft Teams").uncheck()
    # The answer is held back: the form says it is busy, shows it, and sends nothing twice.
    expect(form).to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("button", name="OK")).to_be_disabled()
    expect(page.locator("#assign-form button[value=assign]")).to_be_disabled()
    # The bar along its top shows once the answer takes a moment (200 ms).
    bar = "() => getComputedStyle(document.getElementById('assign-form'), '::before')"
    for _ in range(50):
        if page.evaluate(f"{bar}.opacity") == "1":
            break
        page.wait_for_timeout(20)
    assert page.evaluate(f"{bar}.opacity") == "1"
    assert page.evaluate(f"{bar}.height") == "3px"
    assert_accessible(page)
    assert len(held) == 1
    held[0].continue_()
    expect(form).not_to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("button", name="OK")).to_be_enabled()
    expect(page.locator(".options-summary")).to_have_text("Office 365 E3: 7 of 8 services on")
    page.unroute("**/licenses/assign/")
