"""Users created and deleted through the API, deleted items, the audit log and the advanced
queries (``$count``, ``$search``, ``startsWith``, ``$orderby``), through Django's test client:
each call's answer, its refusals in Graph's envelope, the read-only app, tenant isolation."""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
from django.utils import timezone

from licensing import services
from licensing.models import AuditEvent, DirectoryUser, UserLicense, UserSource
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory
from tests.graph.test_api import E3, assign_body, error_of, snapshot

pytestmark = pytest.mark.django_db
EVENTUAL = {"HTTP_CONSISTENCYLEVEL": "eventual"}


def new_user(**changes) -> dict:
    body = {
        "accountEnabled": True,
        "displayName": "Adele Vance",
        "mailNickname": "adele",
        "userPrincipalName": "adele@contoso.onmicrosoft.com",
        "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": "xWwvJ]6NMw+bWH-d"},
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not ...}


def everything():
    """The database's state a refused call must leave as it was: the licenses, the users
    and the audit log."""
    return (
        snapshot(),
        sorted(DirectoryUser.objects.values_list("public_id", "soft_deleted_at")),
        AuditEvent.objects.count(),
    )


def consumed(call, sku_part_number: str = E3) -> int:
    skus = call("GET", "/v1.0/subscribedSkus").json()["value"]
    return {s["skuPartNumber"]: s["consumedUnits"] for s in skus}[sku_part_number]


# -- POST /users --------------------------------------------------------------------------------


def test_a_user_is_created_as_the_portal_creates_one(graph, tenant):
    call = graph()
    reply = call(
        "POST",
        "/v1.0/users",
        new_user(
            **{"@odata.type": "#microsoft.graph.user"},
            usageLocation="BE",
            department="Sales",
            jobTitle="Buyer",
        ),
    )
    assert reply.status_code == 201, reply.json()
    body = reply.json()
    made = DirectoryUser.objects.get(
        tenant=tenant, user_principal_name="adele@contoso.onmicrosoft.com"
    )
    assert body["id"] == str(made.public_id)
    assert body["@odata.context"].endswith("/v1.0/$metadata#users/$entity")
    assert (body["displayName"], body["jobTitle"]) == ("Adele Vance", "Buyer")
    assert reply["Location"].endswith(f"/v1.0/users/{made.public_id}")
    assert (made.source, made.usage_location, made.department) == (UserSource.CLOUD, "BE", "Sales")
    assert made.account_enabled
    event = AuditEvent.objects.get(tenant=tenant, activity="Add user")
    assert event.actor_name == call.app.actor
    got = call("GET", f"/v1.0/users/{made.public_id}?$select=accountEnabled,usageLocation").json()
    assert (got["accountEnabled"], got["usageLocation"]) == (True, "BE")
    disabled = call(
        "POST",
        "/v1.0/users",
        new_user(userPrincipalName="off@contoso.onmicrosoft.com", accountEnabled=False),
    )
    assert disabled.status_code == 201
    assert not DirectoryUser.objects.get(public_id=disabled.json()["id"]).account_enabled


def test_a_taken_user_principal_name_is_graphs_object_conflict(graph, users):
    (taken,) = users(1)
    call = graph()
    before = everything()
    reply = call(
        "POST", "/v1.0/users", new_user(userPrincipalName=taken.user_principal_name.upper())
    )
    assert error_of(reply)[:2] == (400, "Request_BadRequest")
    error = reply.json()["error"]
    assert error["message"] == (
        "Another object with the same value for property userPrincipalName already exists."
    )
    assert error["details"] == [{"code": "ObjectConflict", "target": "userPrincipalName"}]
    # A soft-deleted user keeps the name: it can be restored.
    services.user_soft_delete(tenant=taken.tenant, user=taken, actor=None)
    before = everything()
    again = call("POST", "/v1.0/users", new_user(userPrincipalName=taken.user_principal_name))
    assert error_of(again)[:2] == (400, "Request_BadRequest")
    assert everything() == before


@pytest.mark.parametrize(
    "body,message",
    [
        (new_user(shoeSize=44), "Property 'shoeSize' does not exist as a declared property"),
        (new_user(givenName="Adele"), "Property 'givenName' cannot be set through this API"),
        (new_user(accountEnabled="yes"), "property 'accountEnabled' of resource 'User'"),
        (new_user(accountEnabled=1), "property 'accountEnabled' of resource 'User'"),
        (new_user(accountEnabled=...), "property 'accountEnabled' of resource 'User'"),
        (new_user(displayName=5), "property 'displayName' of resource 'User'"),
        (new_user(displayName=" "), "property 'displayName' of resource 'User'"),
        (new_user(userPrincipalName=...), "property 'userPrincipalName' of resource 'User'"),
        (new_user(userPrincipalName=["a@b.c"]), "property 'userPrincipalName'"),
        (new_user(userPrincipalName="no-domain"), "is not a valid user principal name"),
        (new_user(usageLocation=3), "property 'usageLocation' of resource 'User'"),
        (new_user(usageLocation="XX"), "is not a known country code"),
        (new_user(department={"a": 1}), "property 'department' of resource 'User'"),
        (new_user(jobTitle="\u202eevil"), "invisible or direction-changing"),
        (new_user(mailNickname=...), "property 'mailNickname' of resource 'User'"),
        (new_user(mailNickname=7), "property 'mailNickname' of resource 'User'"),
        (new_user(passwordProfile=...), "property 'passwordProfile' of resource 'User'"),
        (new_user(passwordProfile="secret"), "property 'passwordProfile' of resource 'User'"),
        (new_user(passwordProfile={"password": 5}), "property 'passwordProfile'"),
        (new_user(passwordProfile={"forceChangePasswordNextSignIn": True}), "'passwordProfile'"),
        (new_user(passwordProfile={"password": "x", "pin": 1}), "property 'passwordProfile'"),
        (
            new_user(**{"@odata.type": "#microsoft.graph.group"}),
            "A resource with type 'microsoft.graph.group' was found, but it is not assignable "
            "to the expected type 'microsoft.graph.user'.",
        ),
        (new_user(**{"@odata.type": 5}), "is not assignable to the expected type"),
    ],
)
def test_bodies_graph_refuses_create_nothing(graph, body, message):
    call = graph()
    before = everything()
    reply = call("POST", "/v1.0/users", body)
    assert error_of(reply)[:2] == (400, "Request_BadRequest"), reply.json()
    assert message in reply.json()["error"]["message"]
    assert everything() == before


def test_a_body_that_is_not_a_json_object_is_refused(graph, client):
    call = graph()
    before = everything()
    assert error_of(call("POST", "/v1.0/users", ["x"]))[0] == 400
    reply = client.post(
        "/v1.0/users", "x", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {call.token}"
    )
    assert reply.status_code == 415
    assert everything() == before


# -- DELETE /users/{id} and deleted items -------------------------------------------------------


def test_delete_restore_and_delete_permanently(graph, buy, users, tenant):
    buy(E3, 5)
    person, other = users(2)
    call = graph()
    call("POST", f"/v1.0/users/{person.public_id}/assignLicense", assign_body(E3))
    assert consumed(call) == 1

    assert call("DELETE", f"/v1.0/users/{person.public_id}").status_code == 204
    # As the portal's soft delete: Suspended, the seat kept (docs/rules.md §7).
    assert list(UserLicense.objects.filter(user=person).values_list("state", flat=True)) == [
        "Suspended"
    ]
    assert consumed(call) == 1
    assert error_of(call("GET", f"/v1.0/users/{person.public_id}"))[0] == 404
    assert error_of(call("DELETE", f"/v1.0/users/{person.public_id}"))[0] == 404

    for cast in ("microsoft.graph.user", "graph.user"):
        listed = call("GET", f"/v1.0/directory/deletedItems/{cast}").json()
        assert [u["id"] for u in listed["value"]] == [str(person.public_id)]
        assert listed["value"][0]["deletedDateTime"].endswith("Z")
        assert listed["value"][0]["userPrincipalName"] == person.user_principal_name
    one = call("GET", f"/v1.0/directory/deletedItems/{person.public_id}").json()
    assert one["@odata.type"] == "#microsoft.graph.user"
    assert one["id"] == str(person.public_id) and one["deletedDateTime"]
    # An active user is no deleted item.
    assert error_of(call("GET", f"/v1.0/directory/deletedItems/{other.public_id}"))[0] == 404

    restored = call("POST", f"/v1.0/directory/deletedItems/{person.public_id}/restore")
    assert restored.status_code == 200, restored.json()
    assert restored.json()["id"] == str(person.public_id)
    assert restored.json()["deletedDateTime"] is None
    assert list(UserLicense.objects.filter(user=person).values_list("state", flat=True)) == [
        "Active"
    ]
    assert call("GET", f"/v1.0/users/{person.public_id}").status_code == 200
    restore = f"/v1.0/directory/deletedItems/{person.public_id}/microsoft.graph.restore"
    assert error_of(call("POST", restore))[0] == 404  # not deleted any more

    call("DELETE", f"/v1.0/users/{person.public_id}")
    assert call("DELETE", f"/v1.0/directory/deletedItems/{person.public_id}").status_code == 204
    assert not DirectoryUser.objects.filter(id=person.id).exists()
    assert consumed(call) == 0
    assert call("GET", "/v1.0/directory/deletedItems/graph.user").json()["value"] == []
    activities = list(
        AuditEvent.objects.filter(tenant=tenant, actor_name=call.app.actor)
        .order_by("id")
        .values_list("activity", flat=True)
    )
    assert activities == [
        "Change user license",
        "Delete user",
        "Restore user",
        "Delete user",
        "Hard delete user",
    ]


def test_restore_takes_graphs_optional_body_and_refuses_others(graph, users):
    (person,) = users(1)
    services.user_soft_delete(tenant=person.tenant, user=person, actor=None)
    call = graph()
    url = f"/v1.0/directory/deletedItems/{person.public_id}/restore"
    before = everything()
    for body in ({"newName": "x"}, {"autoReconcileProxyConflict": "yes"}, ["x"]):
        assert error_of(call("POST", url, body))[:2] == (400, "Request_BadRequest"), body
    assert everything() == before
    assert call("POST", url, {"autoReconcileProxyConflict": True}).status_code == 200


def test_deleted_items_are_paged_like_users(graph, users):
    people = users(5)
    for person in people:
        services.user_soft_delete(tenant=person.tenant, user=person, actor=None)
    call = graph()
    seen, url = [], "/v1.0/directory/deletedItems/microsoft.graph.user?$top=2&$select=id"
    while url:
        body = call("GET", url).json()
        assert all(set(u) == {"id"} for u in body["value"])
        seen += [u["id"] for u in body["value"]]
        url = body.get("@odata.nextLink", "").removeprefix("http://testserver")
    assert seen == [str(p.public_id) for p in people]
    assert error_of(call("GET", "/v1.0/directory/deletedItems/graph.user?$filter=x"))[0] == 400


def test_deleted_items_of_another_tenant_are_not_found_and_malformed_ids_are_400(graph, users):
    other = TenantFactory(initial_domain="fabrikam.onmicrosoft.com")
    stranger = DirectoryUserFactory(tenant=other)
    services.user_soft_delete(tenant=other, user=stranger, actor=None)
    (mine,) = users(1)
    call = graph()
    before = everything()
    base = "/v1.0/directory/deletedItems"
    for method, url in [
        ("GET", f"{base}/{stranger.public_id}"),
        ("POST", f"{base}/{stranger.public_id}/restore"),
        ("DELETE", f"{base}/{stranger.public_id}"),
        ("DELETE", f"/v1.0/users/{stranger.public_id}"),
        ("DELETE", f"/v1.0/users/{stranger.user_principal_name}"),
        ("GET", f"{base}/{uuid.uuid4()}"),
    ]:
        assert error_of(call(method, url))[:2] == (404, "Request_ResourceNotFound"), url
    for method, url in [
        ("GET", f"{base}/not-a-guid"),
        ("POST", f"{base}/not-a-guid/restore"),
        ("DELETE", f"{base}/not-a-guid"),
        ("DELETE", "/v1.0/users/a%00b"),
    ]:
        assert error_of(call(method, url))[:2] == (400, "Request_BadRequest"), url
    assert call("GET", f"{base}/graph.user").json()["value"] == []
    assert everything() == before
    assert DirectoryUser.objects.get(id=mine.id).soft_deleted_at is None


def test_a_read_only_app_reads_deleted_items_and_the_log_and_is_refused_changes(graph, users):
    person, gone = users(2)
    services.user_soft_delete(tenant=gone.tenant, user=gone, actor=None)
    call = graph(read_only=True)
    before = everything()
    for method, url, body in [
        ("POST", "/v1.0/users", new_user()),
        ("DELETE", f"/v1.0/users/{person.public_id}", None),
        ("PATCH", f"/v1.0/users/{person.public_id}", {"usageLocation": "US"}),
        ("POST", f"/v1.0/directory/deletedItems/{gone.public_id}/restore", None),
        ("DELETE", f"/v1.0/directory/deletedItems/{gone.public_id}", None),
    ]:
        assert error_of(call(method, url, body))[:2] == (403, "Authorization_RequestDenied"), url
    assert everything() == before
    assert call("GET", "/v1.0/directory/deletedItems/graph.user").status_code == 200
    assert call("GET", f"/v1.0/directory/deletedItems/{gone.public_id}").status_code == 200
    assert call("GET", "/v1.0/auditLogs/directoryAudits").status_code == 200
    assert call("GET", "/v1.0/users/$count", **EVENTUAL).status_code == 200


# -- PATCH with the SDK's type annotation -------------------------------------------------------


def test_patch_takes_the_users_own_type_annotation_and_refuses_another(graph, users):
    (person,) = users(1)
    call = graph()
    url = f"/v1.0/users/{person.public_id}"
    typed = {"@odata.type": "#microsoft.graph.user", "usageLocation": "US"}
    assert call("PATCH", url, typed).status_code == 204
    assert DirectoryUser.objects.get(id=person.id).usage_location == "US"
    before = everything()
    for wrong in ("#microsoft.graph.group", "microsoft.graph.device", 5, None):
        reply = call("PATCH", url, {"@odata.type": wrong, "usageLocation": "NL"})
        assert error_of(reply)[:2] == (400, "Request_BadRequest"), wrong
        assert (
            "not assignable to the expected type 'microsoft.graph.user'"
            in (reply.json()["error"]["message"])
        )
    assert everything() == before
    untyped = call("PATCH", url, {"@odata.type": "microsoft.graph.user", "usageLocation": "NL"})
    assert untyped.status_code == 204


def test_patch_of_a_group_takes_its_type_annotation_name_and_description(graph, tenant):
    group = GroupFactory(tenant=tenant, name="Sales")
    other = GroupFactory(tenant=TenantFactory(initial_domain="fabrikam.onmicrosoft.com"))
    call = graph()
    url = f"/v1.0/groups/{group.public_id}"
    body = {"@odata.type": "#microsoft.graph.group", "displayName": "Sales NL", "description": None}
    assert call("PATCH", url, body).status_code == 204
    group.refresh_from_db()
    assert (group.name, group.description) == ("Sales NL", "")
    event = AuditEvent.objects.get(tenant=tenant, activity="Update group")
    assert event.actor_name == call.app.actor
    reader = graph(read_only=True)
    before = everything(), group.name
    for bad in [
        {"@odata.type": "#microsoft.graph.user", "displayName": "x"},
        {"displayName": ""},
        {"displayName": 5},
        {"description": ["x"]},
        {"mailEnabled": True},
        {"displayName": "\u202eevil"},
    ]:
        assert error_of(call("PATCH", url, bad))[:2] == (400, "Request_BadRequest"), bad
    assert error_of(call("PATCH", "/v1.0/groups/not-a-guid", {"displayName": "x"}))[0] == 400
    stranger = call("PATCH", f"/v1.0/groups/{other.public_id}", {"displayName": "x"})
    assert error_of(stranger)[:2] == (404, "Request_ResourceNotFound")
    denied = reader("PATCH", url, {"displayName": "x"})
    assert error_of(denied)[:2] == (403, "Authorization_RequestDenied")
    group.refresh_from_db()
    assert (everything(), group.name) == before


# -- GET /auditLogs/directoryAudits ------------------------------------------------------------


def test_the_audit_log_in_graphs_shape_newest_first_only_the_tenants(graph, users, tenant, actor):
    other = TenantFactory(initial_domain="fabrikam.onmicrosoft.com")
    stranger = DirectoryUserFactory(tenant=other)
    services.user_set_usage_location(tenant=other, user=stranger, usage_location="US", actor=None)
    (person,) = users(1)
    services.user_set_usage_location(tenant=tenant, user=person, usage_location="US", actor=actor)
    call = graph()
    made = call("POST", "/v1.0/users", new_user()).json()
    call("DELETE", f"/v1.0/users/{made['id']}")

    body = call("GET", "/v1.0/auditLogs/directoryAudits").json()
    events = body["value"]
    assert [e["activityDisplayName"] for e in events] == [
        "Delete user",
        "Add user",
        "Add application",  # the app of graph()
        "Update user",
    ]
    deleted, _added, registered, updated = events
    assert registered["category"] == "ApplicationManagement"
    assert {"key": "client_id", "value": str(call.app.client_id)} in registered["additionalDetails"]
    assert set(deleted) >= {
        "id",
        "activityDateTime",
        "activityDisplayName",
        "category",
        "result",
        "initiatedBy",
        "targetResources",
        "additionalDetails",
    }
    assert deleted["category"] == "UserManagement" and deleted["result"] == "success"
    assert deleted["initiatedBy"]["app"]["appId"] == str(call.app.client_id)
    assert deleted["initiatedBy"]["app"]["displayName"] == call.app.name
    assert deleted["initiatedBy"]["user"] is None
    assert deleted["targetResources"][0]["id"] == made["id"]
    assert deleted["targetResources"][0]["userPrincipalName"] == made["userPrincipalName"]
    assert updated["initiatedBy"] == {
        "app": None,
        "user": {
            "id": None,
            "displayName": actor.username,
            "userPrincipalName": actor.username,
            "ipAddress": None,
        },
    }
    assert updated["targetResources"][0]["modifiedProperties"] == [
        {"displayName": "usage_location", "oldValue": '""', "newValue": '"US"'}
    ]
    # The ids tell nothing of the rows: not the row's key, and all different.
    ids = [e["id"] for e in events]
    assert len(set(ids)) == 4
    assert all(re.fullmatch(r"Directory_[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", i) for i in ids)
    again = call("GET", "/v1.0/auditLogs/directoryAudits").json()["value"]
    assert [e["id"] for e in again] == ids  # stable


def test_audit_filters_and_keyset_paging(graph, users, tenant):
    call = graph()  # its "Add application" is in the log too
    people = users(5)
    for person in people[1:]:
        services.user_soft_delete(tenant=tenant, user=person, actor=None)
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=[people[0]], actor=None)
    AuditEvent.objects.filter(tenant=tenant).update(
        occurred_at=timezone.make_aware(datetime.datetime(2026, 3, 1, 12))
    )
    late = AuditEvent.objects.filter(tenant=tenant, activity="Add member to group")
    late.update(occurred_at=timezone.make_aware(datetime.datetime(2026, 4, 1, 12)))

    def names(query):
        reply = call("GET", f"/v1.0/auditLogs/directoryAudits?{query}")
        assert reply.status_code == 200, reply.json()
        return [e["activityDisplayName"] for e in reply.json()["value"]]

    assert names("$filter=activityDisplayName eq 'Delete user'") == ["Delete user"] * 4
    assert names("$filter=category eq 'GroupManagement'") == ["Add member to group"]
    assert names("$filter=category eq 'Nothing'") == []
    assert names("$filter=activityDateTime ge 2026-03-15T00:00:00Z") == ["Add member to group"]
    assert names("$filter=activityDateTime le 2026-03-15T00:00:00Z") == [
        *["Delete user"] * 4,
        "Add application",
    ]
    assert names("$filter=category eq 'ApplicationManagement'") == ["Add application"]
    assert names("$filter=category eq 'Other'") == []
    assert names("$filter=activityDateTime gt 2026-03-01T12:00:00Z") == ["Add member to group"]
    assert (
        names(
            "$filter=activityDateTime ge 2026-01-01T00:00:00Z and "
            "activityDateTime le 2026-12-31T00:00:00Z and category eq 'UserManagement'"
        )
        == ["Delete user"] * 4
    )
    # Newest first, the same time by the newest row: a walk of pages of 2 sees each once.
    seen, url = [], "/v1.0/auditLogs/directoryAudits?$top=2"
    while url:
        body = call("GET", url).json()
        assert len(body["value"]) <= 2
        seen += [e["id"] for e in body["value"]]
        url = body.get("@odata.nextLink", "").removeprefix("http://testserver")
    everyone = call("GET", "/v1.0/auditLogs/directoryAudits").json()["value"]
    assert seen == [e["id"] for e in everyone] and len(seen) == 6
    assert everyone[0]["activityDisplayName"] == "Add member to group"
    for bad in [
        "$filter=activityDateTime ge 'yesterday'",
        "$filter=activityDateTime ge 2026-13-45T00:00:00Z",
        "$filter=result eq 'success'",
        "$filter=activityDisplayName ne 'x'",
        "$filter=(",
        "$orderby=activityDateTime",
        "$top=0",
        "$skiptoken=forged",
    ]:
        assert error_of(call("GET", f"/v1.0/auditLogs/directoryAudits?{bad}"))[0] == 400, bad


# -- $count, $search, startsWith, $orderby ------------------------------------------------------


@pytest.fixture
def directory(tenant):
    """Five users and three groups of the tenant, and a user and a group of another one."""
    names = ["Adele Vance", "Alex Wilber", "Megan Bowen", "Diego Siciliani", "Adam Ward"]
    people = [
        DirectoryUserFactory(
            tenant=tenant,
            display_name=name,
            user_principal_name=f"{name.split()[0].lower()}.{name.split()[1].lower()}@contoso.com",
        )
        for name in names
    ]
    groups = [GroupFactory(tenant=tenant, name=n) for n in ("Sales", "Sales EMEA", "Finance")]
    other = TenantFactory(initial_domain="fabrikam.onmicrosoft.com")
    DirectoryUserFactory(tenant=other, display_name="Adele Stranger")
    GroupFactory(tenant=other, name="Sales elsewhere")
    return people, groups


@pytest.mark.parametrize("select", ["", "&$select=id,displayName,assignedPlans"])
def test_count_search_starts_with_and_order_on_users(graph, directory, select):
    """Both ways a page of users is written: by the database as JSON text, and in Python
    (``assignedPlans``)."""
    call = graph()

    def names(query, **headers):
        reply = call("GET", f"/v1.0/users?{query}{select}", **headers)
        assert reply.status_code == 200, reply.json()
        return [u["displayName"] for u in reply.json()["value"]]

    assert names("$orderby=displayName") == [
        "Adam Ward",
        "Adele Vance",
        "Alex Wilber",
        "Diego Siciliani",
        "Megan Bowen",
    ]
    assert names("$filter=startsWith(displayName,'ad')&$orderby=displayName") == [
        "Adam Ward",
        "Adele Vance",
    ]
    assert names("$filter=startswith(userPrincipalName,'MEGAN.')") == ["Megan Bowen"]
    assert names('$search="displayName:wil"', **EVENTUAL) == ["Alex Wilber"]
    assert names('$search="displayName:ad"&$orderby=displayName', **EVENTUAL) == [
        "Adam Ward",
        "Adele Vance",
    ]
    assert names('$search="userPrincipalName:bowen"', **EVENTUAL) == ["Megan Bowen"]
    counted = call("GET", f"/v1.0/users?$count=true&$top=2{select}", **EVENTUAL).json()
    assert counted["@odata.count"] == 5 and len(counted["value"]) == 2
    assert list(counted)[:2] == ["@odata.context", "@odata.count"]
    assert "@odata.count" not in call("GET", f"/v1.0/users?$count=false{select}").json()
    searched = call(
        "GET", f'/v1.0/users?$count=true&$search="displayName:a"{select}', **EVENTUAL
    ).json()
    assert searched["@odata.count"] == 3  # Adele, Alex, Adam: words starting with "a"

    # Paging by name: every user once, in order, pages of 2.
    seen, url = [], f"/v1.0/users?$orderby=displayName&$top=2{select}"
    while url:
        body = call("GET", url).json()
        seen += [u["displayName"] for u in body["value"]]
        url = body.get("@odata.nextLink", "").removeprefix("http://testserver")
    assert seen == sorted(seen) and len(seen) == 5


def test_count_and_search_need_consistency_level_eventual_as_graph(graph, directory):
    call = graph()
    reply = call("GET", "/v1.0/users?$count=true")
    assert error_of(reply)[:2] == (400, "Request_BadRequest")
    assert reply.json()["error"]["message"] == "$count is not currently supported."
    reply = call("GET", "/v1.0/users/$count")
    assert reply.json()["error"]["message"] == "$count is not currently supported."
    assert error_of(call("GET", "/v1.0/groups/$count"))[0] == 400
    reply = call("GET", '/v1.0/users?$search="displayName:ad"')
    assert error_of(reply)[:2] == (400, "Request_UnsupportedQuery")
    assert reply.json()["error"]["message"] == (
        "Request with $search query parameter only works through MSGraph with a special "
        "request header: 'ConsistencyLevel: eventual'"
    )
    for bad in [
        "$search=displayName:ad",  # Graph's syntax has the quotes
        '$search="mail:ad"',
        '$search="displayName:"',
        '$search="displayName:a" OR "displayName:b"',
        "$count=maybe",
        "$orderby=userPrincipalName",
        "$orderby=displayName desc",
        "$filter=startsWith(mail,'a')",
        "$filter=startsWith(displayName,1)",
    ]:
        assert error_of(call("GET", f"/v1.0/users?{bad}", **EVENTUAL))[0] == 400, bad


def test_dollar_count_answers_text(graph, directory):
    call = graph()
    reply = call("GET", "/v1.0/users/$count", **EVENTUAL)
    assert reply.status_code == 200
    assert reply["Content-Type"].startswith("text/plain")
    assert reply.content == b"5"
    filtered = call("GET", "/v1.0/users/$count?$filter=startsWith(displayName,'a')", **EVENTUAL)
    assert filtered.content == b"3"
    searched = call("GET", '/v1.0/users/$count?$search="displayName:bowen"', **EVENTUAL)
    assert searched.content == b"1"
    assert call("GET", "/v1.0/groups/$count", **EVENTUAL).content == b"3"
    assert error_of(call("GET", "/v1.0/users/$count?$top=2", **EVENTUAL))[0] == 400


def test_count_search_starts_with_and_order_on_groups(graph, directory):
    call = graph()

    def names(query, **headers):
        reply = call("GET", f"/v1.0/groups?{query}", **headers)
        assert reply.status_code == 200, reply.json()
        return [g["displayName"] for g in reply.json()["value"]]

    assert names("$orderby=displayName") == ["Finance", "Sales", "Sales EMEA"]
    assert names("$filter=startsWith(displayName,'sales')&$orderby=displayName") == [
        "Sales",
        "Sales EMEA",
    ]
    assert names('$search="displayName:emea"', **EVENTUAL) == ["Sales EMEA"]
    body = call("GET", "/v1.0/groups?$count=true&$top=1&$orderby=displayName", **EVENTUAL).json()
    assert body["@odata.count"] == 3 and [g["displayName"] for g in body["value"]] == ["Finance"]
    assert error_of(call("GET", "/v1.0/groups?$count=true"))[0] == 400
    assert error_of(call("GET", '/v1.0/groups?$search="userPrincipalName:a"', **EVENTUAL))[0] == 400
