"""Sign-in with the organization's account against a real OpenID Connect provider
(oidc-provider-mock on loopback): the portal's side of the flow, request by request."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY, get_user_model
from django.test import override_settings

from licensing.models import AuditEvent, Role, RoleAssignment
from tests import oidc

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def provider():
    with oidc.provider() as base:
        yield base


@pytest.fixture
def configured(provider):
    with override_settings(**oidc.configured(provider)):
        yield provider


@pytest.fixture
def admin_account(tenant):
    account = get_user_model().objects.create_user(
        "admin", email="admin@contoso.onmicrosoft.com", password="not-used"
    )
    RoleAssignment.objects.create(account=account, tenant=tenant, role=Role.GLOBAL_ADMINISTRATOR)
    return account


def sign_in(client, provider: str, sub: str, claims: dict | None = None):
    """Start at the portal, choose ``sub`` on the provider's page, come back to the callback."""
    claims = claims or {"email": sub, "email_verified": True}
    requests.put(f"{provider}/users/{sub}", json=claims, timeout=10).raise_for_status()
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302 and start["Location"].startswith(provider)
    query = parse_qs(urlparse(start["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"]  # PKCE and a nonce
    chosen = requests.post(start["Location"], data={"sub": sub}, allow_redirects=False, timeout=10)
    assert chosen.status_code == 302, chosen.text
    return client.get(chosen.headers["Location"].removeprefix("http://testserver"))


def test_an_account_with_a_role_signs_in_and_it_is_audited(client, configured, admin_account):
    response = sign_in(client, configured, "admin@contoso.onmicrosoft.com")
    assert response.status_code == 302 and response["Location"] == "/"
    assert int(client.session[SESSION_KEY]) == admin_account.id
    admin_account.refresh_from_db()
    assert admin_account.last_login is not None
    event = AuditEvent.objects.get(activity="Sign-in activity")
    assert event.details == {"method": "organization account", "result": "success"}
    assert event.actor_id == admin_account.id
    assert client.get("/licenses/").status_code == 200


def test_an_expired_id_token_goes_back_to_the_provider_silently(client, configured, admin_account):
    sign_in(client, configured, "admin@contoso.onmicrosoft.com")
    session = client.session
    session["oidc_id_token_expiration"] = 0
    session.save()
    again = client.get("/licenses/")
    assert again.status_code == 302 and again["Location"].startswith(configured)
    assert parse_qs(urlparse(again["Location"]).query)["prompt"] == ["none"]
    # htmx fragments are not sent away: the next full page is.
    assert client.get("/licenses/", headers={"HX-Request": "true"}).status_code == 200


@pytest.mark.parametrize("case", ["unknown", "no role", "unverified"])
def test_a_refused_identity_gets_the_refusal_page_and_no_session(
    client, configured, admin_account, case
):
    sub, claims = "admin@contoso.onmicrosoft.com", None
    if case == "unknown":
        sub = "stranger@fabrikam.example"
    elif case == "no role":
        RoleAssignment.objects.all().delete()
    else:
        claims = {"email": sub, "email_verified": False}
    response = sign_in(client, configured, sub, claims)
    assert response.status_code == 302 and response["Location"] == "/accounts/refused/"
    assert SESSION_KEY not in client.session
    page = client.get("/accounts/refused/")
    assert page.status_code == 200
    if case != "unverified":
        assert sub in page.content.decode()
    event = AuditEvent.objects.get(activity="Sign-in activity")
    assert event.details == {
        "method": "organization account",
        "result": "failure",
        "reason": {
            "unknown": "no active account with this e-mail",
            "no role": "no role in any organization",
            "unverified": "e-mail not verified by the provider",
        }[case],
    }
    # Not a password failure: nobody at this address is locked out of the password form.
    assert not AccessAttempt.objects.exists()
    assert client.get("/").status_code == 302  # still signed out


def test_a_tampered_state_is_refused(client, configured, admin_account):
    start = client.get("/oidc/authenticate/")
    chosen = requests.post(
        start["Location"], data={"sub": "admin@contoso.onmicrosoft.com"}, allow_redirects=False
    )
    callback = chosen.headers["Location"].removeprefix("http://testserver")
    query = parse_qs(urlparse(callback).query)
    forged = f"/oidc/callback/?code={query['code'][0]}&state=forged{query['state'][0]}"
    assert client.get(forged).status_code == 400
    assert SESSION_KEY not in client.session
    assert AuditEvent.objects.get(activity="Sign-in activity").details["result"] == "failure"


def test_a_tampered_nonce_is_refused(client, configured, admin_account):
    start = client.get("/oidc/authenticate/")
    session = client.session
    for state in session["oidc_states"].values():
        state["nonce"] = "not-the-nonce-the-provider-signed"
    session.save()
    chosen = requests.post(
        start["Location"], data={"sub": "admin@contoso.onmicrosoft.com"}, allow_redirects=False
    )
    response = client.get(chosen.headers["Location"].removeprefix("http://testserver"))
    assert response.status_code == 400
    assert SESSION_KEY not in client.session
    assert AuditEvent.objects.get(activity="Sign-in activity").details["result"] == "failure"


def test_without_configuration_there_is_no_organization_sign_in(client):
    assert client.get("/oidc/authenticate/").status_code == 404
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with your organization account" not in page
    assert 'name="password"' in page


def test_with_password_sign_in_off_only_the_organization_account_signs_in(
    client, configured, admin_account, settings
):
    settings.PASSWORD_SIGN_IN = False
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with your organization account" in page
    assert 'name="password"' not in page
    posted = client.post("/accounts/login/", {"username": "admin", "password": "not-used"})
    assert posted.status_code == 403 and SESSION_KEY not in client.session
    admin_posted = client.post("/admin/login/", {"username": "admin", "password": "not-used"})
    assert admin_posted.status_code == 403 and SESSION_KEY not in client.session
    assert client.get("/admin/login/")["Location"].startswith("/accounts/login/")
    assert sign_in(client, configured, "admin@contoso.onmicrosoft.com")["Location"] == "/"


def test_a_password_sign_in_is_audited_with_its_method(client, admin_account):
    client.post("/accounts/login/", {"username": "admin", "password": "wrong"})
    client.post("/accounts/login/", {"username": "admin", "password": "not-used"})
    assert [e.details for e in AuditEvent.objects.order_by("id")] == [
        {"method": "password", "result": "failure"},
        {"method": "password", "result": "success"},
    ]


# -- Findings of the outside security test (F1, F2, F19) ------------------------------------


def refused_with(client, response, reason: str) -> str:
    """Assert a refusal (the refusal page, no session, audited with ``reason``); its text."""
    assert response.status_code == 302 and response["Location"] == "/accounts/refused/"
    assert SESSION_KEY not in client.session
    event = AuditEvent.objects.filter(activity="Sign-in activity").latest("id")
    assert event.details == {
        "method": "organization account",
        "result": "failure",
        "reason": reason,
    }
    page = client.get("/accounts/refused/")
    assert page.status_code == 200
    return page.content.decode()


@pytest.mark.parametrize("verified", ["false", "False", 0, "true", 1, None])
def test_email_verified_counts_only_as_json_true(client, configured, admin_account, verified):
    """F1: only a JSON ``true`` says the e-mail is verified; any other value present refuses."""
    sub = "admin@contoso.onmicrosoft.com"
    response = sign_in(client, configured, sub, {"email": sub, "email_verified": verified})
    page = refused_with(client, response, "e-mail not verified by the provider")
    # The audit log names who tried; the page does not pretend the e-mail was theirs.
    assert AuditEvent.objects.get(activity="Sign-in activity").target_name == sub
    assert sub not in page


@pytest.mark.parametrize(
    "email",
    [
        ["admin@contoso.onmicrosoft.com"],
        "admin@contoso.onmicrosoft.com\x00",
        "admin\x00@contoso.onmicrosoft.com",
        42,
        {"address": "admin@contoso.onmicrosoft.com"},
        "a" * 250 + "@contoso.onmicrosoft.com",
        "",
    ],
    ids=["list", "trailing NUL", "NUL", "number", "object", "too long", "empty"],
)
def test_an_email_claim_that_is_not_one_clean_string_is_refused(
    client, configured, admin_account, email
):
    """F19: a NUL in the e-mail, or an e-mail that is no string, was a 500."""
    response = sign_in(client, configured, "odd", {"email": email, "email_verified": True})
    page = refused_with(client, response, "no usable e-mail in the claims")
    assert "\x00" not in page


def test_the_first_sign_in_binds_the_account_to_its_identity(client, configured, admin_account):
    from licensing.models import AccountIdentity

    sub = "admin@contoso.onmicrosoft.com"
    assert sign_in(client, configured, sub)["Location"] == "/"
    identity = AccountIdentity.objects.get(account=admin_account)
    assert (identity.issuer, identity.subject, identity.tenant_id) == (configured, sub, "")
    event = AuditEvent.objects.get(activity="Bind sign-in identity")
    assert event.actor_id == admin_account.id and event.target_name == "admin"
    assert event.details == {"issuer": configured, "subject": sub, "tenant_id": ""}
    # Signing in again is the same identity: nothing new is bound.
    client.logout()
    assert sign_in(client, configured, sub)["Location"] == "/"
    assert AccountIdentity.objects.count() == 1
    assert AuditEvent.objects.filter(activity="Bind sign-in identity").count() == 1


def test_another_identity_with_a_bound_accounts_email_is_refused(client, configured, admin_account):
    """F2: a second identity at the provider asserting an admin's (verified) e-mail signed in
    as that admin."""
    email = "admin@contoso.onmicrosoft.com"
    assert sign_in(client, configured, email)["Location"] == "/"
    client.logout()
    response = sign_in(client, configured, "intruder", {"email": email, "email_verified": True})
    page = refused_with(client, response, "account is bound to another identity")
    assert "linked to another organization account" in page
    assert AuditEvent.objects.filter(activity="Sign-in activity").latest("id").actor is None


def test_without_email_verified_only_the_first_identity_signs_in(client, configured, admin_account):
    """F2, Entra ID: it sends no ``email_verified``; the e-mail binds an unbound account at its
    first sign-in, and from then on only that identity (issuer, subject, tenant) signs in."""
    from licensing.models import AccountIdentity

    email, tid = "admin@contoso.onmicrosoft.com", "72f988bf-86f1-41af-91ab-2d7cd011db47"
    first = sign_in(client, configured, "entra-oid-1", {"email": email, "tid": tid})
    assert first["Location"] == "/"
    assert int(client.session[SESSION_KEY]) == admin_account.id
    assert AccountIdentity.objects.get(account=admin_account).tenant_id == tid
    client.logout()
    second = sign_in(client, configured, "entra-oid-2", {"email": email, "tid": tid})
    refused_with(client, second, "account is bound to another identity")
    # The same subject in another tenant is another identity too.
    third = sign_in(client, configured, "entra-oid-1", {"email": email, "tid": "another-tenant"})
    refused_with(client, third, "account is bound to another identity")


def test_a_bound_identity_keeps_its_account_when_its_email_changes(
    client, configured, admin_account
):
    sub = "admin@contoso.onmicrosoft.com"
    assert sign_in(client, configured, sub)["Location"] == "/"
    client.logout()
    renamed = {"email": "a.dmin@contoso.example", "email_verified": True}
    assert sign_in(client, configured, sub, renamed)["Location"] == "/"
    assert int(client.session[SESSION_KEY]) == admin_account.id


def test_allowed_issuers_restrict_who_is_matched(client, configured, admin_account, settings):
    sub = "admin@contoso.onmicrosoft.com"
    settings.OIDC_ALLOWED_ISSUERS = ["https://login.microsoftonline.com/x/v2.0"]
    refused_with(client, sign_in(client, configured, sub), "issuer not allowed")
    settings.OIDC_ALLOWED_ISSUERS = [configured]
    assert sign_in(client, configured, sub)["Location"] == "/"


def test_allowed_tenant_ids_restrict_who_is_matched(client, configured, admin_account, settings):
    email, tid = "admin@contoso.onmicrosoft.com", "72f988bf-86f1-41af-91ab-2d7cd011db47"
    settings.OIDC_ALLOWED_TENANT_IDS = [tid]
    refused_with(client, sign_in(client, configured, email), "tenant not allowed")
    other = {"email": email, "email_verified": True, "tid": "another-tenant"}
    refused_with(client, sign_in(client, configured, email, other), "tenant not allowed")
    ours = {"email": email, "email_verified": True, "tid": tid.upper()}
    assert sign_in(client, configured, email, ours)["Location"] == "/"


def test_an_unbound_account_signs_in_again_with_a_new_identity(client, configured, admin_account):
    """How support moves an account to a new identity: unbind it (the Django admin's action),
    and the next identity with its e-mail binds it."""
    from licensing.services.accounts import identity_unbind

    email = "admin@contoso.onmicrosoft.com"
    assert sign_in(client, configured, email)["Location"] == "/"
    client.logout()
    identity_unbind(account=admin_account, actor=None)
    moved = sign_in(client, configured, "new-identity", {"email": email, "email_verified": True})
    assert moved["Location"] == "/"
    assert admin_account.identity.subject == "new-identity"
