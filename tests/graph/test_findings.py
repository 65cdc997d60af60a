"""Findings of the outside security test against the Graph-compatible API and its token
endpoint (docs/api.md, "Limits"), one section per finding; each test fails when its fix is
reverted."""

from __future__ import annotations

import contextlib
import json
from urllib.parse import urlencode

import pytest

from licensing.models import AuditEvent
from tests.factories import DirectoryUserFactory
from tests.licensing.test_bad_input import snapshot

pytestmark = pytest.mark.django_db


def graph_error(reply) -> tuple[int, str]:
    assert reply["Content-Type"] == "application/json", reply.content[:200]
    body = reply.json()["error"]
    assert set(body["innerError"]) >= {"date", "request-id", "client-request-id"}
    return reply.status_code, body["code"]


def entra_error(reply) -> tuple[int, str]:
    assert reply["Content-Type"] == "application/json", reply.content[:200]
    body = reply.json()
    assert body["error_description"].startswith("AADSTS")
    return reply.status_code, body["error"]


# -- F6, F7, F9: hostile paths and numbers are Graph's 400, never a 500 --------------------------


@pytest.mark.parametrize("key", ["a\x00b", "\x00", "adele\x1b@contoso.com"])
def test_a_control_character_in_a_user_key_is_a_400(graph, key):
    call = graph()
    for url in (f"/v1.0/users/{key}", f"/v1.0/users/{key}/licenseDetails"):
        assert graph_error(call("GET", url)) == (400, "Request_BadRequest")


@pytest.mark.parametrize("top", ["²", "١٢", "1_0", " 5", "5 ", "9" * 30])
def test_top_must_be_ascii_digits(graph, top):
    assert graph_error(graph()("GET", f"/v1.0/users?{urlencode({'$top': top})}")) == (
        400,
        "Request_BadRequest",
    )


@pytest.mark.parametrize("tenant_part", ["a\x00b", "\x00", "contoso\x1b.onmicrosoft.com"])
def test_a_control_character_in_the_tenant_of_the_token_and_discovery_urls_is_a_400(
    client, tenant, tenant_part
):
    token = client.post(f"/{tenant_part}/oauth2/v2.0/token", {"grant_type": "client_credentials"})
    assert entra_error(token) == (400, "invalid_request")
    assert "\x00" not in token.json()["error_description"]
    discovery = client.get(f"/{tenant_part}/v2.0/.well-known/openid-configuration")
    assert entra_error(discovery)[0] == 400


# -- F8: bodies over the limit, or nested too deep, are Graph's own 413 and 400 -----------------


def test_a_body_under_four_megabytes_is_read_and_a_larger_one_is_413(graph, tenant):
    call = graph()
    person = DirectoryUserFactory(tenant=tenant)
    url = f"/v1.0/users/{person.public_id}/assignLicense"
    body = {"addLicenses": [], "removeLicenses": [], "pad": "x" * (3 * 1024 * 1024)}
    assert call("POST", url, body).status_code == 200
    before = snapshot()
    body["pad"] = "x" * (4 * 1024 * 1024)
    assert graph_error(call("POST", url, body)) == (413, "Request_EntityTooLarge")
    assert snapshot() == before


@pytest.mark.parametrize("depth", [100, 100_000])
def test_a_deeply_nested_body_is_a_400(graph, tenant, depth):
    call = graph()
    person = DirectoryUserFactory(tenant=tenant)
    nested = "[" * depth + "]" * depth
    reply = call(
        "POST",
        f"/v1.0/users/{person.public_id}/assignLicense",
        data=f'{{"addLicenses": [], "removeLicenses": {nested}}}',
        content_type="application/json",
    )
    assert graph_error(reply) == (400, "Request_BadRequest")


def test_nul_anywhere_in_a_body_is_a_400(graph, tenant):
    call = graph()
    person = DirectoryUserFactory(tenant=tenant)
    before = snapshot()
    reply = call("PATCH", f"/v1.0/users/{person.public_id}", {"usageLocation": "NL", "x": "\x00"})
    assert graph_error(reply) == (400, "Request_BadRequest")
    assert snapshot() == before


def test_a_form_body_over_the_limit_is_refused_in_each_protocols_shape(client, tenant):
    big = "x=" + "y" * (3 * 1024 * 1024)
    form = "application/x-www-form-urlencoded"
    token = client.post(f"/{tenant.initial_domain}/oauth2/v2.0/token", big, content_type=form)
    assert entra_error(token)[0] == 413
    api = client.post("/v1.0/users", big, content_type=form)
    assert graph_error(api)[0] in (401, 405, 413)
    huge = client.post("/v1.0/users", "y" * (7 * 1024 * 1024), content_type="application/json")
    assert graph_error(huge)[0] == 413
    scim = client.post(f"/scim/v2/{tenant.public_id}/Users", big, content_type=form)
    assert scim["Content-Type"] == "application/scim+json"
    assert json.loads(scim.content)["status"] in ("401", "413")
    assert AuditEvent.objects.count() == 0


# -- F11: wrong client secrets are throttled per client id and address, and audited ------------


def _token_request(client, tenant, client_id, secret, address="203.0.113.7"):
    return client.post(
        f"/{tenant.initial_domain}/oauth2/v2.0/token",
        {
            "grant_type": "client_credentials",
            "client_id": str(client_id),
            "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default",
        },
        REMOTE_ADDR=address,
    )


@pytest.fixture
def fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_wrong_secrets_are_throttled_per_client_id_and_address(client, tenant, app, fresh_cache):
    from portal.graph import auth

    registered, secret = app()
    other, other_secret = app()
    for _ in range(auth.TOKEN_FAILURE_LIMIT):
        assert _token_request(client, tenant, registered.client_id, "wrong").status_code == 401
    locked = _token_request(client, tenant, registered.client_id, secret)
    assert entra_error(locked) == (429, "temporarily_unavailable")
    assert int(locked["Retry-After"]) > 0
    # The same app from another address, and another app from this one, are not locked out.
    assert (
        _token_request(client, tenant, registered.client_id, secret, "192.0.2.44").status_code
        == 200
    )
    assert _token_request(client, tenant, other.client_id, other_secret).status_code == 200


def test_failed_token_requests_are_audited_with_the_address(client, tenant, app, fresh_cache):
    registered, _secret = app()
    _token_request(client, tenant, registered.client_id, "wrong")
    _token_request(client, tenant, "9a0e0000-0000-0000-0000-000000000000", "x")
    _token_request(client, tenant, "not-a-guid", "x")
    events = AuditEvent.objects.filter(activity="Sign-in activity", tenant=tenant).order_by("id")
    assert [e.details["result"] for e in events] == ["failure"] * 3
    assert {e.details["address"] for e in events} == {"203.0.113.7"}
    assert events[0].details["client_id"] == str(registered.client_id)
    assert events[0].actor_name == registered.actor
    assert "secret" in events[0].details["reason"]


# -- F13: the token endpoint never names the tenant to an anonymous caller ---------------------


def test_token_errors_keep_entras_codes_without_the_tenants_name(client, tenant, app, fresh_cache):
    tenant.name = "Contoso Confidential Holdings"
    tenant.save()
    registered, _secret = app()
    for client_id in ("9a0e0000-0000-0000-0000-000000000000", "not-a-guid"):
        reply = _token_request(client, tenant, client_id, "x")
        assert entra_error(reply) == (400, "unauthorized_client")
        assert "AADSTS700016" in reply.json()["error_description"]
        assert "Confidential" not in reply.content.decode()
    wrong = _token_request(client, tenant, registered.client_id, "x")
    assert "Confidential" not in wrong.content.decode()


# -- F14: the $skiptoken is opaque: it reveals no global row id ---------------------------------


def _decodings(token: str) -> bytes:
    """Whatever base64 in the token decodes to (a signed value reads as its payload)."""
    import base64
    import zlib

    found = b""
    for part in token.replace(".", ":").split(":"):
        for padded in (part, part + "=", part + "=="):
            try:
                raw = base64.urlsafe_b64decode(padded)
            except ValueError:
                continue
            found += raw
            with contextlib.suppress(zlib.error):
                found += zlib.decompress(raw)
    return found


def test_the_skiptoken_reveals_no_global_row_id_and_works_only_where_it_was_issued(graph, tenant):
    from urllib.parse import parse_qs, urlsplit

    from licensing.models import DirectoryUser
    from tests.factories import TenantFactory

    elsewhere = TenantFactory(initial_domain="fabrikam.onmicrosoft.com")
    DirectoryUser.objects.bulk_create(
        DirectoryUser(tenant=elsewhere, user_principal_name=f"u{i}@fabrikam.com", display_name="U")
        for i in range(150)
    )
    DirectoryUserFactory.create_batch(3, tenant=tenant)
    call = graph()
    first = call("GET", "/v1.0/users?$top=1").json()
    token = parse_qs(urlsplit(first["@odata.nextLink"]).query)["$skiptoken"][0]
    row = DirectoryUser.objects.get(public_id=first["value"][0]["id"]).pk
    assert row > 150
    assert str(row).encode() not in _decodings(token) and str(row) not in token
    again = call("GET", "/v1.0/users?$top=1").json()["@odata.nextLink"]
    assert parse_qs(urlsplit(again).query)["$skiptoken"][0] != token  # not a fixed mapping
    second = call("GET", first["@odata.nextLink"]).json()
    assert second["value"][0]["id"] != first["value"][0]["id"]
    # Another tenant's app, or another listing, cannot use it.
    theirs = graph(on=elsewhere)
    assert graph_error(theirs("GET", first["@odata.nextLink"]))[0] == 400
    group_members = call("GET", "/v1.0/groups?$skiptoken=" + token)
    assert graph_error(group_members)[0] == 400
