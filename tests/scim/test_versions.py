"""Versions (RFC 7644 §3.14): every single resource answered carries its ``meta.version`` as a
weak ``ETag``; the version changes with what SCIM shows of the resource, and only then; a
change or deletion on condition of a version (``If-Match``) that the resource no longer has
is refused with 412 and changes nothing; a GET whose ``If-None-Match`` names the version is
answered 304 (docs/provisioning.md, "Versions")."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licensing.models import DirectoryUser, Group, GroupMembership
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory
from tests.licensing.test_bad_input import snapshot

pytestmark = pytest.mark.django_db
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WEAK = re.compile(r'W/"[0-9a-f]{16}"')


def patch(*operations) -> dict:
    return {"schemas": [PATCH], "Operations": list(operations)}


def new_user(name="megan@contoso.com") -> dict:
    return {"schemas": [USER], "userName": name, "displayName": "Megan", "active": True}


def tagged(response, status=200) -> dict:
    """The answer's body, after checking that its ETag is its meta.version, weak."""
    assert response.status_code == status, response.content
    body = response.json()
    assert WEAK.fullmatch(response["ETag"]), response["ETag"]
    assert response["ETag"] == body["meta"]["version"]
    return body


def version(scim, url) -> str:
    return tagged(scim("GET", url))["meta"]["version"]


def test_every_answer_of_one_user_carries_its_version_as_etag(scim, tenant):
    created = tagged(scim("POST", "/Users", new_user()), 201)
    url = f"/Users/{created['id']}"
    assert tagged(scim("GET", url)) == created
    replaced = tagged(scim("PUT", url, {**new_user(), "title": "CFO"}))
    patched = tagged(scim("PATCH", url, patch({"op": "replace", "path": "title", "value": "CEO"})))
    assert len({created["meta"]["version"], replaced["meta"]["version"]}) == 2
    assert patched["meta"]["version"] not in (
        created["meta"]["version"],
        replaced["meta"]["version"],
    )
    # Leaving attributes out changes no version; the ETag stays when meta itself is left out.
    few = tagged(scim("GET", url, query={"attributes": "userName"}))
    assert "title" not in few and few["meta"]["version"] == patched["meta"]["version"]
    bare = scim("GET", url, query={"excludedAttributes": "meta"})
    assert "meta" not in bare.json() and bare["ETag"] == patched["meta"]["version"]


def test_every_answer_of_one_group_carries_its_version_as_etag(scim, tenant):
    person = DirectoryUserFactory(tenant=tenant)
    created = tagged(scim("POST", "/Groups", {"displayName": "Finance"}), 201)
    url = f"/Groups/{created['id']}"
    assert tagged(scim("GET", url)) == created
    member = [{"value": str(person.public_id)}]
    replaced = tagged(scim("PUT", url, {"displayName": "Finance", "members": member}))
    patched = tagged(
        scim("PATCH", url, patch({"op": "replace", "path": "displayName", "value": "F"}))
    )
    versions = {r["meta"]["version"] for r in (created, replaced, patched)}
    assert len(versions) == 3
    without = tagged(scim("GET", url, query={"excludedAttributes": "members"}))
    assert "members" not in without and without["meta"]["version"] == patched["meta"]["version"]


def test_a_user_version_changes_with_what_scim_shows_of_the_user_and_only_then(scim, tenant):
    created = tagged(scim("POST", "/Users", new_user()), 201)
    url = f"/Users/{created['id']}"
    first = created["meta"]["version"]
    assert version(scim, url) == first
    # The same value again, and a group joined: what SCIM shows of the user is the same.
    same = patch({"op": "replace", "path": "displayName", "value": "Megan"})
    assert tagged(scim("PATCH", url, same))["meta"]["version"] == first
    group = GroupFactory(tenant=tenant)
    joined = patch({"op": "add", "path": "members", "value": [{"value": created["id"]}]})
    assert scim("PATCH", f"/Groups/{group.public_id}", joined).status_code == 200
    assert version(scim, url) == first
    versions = [first]
    for operation in (
        {"op": "replace", "path": "userName", "value": "megan.b@contoso.com"},
        {"op": "replace", "path": "displayName", "value": "Megan B"},
        {"op": "replace", "path": "externalId", "value": "0a21"},
        {"op": "replace", "path": "title", "value": "CFO"},
        {"op": "replace", "path": 'addresses[type eq "work"].country', "value": "NL"},
        {
            "op": "replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "value": "Sales",
        },
        {"op": "replace", "path": "active", "value": False},
    ):
        now = tagged(scim("PATCH", url, patch(operation)))["meta"]["version"]
        assert now not in versions, operation
        versions.append(now)
        assert version(scim, url) == now
    # Active again, the user is as before it was disabled: the version it had then.
    restore = patch({"op": "replace", "path": "active", "value": True})
    assert tagged(scim("PATCH", url, restore))["meta"]["version"] == versions[-2]


def test_a_group_version_changes_with_its_name_id_and_members_and_only_then(scim, tenant):
    megan, alex = DirectoryUserFactory(tenant=tenant), DirectoryUserFactory(tenant=tenant)
    created = tagged(scim("POST", "/Groups", {"displayName": "Finance"}), 201)
    url = f"/Groups/{created['id']}"
    seen = [created["meta"]["version"]]

    def changed(body) -> None:
        now = tagged(scim("PATCH", url, body))["meta"]["version"]
        assert now not in seen, body
        seen.append(now)
        assert version(scim, url) == now

    def unchanged(body=None) -> None:
        if body is not None:
            assert tagged(scim("PATCH", url, body))["meta"]["version"] == seen[-1], body
        assert version(scim, url) == seen[-1]

    def members(op, *users):
        return patch(
            {"op": op, "path": "members", "value": [{"value": str(u.public_id)} for u in users]}
        )

    changed(patch({"op": "replace", "path": "displayName", "value": "Sales"}))
    unchanged(patch({"op": "replace", "path": "displayName", "value": "Sales"}))
    changed(patch({"op": "replace", "path": "externalId", "value": "ext-1"}))
    changed(members("add", megan))
    unchanged(members("add", megan))  # already a member
    changed(members("add", alex))
    changed(patch({"op": "remove", "path": f'members[value eq "{alex.public_id}"]'}))
    changed(members("replace", alex))  # one member for another: as many members as before
    # A member's own changes are not the group's.
    person = f"/Users/{alex.public_id}"
    assert (
        scim("PATCH", person, patch({"op": "replace", "path": "title", "value": "X"})).status_code
        == 200
    )
    unchanged()
    # A member deleted for good leaves the group.
    assert scim("DELETE", person).status_code == 204
    after = version(scim, url)
    assert after not in seen and scim("GET", url).json().get("members", []) == []


# -- If-Match ---------------------------------------------------------------------------------

CHANGES = {
    "PUT Users": ("PUT", "Users", {**new_user("changed@contoso.com")}),
    "PATCH Users": ("PATCH", "Users", patch({"op": "replace", "path": "title", "value": "CFO"})),
    "DELETE Users": ("DELETE", "Users", None),
    "PUT Groups": ("PUT", "Groups", {"displayName": "Renamed", "members": []}),
    "PATCH Groups": (
        "PATCH",
        "Groups",
        patch({"op": "replace", "path": "displayName", "value": "Renamed"}),
    ),
    "DELETE Groups": ("DELETE", "Groups", None),
}


@pytest.fixture
def resources(scim, tenant):
    """A user and a group, each with its current and an older version."""
    user = tagged(scim("POST", "/Users", new_user()), 201)
    older_user = user["meta"]["version"]
    user = tagged(
        scim(
            "PATCH", f"/Users/{user['id']}", patch({"op": "replace", "path": "title", "value": "A"})
        )
    )
    person = DirectoryUserFactory(tenant=tenant)
    group = tagged(scim("POST", "/Groups", {"displayName": "Finance"}), 201)
    older_group = group["meta"]["version"]
    add = patch({"op": "add", "path": "members", "value": [{"value": str(person.public_id)}]})
    group = tagged(scim("PATCH", f"/Groups/{group['id']}", add))
    return {
        "Users": (user["id"], user["meta"]["version"], older_user),
        "Groups": (group["id"], group["meta"]["version"], older_group),
    }


def _send(scim, change, key, if_match):
    method, kind, body = change
    return scim(method, f"/{kind}/{key}", body, headers={"If-Match": if_match})


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES)
def test_a_change_on_condition_of_an_older_version_is_refused_with_412(scim, resources, change):
    key, _current, older = resources[change[1]]
    before = snapshot()
    refused = _send(scim, change, key, older)
    assert refused.status_code == 412
    body = refused.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "412" and "changed" in body["detail"]
    assert snapshot() == before
    # Several versions, none of them the current one: refused as well.
    assert _send(scim, change, key, f'{older}, W/"0000000000000000"').status_code == 412
    assert snapshot() == before


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES)
@pytest.mark.parametrize(
    "condition",
    ["current", "strong", "listed", "any"],
)
def test_a_change_on_condition_of_the_current_version_is_made(scim, resources, change, condition):
    key, current, older = resources[change[1]]
    if_match = {
        "current": current,
        "strong": current.removeprefix("W/"),  # compared by the opaque part
        "listed": f'{older},{current} , "0000"',
        "any": "*",
    }[condition]
    done = _send(scim, change, key, if_match)
    if change[0] == "DELETE":
        assert done.status_code == 204
        model = DirectoryUser if change[1] == "Users" else Group
        assert not model.objects.filter(public_id=key).exists()
    else:
        assert tagged(done)["meta"]["version"] != current


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES)
@pytest.mark.parametrize("if_match", ["", "abc", 'W/"a" W/"b"', '"a",', 'W/"a', ","])
def test_an_if_match_that_is_no_list_of_entity_tags_is_refused(scim, resources, change, if_match):
    key, _current, _older = resources[change[1]]
    before = snapshot()
    refused = _send(scim, change, key, if_match)
    assert (refused.status_code, refused.json()["scimType"]) == (400, "invalidSyntax")
    assert snapshot() == before


def test_if_match_names_no_resource_of_another_tenant(scim, tenant):
    other = TenantFactory()
    for url in (
        f"/Users/{DirectoryUserFactory(tenant=other).public_id}",
        f"/Groups/{GroupFactory(tenant=other).public_id}",
    ):
        before = snapshot()
        for method in ("PATCH", "DELETE"):
            body = patch({"op": "replace", "path": "displayName", "value": "X"})
            answer = scim(method, url, body, headers={"If-Match": "*"})
            assert answer.status_code == 404
        assert snapshot() == before


# -- If-None-Match ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_a_get_naming_the_current_version_is_answered_304(scim, resources, kind):
    key, current, older = resources[kind]
    for if_none_match in (current, f"{older}, {current}", "*"):
        answer = scim("GET", f"/{kind}/{key}", headers={"If-None-Match": if_none_match})
        assert (answer.status_code, answer.content, answer["ETag"]) == (304, b"", current)
    assert tagged(scim("GET", f"/{kind}/{key}", headers={"If-None-Match": older}))


def test_a_304_for_a_group_reads_none_of_its_members(scim, resources):
    key, current, _older = resources["Groups"]
    with CaptureQueriesContext(connection) as queries:
        answer = scim("GET", f"/Groups/{key}", headers={"If-None-Match": current})
    assert answer.status_code == 304
    table = GroupMembership._meta.db_table
    assert not [q for q in queries.captured_queries if table in q["sql"]]
