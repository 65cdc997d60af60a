"""Sign-in with the organization's account in Chromium, against a real OpenID Connect
provider (oidc-provider-mock on loopback) and its own page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from django.test import override_settings
from playwright.sync_api import expect

from licensing.models import AuditEvent
from tests import oidc
from tests.e2e.conftest import assert_accessible
from tests.factories import AccountFactory, RoleAssignmentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADMIN = "admin@contoso.onmicrosoft.com"


@pytest.fixture
def provider(page):
    with oidc.provider() as base, override_settings(**oidc.configured(base)):
        # The provider's page styles itself from a CDN; this machine has no internet.
        page.route(
            "https://cdn.jsdelivr.net/**",
            lambda route: route.fulfill(status=200, content_type="text/css", body=""),
        )
        yield base


def choose_on_the_provider(page, provider: str, sub: str) -> None:
    requests.put(
        f"{provider}/users/{sub}", json={"email": sub, "email_verified": True}, timeout=10
    ).raise_for_status()
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with your organization account").click()
    page.wait_for_url(f"{provider}/**")
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()


def test_a_global_administrator_signs_in_with_the_organization_account(page, provider, tenant):
    account = AccountFactory(username="admin", email=ADMIN)
    RoleAssignmentFactory(account=account, tenant=tenant, role="GlobalAdministrator")
    page.goto("/accounts/login/")
    assert_accessible(page)
    choose_on_the_provider(page, provider, ADMIN)
    page.wait_for_url("**/licenses/")
    overview = page.locator("#main").get_by_role("link", name="Overview")
    expect(overview).to_have_attribute("aria-current", "page")
    expect(page.locator(".topbar-account")).to_contain_text("Global administrator")
    assert AuditEvent.objects.filter(
        activity="Sign-in activity", details__method="organization account"
    ).exists()


def test_an_unknown_email_lands_on_the_refusal_page(page, provider, tenant):
    choose_on_the_provider(page, provider, "stranger@fabrikam.example")
    page.wait_for_url("**/accounts/refused/")
    expect(page.get_by_role("alert")).to_contain_text("stranger@fabrikam.example")
    assert_accessible(page)
    page.goto("/licenses/")
    page.wait_for_url("**/accounts/login/**")


def test_a_tampered_state_is_refused(page, provider, tenant):
    account = AccountFactory(username="admin", email=ADMIN)
    RoleAssignmentFactory(account=account, tenant=tenant, role="GlobalAdministrator")

    def forge(route):
        # The provider's answer to "Authorize" sends the browser back with the state; a
        # redirect is not routed again, so the state is changed in that answer.
        if route.request.method != "POST":
            return route.continue_()
        answer = route.fetch(max_redirects=0)
        back = urlparse(answer.headers["location"])
        query = {k: v[0] for k, v in parse_qs(back.query).items()}
        query["state"] = "forged" + query["state"]
        route.fulfill(
            status=302, headers={"Location": back._replace(query=urlencode(query)).geturl()}
        )

    page.route(f"{provider}/oauth2/authorize**", forge)
    choose_on_the_provider(page, provider, ADMIN)
    page.wait_for_load_state()
    expect(page.locator("body")).to_contain_text("could not be understood")
    page.console_problems.remove(
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    )
    page.goto("/licenses/")
    page.wait_for_url("**/accounts/login/**")  # not signed in


def test_with_password_sign_in_off_the_password_form_is_gone(page, provider, tenant, settings):
    settings.PASSWORD_SIGN_IN = False
    page.goto("/accounts/login/")
    expect(page.get_by_role("link", name="Sign in with your organization account")).to_be_visible()
    expect(page.locator("input[name=password]")).to_have_count(0)
