"""The seed's flows in Dutch with the keyboard alone: Tab, Shift+Tab, Space, Enter, Escape and
typing; no mouse, no click(). A browser that asks for Dutch (Accept-Language: nl)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from licensing import services
from licensing.models import LicenseAssignment, UserLicense
from tests.e2e.conftest import PASSWORD, watched_page
from tests.factories import (
    AccountFactory,
    DirectoryUserFactory,
    GroupFactory,
    RoleAssignmentFactory,
    SubscriptionFactory,
    plan_id,
    product,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The accessible name of the focused element, as a screen reader would announce it.
FOCUSED_NAME = """() => {
  const e = document.activeElement;
  if (!e) return "";
  const text = (node) => {
    const copy = node.cloneNode(true);
    copy.querySelectorAll("[aria-hidden=true]").forEach((n) => n.remove());
    return copy.textContent;
  };
  const label = e.getAttribute("aria-label")
    || (e.labels && e.labels.length ? text(e.labels[0]) : "")
    || text(e) || e.value || "";
  return label.replace(/\\s+/g, " ").trim();
}"""


@pytest.fixture
def dutch(browser, live_server):
    """A page of a Dutch browser; any error in its console fails the test."""
    with watched_page(
        browser,
        live_server,
        locale="nl-NL",
        extra_http_headers={"Accept-Language": "nl-NL,nl;q=0.9"},
    ) as page:
        yield page


def tab_to(page, name: str, *, back: bool = False, exact: bool = False, limit: int = 80) -> None:
    """Tab (or Shift+Tab) until the focused element's accessible name contains ``name`` (or
    is ``name``, with ``exact``)."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        focused = page.evaluate(FOCUSED_NAME)
        if focused == name or (not exact and name in focused):
            return
    raise AssertionError(f"no focusable element named {name!r} within {limit} tabs")


def focused(page, name: str, *, seconds: float = 5) -> None:
    """The focus is on the element named ``name`` (now, or once the page settles: a dialog
    gives the focus back when its close event runs)."""
    for _ in range(int(seconds * 20)):
        if page.evaluate(FOCUSED_NAME) == name:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the focus is on {page.evaluate(FOCUSED_NAME)!r}, not {name!r}")


def answered(page, press) -> None:
    """Press, type or toggle something htmx sends to the portal, and wait until the answer is
    swapped in and settled (search as you type waits 250 ms before it asks)."""
    with page.expect_response(lambda r: "/licenses/assign/" in r.url):
        press()
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def pick(page, query: str, name: str) -> None:
    """In the Assign blade's Users and groups: search by typing, then tick ``name``. Opened
    for a product, the blade has the focus in the search box already."""
    if page.evaluate(FOCUSED_NAME) != "Gebruikers en groepen zoeken":
        tab_to(page, "Gebruikers en groepen zoeken")
    answered(page, lambda: page.keyboard.type(query))
    expect(page.locator("#picker")).to_contain_text(name)
    tab_to(page, name)
    answered(page, lambda: page.keyboard.press("Space"))


def sign_in(page, tenant) -> None:
    account = AccountFactory()
    RoleAssignmentFactory(account=account, tenant=tenant, role="GlobalAdministrator")
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", name="Aanmelden")).to_be_visible()
    page.keyboard.type(account.username)  # the user name field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/licenses/")


@pytest.fixture
def contoso(tenant):
    SubscriptionFactory(tenant=tenant, product=product("ENTERPRISEPACK"), units=10)
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=10)
    return tenant


def test_assign_a_license_to_a_user_with_assignment_options_by_keyboard(dutch, contoso):
    megan = DirectoryUserFactory(tenant=contoso, display_name="Megan Bowen", usage_location="NL")
    page = dutch
    sign_in(page, contoso)
    tab_to(page, "Alle producten")
    page.keyboard.press("Enter")
    page.wait_for_url("**/licenses/products/")
    tab_to(page, "Office 365 E3 selecteren")
    page.keyboard.press("Space")
    tab_to(page, "Toewijzen", back=True)
    page.keyboard.press("Enter")
    page.wait_for_url("**/licenses/assign/**")
    pick(page, "megan", "Megan Bowen")
    expect(page.locator("#preview tbody tr")).to_have_text(
        re.compile(r"Office 365 E3\s*Geen\s*1\s*10\s*Voldoende licenties")
    )
    # The form was drawn again: the focus stayed on Megan's box.
    assert "Megan Bowen" in page.evaluate(FOCUSED_NAME)
    tab_to(page, "Toewijzingsopties", back=True)
    page.keyboard.press("Enter")
    options = page.get_by_role("dialog", name="Toewijzingsopties")
    expect(options).to_be_visible()
    tab_to(page, "Microsoft Teams")
    answered(page, lambda: page.keyboard.press("Space"))
    # Drawn again with the choice: still open, focus still on the switch.
    expect(page.get_by_text("Office 365 E3: 7 van 8 services ingeschakeld")).to_be_attached()
    page.locator("#options-dialog[open] input[role=switch]:focus").wait_for()
    expect(options.get_by_role("switch", name="Microsoft Teams")).not_to_be_checked()
    expect(options).to_be_visible()
    focused(page, "Microsoft Teams")
    # Escape is Cancel: the switch is back as it was when the dialog opened.
    answered(page, lambda: page.keyboard.press("Escape"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    focused(page, "Toewijzingsopties")
    expect(page.get_by_text("Office 365 E3: 8 van 8 services ingeschakeld")).to_be_visible()
    # Again, and OK keeps it.
    page.keyboard.press("Enter")
    expect(options).to_be_visible()
    tab_to(page, "Microsoft Teams")
    answered(page, lambda: page.keyboard.press("Space"))
    page.locator("#options-dialog[open] input[role=switch]:focus").wait_for()
    tab_to(page, "OK", exact=True)
    answered(page, lambda: page.keyboard.press("Enter"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    focused(page, "Toewijzingsopties")
    expect(page.get_by_text("Office 365 E3: 7 van 8 services ingeschakeld")).to_be_visible()
    tab_to(page, "Toewijzen", exact=True)  # the blade's own Assign button
    page.keyboard.press("Enter")
    page.wait_for_url("**/licenses/products/")
    expect(page.locator("#notifications")).to_contain_text(
        "Office 365 E3 toegewezen aan Megan Bowen."
    )
    assert LicenseAssignment.objects.get(user=megan).disabled_plans == [plan_id("TEAMS1")]


def test_assign_a_license_to_a_group_by_keyboard(dutch, contoso):
    sales = GroupFactory(tenant=contoso, name="Verkoop")
    people = DirectoryUserFactory.create_batch(3, tenant=contoso)
    services.group_add_members(tenant=contoso, group=sales, users=people, actor=None)
    page = dutch
    sign_in(page, contoso)
    page.goto(f"/licenses/assign/?product={product('AAD_PREMIUM').sku_id}")
    pick(page, "verkoop", "Verkoop")
    expect(page.locator("#preview")).to_contain_text("Verkoop (3 leden)")
    expect(page.locator("#preview tbody tr")).to_have_text(
        re.compile(r"Microsoft Entra ID P1\s*Geen\s*3\s*10\s*Voldoende licenties")
    )
    tab_to(page, "Toewijzen", exact=True)
    page.keyboard.press("Enter")
    page.wait_for_url("**/licenses/products/")
    assert UserLicense.objects.filter(via_group=sales, state="Active").count() == 3


@pytest.fixture
def megan(contoso):
    """Megan Bowen with a direct Microsoft Entra ID P1."""
    megan = DirectoryUserFactory(tenant=contoso, display_name="Megan Bowen")
    services.product_assign_to_users(
        tenant=contoso, product=product("AAD_PREMIUM"), users=[megan], actor=None
    )
    return megan


def test_remove_a_license_by_keyboard_with_the_confirmation(dutch, contoso, megan):
    page = dutch
    sign_in(page, contoso)
    page.goto(f"/users/{megan.public_id}/licenses/")
    tab_to(page, "Microsoft Entra ID P1 selecteren")
    page.keyboard.press("Space")
    tab_to(page, "Licentie verwijderen", back=True)
    page.keyboard.press("Enter")
    confirm = page.get_by_role("dialog")
    # The question names the license and the user; the focus is on Annuleren, the safe answer.
    expect(confirm).to_contain_text("Microsoft Entra ID P1 bij Megan Bowen verwijderen?")
    focused(page, "Annuleren")
    # Escape answers no: nothing changes, and the focus is back on the command.
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    focused(page, "Licentie verwijderen")
    assert UserLicense.objects.filter(user=megan).exists()
    page.keyboard.press("Enter")
    expect(confirm).to_be_visible()
    focused(page, "Annuleren")  # the focus is in the dialog, on the safe answer
    tab_to(page, "OK", back=True, exact=True)
    page.keyboard.press("Enter")
    expect(page.locator("#notifications")).to_contain_text(
        "Microsoft Entra ID P1 verwijderd bij Megan Bowen."
    )
    expect(page.locator("#user-licenses")).to_contain_text("Geen licenties.")
    assert not UserLicense.objects.filter(user=megan).exists()


def test_reprocess_a_product_by_keyboard(dutch, contoso, megan):
    page = dutch
    sign_in(page, contoso)
    page.goto(f"/licenses/products/{product('AAD_PREMIUM').sku_id}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Gelicentieerde gebruikers")
    tab_to(page, "Opnieuw verwerken")
    page.keyboard.press("Enter")
    expect(page.locator("#notifications")).to_contain_text(
        "De licentietoewijzingen van Microsoft Entra ID P1 zijn opnieuw verwerkt."
    )
