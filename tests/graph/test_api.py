"""The API's contract (docs/api.md) through Django's test client: shapes, queries, paging,
errors, permissions, isolation, tokens. Every refused call changes nothing."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.cache import cache

from licensing import services
from licensing.models import AuditEvent, GroupMembership, LicenseAssignment, UserLicense
from portal.graph import auth
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, plan_id, product

pytestmark = pytest.mark.django_db
E3 = "ENTERPRISEPACK"


def sku(name: str) -> str:
    return str(product(name).sku_id)


def assign_body(*skus, remove=(), disabled=None):
    return {
        "addLicenses": [{"skuId": sku(s), "disabledPlans": disabled or []} for s in skus],
        "removeLicenses": [sku(s) for s in remove],
    }


def error_of(reply):
    body = reply.json()["error"]
    assert set(body["innerError"]) >= {"date", "request-id", "client-request-id"}
    return reply.status_code, body["code"], body.get("innerError", {}).get("code")


def snapshot():
    return (
        sorted(UserLicense.objects.values_list("user_id", "product_id", "state", "error")),
        sorted(LicenseAssignment.objects.values_list("user_id", "group_id", "product_id")),
        sorted(GroupMembership.objects.values_list("user_id", "group_id")),
    )


# -- tokens -------------------------------------------------------------------------------------


def test_the_token_endpoint_answers_like_entra(client, app, tenant):
    registered, secret = app()
    url = f"/{tenant.public_id}/oauth2/v2.0/token"
    good = {
        "grant_type": "client_credentials",
        "client_id": str(registered.client_id),
        "client_secret": secret,
        "scope": "https://graph.microsoft.com/.default",
    }
    reply = client.post(url, good)
    assert reply.status_code == 200
    assert set(reply.json()) >= {"token_type", "expires_in", "access_token"}
    assert (reply.json()["token_type"], reply.json()["expires_in"]) == ("Bearer", 3599)
    assert client.post(url, {**good, "client_secret": "x"}).json()["error"] == "invalid_client"
    assert client.post(url, {**good, "scope": "openid"}).json()["error"] == "invalid_scope"
    assert (
        client.post(url, {**good, "grant_type": "password"}).json()["error"]
        == "unsupported_grant_type"
    )
    assert client.post("/nowhere.example/oauth2/v2.0/token", good).status_code == 400
    other = TenantFactory(initial_domain="fabrikam.onmicrosoft.com")
    # Another tenant's URL with this app's credentials: not an app of that directory.
    elsewhere = client.post(f"/{other.initial_domain}/oauth2/v2.0/token", good)
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (400, "unauthorized_client")
    discovery = client.get(f"/{tenant.initial_domain}/v2.0/.well-known/openid-configuration")
    assert discovery.json()["token_endpoint"].endswith(f"/{tenant.public_id}/oauth2/v2.0/token")


def test_a_token_lasts_an_hour_and_dies_with_its_app(graph, monkeypatch):
    call = graph()
    assert call("GET", "/v1.0/users").status_code == 200
    later = auth.clock() + datetime.timedelta(minutes=59)
    monkeypatch.setattr(auth, "clock", lambda: later)
    assert call("GET", "/v1.0/users").status_code == 200
    expired = later + datetime.timedelta(minutes=2)
    monkeypatch.setattr(auth, "clock", lambda: expired)
    assert error_of(call("GET", "/v1.0/users"))[:2] == (401, "InvalidAuthenticationToken")
    monkeypatch.setattr(auth, "clock", lambda: later)
    services.app_revoke(tenant=call.app.tenant, app=call.app, actor=None)
    assert error_of(call("GET", "/v1.0/users"))[:2] == (401, "InvalidAuthenticationToken")
    assert AuditEvent.objects.filter(activity="Remove service principal credentials").exists()


def test_no_token_or_a_forged_one_is_401(client, graph):
    assert error_of(client.get("/v1.0/users"))[:2] == (401, "InvalidAuthenticationToken")
    call = graph()
    head, claims, _ = call.token.split(".")
    forged = f"{head}.{claims}.c2lnbmF0dXJl"
    reply = client.get("/v1.0/users", HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert error_of(reply)[:2] == (401, "InvalidAuthenticationToken")


# -- isolation and permissions ------------------------------------------------------------------


def test_another_tenants_ids_are_not_found_and_nothing_changes(graph, buy, tenant):
    buy(E3, 5)
    other = TenantFactory(initial_domain="fabrikam.onmicrosoft.com")
    stranger = DirectoryUserFactory(tenant=other)
    their_group = GroupFactory(tenant=other)
    mine = DirectoryUserFactory(tenant=tenant)
    my_group = GroupFactory(tenant=tenant)
    call = graph()
    before = snapshot()
    for method, url, body in [
        ("GET", f"/v1.0/users/{stranger.public_id}", None),
        ("GET", f"/v1.0/users/{stranger.user_principal_name}", None),
        ("POST", f"/v1.0/users/{stranger.public_id}/assignLicense", assign_body(E3)),
        ("PATCH", f"/v1.0/users/{stranger.public_id}", {"usageLocation": "US"}),
        ("GET", f"/v1.0/groups/{their_group.public_id}", None),
        ("POST", f"/v1.0/groups/{their_group.public_id}/assignLicense", assign_body(E3)),
        ("GET", f"/v1.0/groups/{their_group.public_id}/members", None),
        (
            "POST",
            f"/v1.0/groups/{my_group.public_id}/members/$ref",
            {
                "@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{stranger.public_id}"
            },
        ),
        ("DELETE", f"/v1.0/groups/{my_group.public_id}/members/{stranger.public_id}/$ref", None),
        ("GET", f"/v1.0/subscribedSkus/{other.public_id}_{sku(E3)}", None),
    ]:
        assert error_of(call(method, url, body))[:2] == (404, "Request_ResourceNotFound"), url
    listed = call("GET", "/v1.0/users?$top=999").json()["value"]
    assert [u["id"] for u in listed] == [str(mine.public_id)]
    assert snapshot() == before


def test_a_read_only_app_reads_and_every_change_is_403(graph, buy, users):
    buy(E3, 5)
    (person,) = users(1)
    group = GroupFactory(tenant=person.tenant)
    call = graph(read_only=True)
    assert call("GET", "/v1.0/subscribedSkus").status_code == 200
    before = snapshot()
    for method, url, body in [
        ("POST", f"/v1.0/users/{person.public_id}/assignLicense", assign_body(E3)),
        ("POST", f"/v1.0/users/{person.public_id}/reprocessLicenseAssignment", {}),
        ("PATCH", f"/v1.0/users/{person.public_id}", {"usageLocation": "US"}),
        ("POST", f"/v1.0/groups/{group.public_id}/assignLicense", assign_body(E3)),
        ("DELETE", f"/v1.0/groups/{group.public_id}/members/{person.public_id}/$ref", None),
    ]:
        assert error_of(call(method, url, body))[:2] == (403, "Authorization_RequestDenied")
    assert snapshot() == before


# -- users --------------------------------------------------------------------------------------


def test_assign_license_is_all_or_nothing_and_swaps_in_one_call(graph, buy, users):
    buy(E3, 1)
    buy("STANDARDPACK", 1)
    a, b = users(2)
    call = graph()
    reply = call("POST", f"/v1.0/users/{a.public_id}/assignLicense", assign_body(E3))
    assert reply.status_code == 200 and reply.json()["id"] == str(a.public_id)
    before = snapshot()
    # The one E3 seat is taken: b gets neither product.
    reply = call(
        "POST", f"/v1.0/users/{b.public_id}/assignLicense", assign_body("STANDARDPACK", E3)
    )
    assert error_of(reply) == (400, "Request_BadRequest", "CountViolation")
    assert sku(E3) in reply.json()["error"]["message"]
    assert snapshot() == before
    # A swap: E1 in, E3 out, in one call; the namespaced name works too.
    reply = call(
        "POST",
        f"/v1.0/users/{a.public_id}/microsoft.graph.assignLicense",
        assign_body("STANDARDPACK", remove=[E3]),
    )
    assert reply.status_code == 200
    got = call("GET", f"/v1.0/users/{a.public_id}?$select=assignedLicenses").json()
    assert [x["skuId"] for x in got["assignedLicenses"]] == [sku("STANDARDPACK")]
    event = AuditEvent.objects.filter(activity="Change user license").latest("id")
    assert event.actor_name == call.app.actor and event.actor is None


def test_assign_license_bodies_graph_refuses(graph, buy, users):
    buy(E3, 5)
    (person,) = users(1)
    call = graph()
    url = f"/v1.0/users/{person.public_id}/assignLicense"
    before = snapshot()
    missing_remove = call("POST", url, {"addLicenses": [{"skuId": sku(E3)}]})
    assert error_of(missing_remove)[:2] == (400, "Request_BadRequest")
    assert "removeLicenses" in missing_remove.json()["error"]["message"]
    unknown = call("POST", url, {"addLicenses": [{"skuId": "not-a-guid"}], "removeLicenses": []})
    assert error_of(unknown)[0] == 400
    not_bought = call("POST", url, assign_body("EMS"))
    assert error_of(not_bought)[0] == 400
    conflicting = call(
        "POST",
        url,
        {
            "addLicenses": [{"skuId": sku(E3)}, {"skuId": sku("EXCHANGESTANDARD")}],
            "removeLicenses": [],
        },
    )
    assert error_of(conflicting)[0] == 400
    added_and_removed = call(
        "POST", url, {"addLicenses": [{"skuId": sku(E3)}], "removeLicenses": [sku(E3)]}
    )
    assert error_of(added_and_removed)[:2] == (400, "Request_BadRequest")
    assert "added and removed" in added_and_removed.json()["error"]["message"]
    not_json = call("POST", url, None)
    assert error_of(not_json)[0] in (400, 415)
    assert snapshot() == before
    # A missing disabledPlans is [].
    reply = call("POST", url, {"addLicenses": [{"skuId": sku(E3)}], "removeLicenses": []})
    assert reply.status_code == 200
    states = call("GET", f"{url.rsplit('/', 1)[0]}?$select=licenseAssignmentStates").json()
    assert states["licenseAssignmentStates"][0]["disabledPlans"] == []


def test_an_inherited_license_cannot_be_removed_directly(graph, buy, users):
    buy(E3, 5)
    (person,) = users(1)
    group = GroupFactory(tenant=person.tenant)
    services.group_add_members(tenant=person.tenant, group=group, users=[person], actor=None)
    services.group_assign_products(
        tenant=person.tenant, group=group, products={product(E3): []}, actor=None
    )
    call = graph()
    reply = call(
        "POST",
        f"/v1.0/users/{person.public_id}/assignLicense",
        {"addLicenses": [], "removeLicenses": [sku(E3)]},
    )
    assert error_of(reply)[:2] == (400, "Request_BadRequest")
    assert "inherited from group membership" in reply.json()["error"]["message"]
    got = call("GET", f"/v1.0/users/{person.public_id}?$select=licenseAssignmentStates").json()
    assert got["licenseAssignmentStates"][0]["assignedByGroup"] == str(group.public_id)


def test_usage_location_patch_and_licensed_user_filters(graph, buy, users):
    buy(E3, 5)
    a, b, c = users(3)
    call = graph()
    assert call("PATCH", f"/v1.0/users/{a.public_id}", {"usageLocation": "US"}).status_code == 204
    reply = call("PATCH", f"/v1.0/users/{a.public_id}", {"usageLocation": "XX"})
    assert error_of(reply)[:2] == (400, "Request_BadRequest")
    call("POST", f"/v1.0/users/{b.public_id}/assignLicense", assign_body(E3))

    def ids(query):
        reply = call("GET", f"/v1.0/users?{query}")
        assert reply.status_code == 200, reply.json()
        return {u["id"] for u in reply.json()["value"]}

    assert ids(f"$filter=assignedLicenses/any(x:x/skuId eq {sku(E3)})") == {str(b.public_id)}
    assert ids("$filter=assignedLicenses/$count ne 0") == {str(b.public_id)}
    assert ids("$filter=assignedLicenses/$count eq 0") == {str(a.public_id), str(c.public_id)}
    assert ids("$filter=usageLocation eq 'US'") == {str(a.public_id)}
    assert ids(f"$filter=userPrincipalName eq '{c.user_principal_name.upper()}'") == {
        str(c.public_id)
    }
    assert ids(
        f"$filter=usageLocation eq 'US' and userPrincipalName eq '{a.user_principal_name}'"
    ) == {str(a.public_id)}
    for bad in ["displayName eq 'x'", "usageLocation eq", "endswith(displayName,'a')"]:
        reply = call("GET", f"/v1.0/users?$filter={bad}")
        assert error_of(reply)[0] == 400, bad
    by_upn = call("GET", f"/v1.0/users/{a.user_principal_name}?$select=usageLocation").json()
    assert by_upn["usageLocation"] == "US"


def test_paging_select_and_top(graph, users):
    people = users(7)
    call = graph()
    seen, url = [], "/v1.0/users?$select=id,usageLocation&$top=3"
    while url:
        body = call("GET", url).json()
        assert all(set(u) == {"id", "usageLocation"} for u in body["value"])
        seen += [u["id"] for u in body["value"]]
        url = body.get("@odata.nextLink", "").removeprefix("http://testserver")
    assert sorted(seen) == sorted(str(p.public_id) for p in people)
    assert error_of(call("GET", "/v1.0/users?$top=1000"))[0] == 400
    assert error_of(call("GET", "/v1.0/users?$top=0"))[0] == 400
    assert error_of(call("GET", "/v1.0/users?$select=password"))[0] == 400
    assert error_of(call("GET", "/v1.0/users?$skiptoken=forged"))[0] == 400
    default = call("GET", "/v1.0/users").json()
    assert "@odata.nextLink" not in default and len(default["value"]) == 7
    assert "userPrincipalName" in default["value"][0]


def test_soft_deleted_users_are_not_listed(graph, users):
    a, b = users(2)
    services.user_soft_delete(tenant=a.tenant, user=a, actor=None)
    call = graph()
    assert [u["id"] for u in call("GET", "/v1.0/users").json()["value"]] == [str(b.public_id)]
    assert error_of(call("GET", f"/v1.0/users/{a.public_id}"))[0] == 404


# -- groups -------------------------------------------------------------------------------------


def test_group_assign_license_is_accepted_and_processed(graph, buy, users):
    buy(E3, 1)
    a, b = users(2)
    group = GroupFactory(tenant=a.tenant, name="Sales")
    call = graph()
    for who in (a, b):
        reply = call(
            "POST",
            f"/v1.0/groups/{group.public_id}/members/$ref",
            {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{who.public_id}"},
        )
        assert reply.status_code == 204
    again = call(
        "POST",
        f"/v1.0/groups/{group.public_id}/members/$ref",
        {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{a.public_id}"},
    )
    assert error_of(again)[0] == 400
    reply = call(
        "POST",
        f"/v1.0/groups/{group.public_id}/assignLicense",
        assign_body(E3, disabled=[plan_id("YAMMER_ENTERPRISE")]),
    )
    assert reply.status_code == 202
    assert reply["Location"] == f"http://testserver/v1.0/groups/{group.public_id}"
    got = call(
        "GET", f"/v1.0/groups/{group.public_id}?$select=assignedLicenses,licenseProcessingState"
    ).json()
    assert got["assignedLicenses"] == [
        {"disabledPlans": [plan_id("YAMMER_ENTERPRISE")], "skuId": sku(E3)}
    ]
    assert got["licenseProcessingState"] == {"state": "ProcessingComplete"}
    errors = call("GET", f"/v1.0/groups/{group.public_id}/membersWithLicenseErrors").json()
    assert [(m["@odata.type"], m["id"]) for m in errors["value"]] == [
        ("#microsoft.graph.user", str(b.public_id))
    ]
    flagged = call("GET", "/v1.0/groups?$filter=hasMembersWithLicenseErrors eq true").json()
    assert [g["id"] for g in flagged["value"]] == [str(group.public_id)]
    reply = call("DELETE", f"/v1.0/groups/{group.public_id}/members/{a.public_id}/$ref")
    assert reply.status_code == 204
    # a's seat went to b, who waited.
    errors = call("GET", f"/v1.0/groups/{group.public_id}/membersWithLicenseErrors").json()
    assert errors["value"] == []
    gone = call("DELETE", f"/v1.0/groups/{group.public_id}/members/{a.public_id}/$ref")
    assert error_of(gone)[0] == 404


def test_subscribed_skus_match_the_all_products_counts(graph, buy, users):
    buy(E3, 3)
    buy(E3, 2, status="Warning")
    buy("EMS", 4, status="Suspended")
    (person,) = users(1)
    services.product_assign_to_users(
        tenant=person.tenant, product=product(E3), users=[person], actor=None
    )
    call = graph()
    skus = {s["skuPartNumber"]: s for s in call("GET", "/v1.0/subscribedSkus").json()["value"]}
    assert skus[E3]["prepaidUnits"] == {"enabled": 3, "warning": 2, "suspended": 0, "lockedOut": 0}
    assert skus[E3]["consumedUnits"] == 1 and skus[E3]["capabilityStatus"] == "Enabled"
    assert skus["EMS"]["capabilityStatus"] == "Suspended"
    one = call("GET", f"/v1.0/subscribedSkus/{skus[E3]['id']}").json()
    assert one["skuPartNumber"] == E3


# -- the envelope everywhere --------------------------------------------------------------------


def test_every_failure_under_v1_is_graphs_json(graph, client):
    call = graph()
    assert error_of(call("GET", "/v1.0/nothing/here"))[:2] == (404, "Request_ResourceNotFound")
    assert error_of(call("DELETE", "/v1.0/users"))[0] == 405
    reply = call("GET", "/v1.0/users?$filter=userPrincipalName eq 'a\x00b'")
    assert reply.status_code == 400 and reply["Content-Type"] == "application/json"
    assert error_of(client.get("/v1.0/"))[0] == 404


def test_an_unexpected_failure_is_a_500_in_the_envelope(graph, monkeypatch):
    from portal.graph import shapes

    call = graph()
    monkeypatch.setattr(shapes, "subscribed_skus", lambda *a: 1 / 0)
    assert error_of(call("GET", "/v1.0/subscribedSkus"))[:2] == (500, "generalException")


def test_an_app_over_its_rate_is_told_when_to_retry(graph, settings):
    cache.clear()
    settings.GRAPH_RATE_LIMIT = 3
    call = graph()
    for _ in range(3):
        assert call("GET", "/v1.0/users").status_code == 200
    reply = call("GET", "/v1.0/users")
    assert reply.status_code == 429 and int(reply["Retry-After"]) >= 1
    assert json.loads(reply.content)["error"]["code"] == "TooManyRequests"
    other = graph()  # another app has its own allowance
    assert other("GET", "/v1.0/users").status_code == 200
