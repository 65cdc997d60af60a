"""``POST /v1.0/$batch`` (docs/api.md, "Batch"): Graph's JSON batching through Django's test
client. Each request of a batch answers as it would alone: its own status, permission, rate,
audit event; a malformed batch is one 400 and changes nothing."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from licensing.models import AuditEvent, UserLicense
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory
from tests.graph.test_api import E3, assign_body, error_of, sku, snapshot

pytestmark = pytest.mark.django_db
URL = "/v1.0/$batch"
JSON = {"Content-Type": "application/json"}


def assign(n, person, *skus, remove=()):
    return {
        "id": str(n),
        "method": "POST",
        "url": f"/users/{person.public_id}/assignLicense",
        "body": assign_body(*skus, remove=remove),
        "headers": JSON,
    }


def answers(reply) -> dict[str, dict]:
    assert reply.status_code == 200, reply.content
    assert reply["Content-Type"] == "application/json"
    return {answer["id"]: answer for answer in reply.json()["responses"]}


def held(person) -> set[str]:
    return set(
        UserLicense.objects.filter(user=person).values_list("product__sku_part_number", flat=True)
    )


def test_a_batch_of_reads_and_writes_answers_each_with_its_own_status(graph, buy, users):
    buy(E3, 1)
    first, second = users(2)
    call = graph()
    reply = call(
        "POST",
        URL,
        {
            "requests": [
                {"id": "skus", "method": "GET", "url": "/subscribedSkus"},
                assign("1", first, E3),
                {
                    "id": "2",
                    "method": "get",
                    "url": f"users/{first.public_id}?$select=id,assignedLicenses",
                },
                # No seat left: this one alone is refused.
                assign("3", second, E3),
                {"id": "4", "method": "GET", "url": "/users/00000000-0000-0000-0000-000000000001"},
                {"id": "5", "method": "GET", "url": "/nowhere"},
                {
                    "id": "6",
                    "method": "PATCH",
                    "url": f"/users/{second.public_id}",
                    "body": {"usageLocation": "BE"},
                    "headers": {**JSON, "client-request-id": "mine"},
                },
            ]
        },
    )
    found = answers(reply)
    assert [a["id"] for a in reply.json()["responses"]] == ["skus", "1", "2", "3", "4", "5", "6"]
    assert {k: a["status"] for k, a in found.items()} == {
        "skus": 200,
        "1": 200,
        "2": 200,
        "3": 400,
        "4": 404,
        "5": 404,
        "6": 204,
    }
    assert found["skus"]["body"]["value"][0]["skuPartNumber"] == E3
    assert found["1"]["body"]["id"] == str(first.public_id)
    assert found["1"]["headers"]["Content-Type"] == "application/json"
    # Each request has its own request id, and the client's own when it sent one.
    assert found["1"]["headers"]["request-id"] != found["skus"]["headers"]["request-id"]
    assert found["6"]["headers"]["client-request-id"] == "mine"
    assert "body" not in found["6"] and "Content-Type" not in found["6"]["headers"]
    assert found["2"]["body"]["assignedLicenses"] == [{"skuId": sku(E3), "disabledPlans": []}]
    assert (found["3"]["body"]["error"]["innerError"]["code"]) == "CountViolation"
    assert found["4"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert held(first) == {E3} and held(second) == set()
    second.refresh_from_db()
    assert second.usage_location == "BE"


def test_more_than_20_requests_is_a_400_and_runs_none(graph, buy, users):
    buy(E3, 30)
    people = users(21)
    call = graph()
    before = snapshot()
    reply = call("POST", URL, {"requests": [assign(n, p, E3) for n, p in enumerate(people)]})
    assert error_of(reply)[:2] == (400, "Request_BadRequest")
    assert "1 to 20" in reply.json()["error"]["message"]
    assert snapshot() == before
    twenty = call("POST", URL, {"requests": [assign(n, p, E3) for n, p in enumerate(people[:20])]})
    assert {a["status"] for a in answers(twenty).values()} == {200}


@pytest.mark.parametrize(
    "requests",
    [
        [{"method": "GET", "url": "/users"}],  # no id
        [{"id": "a", "method": "GET", "url": "/users"}, {"id": "A", "method": "GET", "url": "/"}],
        [{"id": "a", "method": "HEAD", "url": "/users"}],
        [{"id": "a", "method": "TRACE", "url": "/users"}],
        [{"id": "a", "method": None, "url": "/users"}],
        [{"id": "a", "method": "GET"}],
        [{"id": "a", "method": "GET", "url": "/users", "dependsOn": ["b"]}],
        [{"id": "a", "method": "GET", "url": "/users", "dependsOn": "b"}],
        [
            {"id": "a", "method": "GET", "url": "/users", "dependsOn": ["b"]},
            {"id": "b", "method": "GET", "url": "/users", "dependsOn": ["a"]},
        ],
        [{"id": "a", "method": "GET", "url": "/users", "dependsOn": ["a"]}],
        [{"id": "a", "method": "POST", "url": "/users/x/assignLicense", "body": {}}],  # no type
        [{"id": "a", "method": "POST", "url": "/users", "body": "not base64!", "headers": JSON}],
        [{"id": "a", "method": "GET", "url": "/users", "headers": {"X-A": 1}}],
        [{"id": "a", "method": "GET", "url": "/users", "headers": {"X-A": "a\r\nX-B: b"}}],
        [{"id": "a", "method": "GET", "url": "/users", "headers": ["Accept"]}],
        [{"id": 1, "method": "GET", "url": "/users"}],
        [{"id": "x" * 10_000, "method": "GET", "url": "/users"}],
        [{"id": "a", "method": "GET", "url": "/users/" + "x" * 100_000}],
        [{"id": "a", "method": "GET", "url": "/users", "headers": {"X": "x" * 100_000}}],
        [],
        ["GET /users"],
        {"id": "a", "method": "GET", "url": "/users"},
        "requests",
        None,
    ],
)
def test_a_malformed_batch_is_one_400_in_graphs_envelope(graph, requests):
    reply = graph()("POST", URL, {"requests": requests})
    assert error_of(reply)[:2] == (400, "Request_BadRequest")


def test_hostile_batch_bodies_are_refused_and_change_nothing(graph, buy, users, client):
    buy(E3, 5)
    (person,) = users(1)
    call = graph()
    good = assign("1", person, E3)
    before = snapshot()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {call.token}"}
    for raw in [
        "not json",
        "[]",
        '"requests"',
        json.dumps({"requests": {"1": good}}),
        json.dumps({"requests": [good, {**good, "id": "2", "url": "/users/a\x00b"}]}),
        json.dumps({"requests": [{**good, "body": {"addLicenses": [{"skuId": "\x00"}]}}]}),
        json.dumps({"requests": [good, {**good, "id": "\ud800"}]}),
        json.dumps({"requests": [good, {**good, "id": "2", "url": "/users/" + "x" * 3_000_000}]}),
        json.dumps({"requests": [good, {**good, "id": "2", "huge": "x" * 3_000_000}]})[:-3],
        json.dumps({"requests": [good] * 2}),
    ]:
        reply = client.generic(
            "POST", URL, raw.encode("utf-8", "surrogatepass"), "application/json", **auth
        )
        assert error_of(reply)[:2] == (400, "Request_BadRequest"), raw[:80]
    assert (
        client.generic(
            "POST", URL, json.dumps({"requests": [good]}), "text/plain", **auth
        ).status_code
        == 415
    )
    too_big = json.dumps({"requests": [{**good, "pad": "x" * (5 * 1024 * 1024)}]})
    assert client.generic("POST", URL, too_big, "application/json", **auth).status_code == 413
    assert snapshot() == before
    assert not AuditEvent.objects.filter(activity="Change user license").exists()


def test_a_batch_needs_a_token_and_is_post_only(graph, client):
    reply = client.post(
        URL,
        json.dumps({"requests": [{"id": "1", "method": "GET", "url": "/users"}]}),
        "application/json",
    )
    assert error_of(reply)[:2] == (401, "InvalidAuthenticationToken")
    call = graph()
    refused = call("GET", URL)
    assert error_of(refused)[:2] == (405, "Request_BadRequest") and refused["Allow"] == "POST"


def test_depends_on_orders_the_requests_and_a_failure_fails_its_chain_with_424(graph, buy, users):
    buy(E3, 1)
    buy("EMS", 5)
    first, second = users(2)
    call = graph()
    requests = [
        # Sent before what it depends on: it still runs after.
        {**assign("swap", first, "EMS", remove=[E3]), "dependsOn": ["GIVE"]},
        assign("give", first, E3),
        # No subscription of this product: fails.
        {**assign("more", second, "STANDARDPACK"), "dependsOn": ["give"]},
        {**assign("after", second, "EMS"), "dependsOn": ["more"]},  # 424
        {**assign("last", second, "EMS"), "dependsOn": ["after", "give"]},  # 424 in turn
        # msgraph-sdk's spelling, empty beside Graph's or alone.
        {**assign("sdk", second, "EMS"), "depends_on": [], "dependsOn": ["swap"]},
    ]
    found = answers(call("POST", URL, {"requests": requests}))
    assert {k: a["status"] for k, a in found.items()} == {
        "swap": 200,
        "give": 200,
        "more": 400,
        "after": 424,
        "last": 424,
        "sdk": 200,
    }
    assert found["after"]["body"]["error"]["code"] == "FailedDependency"
    assert "'more'" in found["after"]["body"]["error"]["message"]
    assert held(first) == {"EMS"} and held(second) == {"EMS"}
    # The SDK's own "depends_on" orders too.
    again = [
        {**assign("b", first, E3, remove=["EMS"]), "depends_on": ["a"]},
        {**assign("a", first, "EMS"), "depends_on": []},
    ]
    found = answers(call("POST", URL, {"requests": again}))
    assert (found["a"]["status"], found["b"]["status"]) == (200, 200)
    assert held(first) == {E3}


def test_a_read_only_app_is_refused_each_write_of_a_batch_and_reads(graph, buy, users):
    buy(E3, 5)
    (person,) = users(1)
    call = graph(read_only=True)
    before = snapshot()
    found = answers(
        call(
            "POST",
            URL,
            {
                "requests": [
                    {"id": "1", "method": "GET", "url": f"/users/{person.public_id}"},
                    assign("2", person, E3),
                    {"id": "3", "method": "GET", "url": "/subscribedSkus"},
                ]
            },
        )
    )
    assert [found[k]["status"] for k in "123"] == [200, 403, 200]
    assert found["2"]["body"]["error"]["code"] == "Authorization_RequestDenied"
    assert snapshot() == before


def test_another_tenants_ids_are_404_per_request(graph, buy, users, tenant):
    buy(E3, 5)
    (mine,) = users(1)
    other = TenantFactory(initial_domain="fabrikam.onmicrosoft.com")
    stranger = DirectoryUserFactory(tenant=other)
    their_group = GroupFactory(tenant=other)
    call = graph()
    found = answers(
        call(
            "POST",
            URL,
            {
                "requests": [
                    assign("1", stranger, E3),
                    {"id": "2", "method": "GET", "url": f"/users/{stranger.user_principal_name}"},
                    {"id": "3", "method": "GET", "url": f"/groups/{their_group.public_id}"},
                    assign("4", mine, E3),
                ]
            },
        )
    )
    assert [found[k]["status"] for k in "1234"] == [404, 404, 404, 200]
    assert found["1"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert not UserLicense.objects.filter(user=stranger).exists()
    assert held(mine) == {E3}


def test_each_write_of_a_batch_is_audited_with_the_app_as_actor(graph, buy, users):
    buy(E3, 5)
    people = users(3)
    call = graph()
    found = answers(
        call("POST", URL, {"requests": [assign(n, p, E3) for n, p in enumerate(people)]})
    )
    assert {a["status"] for a in found.values()} == {200}
    events = AuditEvent.objects.filter(activity="Change user license")
    assert sorted(events.values_list("target_id", flat=True)) == sorted(
        str(p.public_id) for p in people
    )
    assert set(events.values_list("actor_name", flat=True)) == {call.app.actor}


def test_each_request_of_a_batch_counts_against_the_apps_rate(graph, settings):
    cache.clear()
    settings.GRAPH_RATE_LIMIT = 5
    call = graph()
    assert call("GET", "/v1.0/users").status_code == 200
    requests = [{"id": str(n), "method": "GET", "url": "/users"} for n in range(6)]
    found = answers(call("POST", URL, {"requests": requests}))
    # One used before the batch, four more fit, the last two are over: the batch itself is
    # not counted, only its requests.
    assert [found[str(n)]["status"] for n in range(6)] == [200, 200, 200, 200, 429, 429]
    assert found["4"]["body"]["error"]["code"] == "TooManyRequests"
    assert int(found["4"]["headers"]["Retry-After"]) >= 1
    assert call("GET", "/v1.0/users").status_code == 429
    cache.clear()


def test_absolute_urls_of_this_portal_are_taken_and_others_refused(graph, buy, users):
    buy(E3, 5)
    first, second = users(2)
    call = graph()
    own = f"http://testserver/v1.0/users/{first.public_id}/assignLicense"
    requests = [
        {**assign("own", first, E3), "url": own},
        {
            **assign("graph", second, E3),
            "url": own.replace("http://testserver", "https://graph.microsoft.com"),
        },
        {**assign("scheme", second, E3), "url": own.replace("http:", "https:")},
        {**assign("port", second, E3), "url": own.replace("testserver", "testserver:8443")},
        {**assign("notapi", second, E3), "url": "http://testserver/admin/"},
        {**assign("beta", second, E3), "url": own.replace("v1.0", "beta")},
        {
            **assign("schemeless", second, E3),
            "url": f"//evil.example/v1.0/users/{second.public_id}/assignLicense",
        },
        {
            "id": "nested",
            "method": "POST",
            "url": "/$batch",
            "body": {"requests": []},
            "headers": JSON,
        },
        {
            "id": "nested2",
            "method": "POST",
            "url": "http://testserver/v1.0/$batch",
            "body": {"requests": []},
            "headers": JSON,
        },
        {"id": "nul", "method": "GET", "url": "/users/a%00b"},
        {"id": "query", "method": "GET", "url": "/users?$top=%01"},
        {"id": "latin", "method": "GET", "url": "/users/%ff"},
    ]
    found = answers(call("POST", URL, {"requests": requests}))
    assert found["own"]["status"] == 200
    for refused in requests[1:]:
        answer = found[refused["id"]]
        assert (answer["status"], answer["body"]["error"]["code"]) == (400, "Request_BadRequest"), (
            refused["id"]
        )
    assert "http://testserver/v1.0/" in found["graph"]["body"]["error"]["message"]
    assert held(first) == {E3} and held(second) == set()
