"""``POST /.search`` at the root (RFC 7644 §3.4.3): users and groups in one list, filtered per
kind, paged as a whole; and the SearchRequest's body refused in SCIM's error when it is no
SearchRequest (docs/provisioning.md, "Searching")."""

from __future__ import annotations

import pytest

from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory

pytestmark = pytest.mark.django_db
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def search(scim, **request) -> dict:
    answer = scim("POST", "/.search", {"schemas": [SEARCH], **request})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["schemas"] == [LIST]
    assert body["itemsPerPage"] == len(body["Resources"])
    return body


def ids(body) -> list[str]:
    return [r["id"] for r in body["Resources"]]


@pytest.fixture
def directory(tenant):
    """Three users and two groups of the tenant, one of each named "Finance"; and a user and a
    group of another tenant, named the same."""
    people = [
        DirectoryUserFactory(tenant=tenant, display_name="Finance", external_id="e1"),
        DirectoryUserFactory(tenant=tenant, display_name="Megan"),
        DirectoryUserFactory(tenant=tenant, display_name="Alex"),
    ]
    teams = [
        GroupFactory(tenant=tenant, name="Finance", external_id="e1"),
        GroupFactory(tenant=tenant),
    ]
    other = TenantFactory()
    DirectoryUserFactory(tenant=other, display_name="Finance", external_id="e1")
    GroupFactory(tenant=other, name="Finance", external_id="e1")
    return [str(p.public_id) for p in people], [str(t.public_id) for t in teams]


def test_the_root_search_lists_the_users_then_the_groups(scim, directory):
    users, groups = directory
    body = search(scim)
    assert (body["totalResults"], body["startIndex"]) == (5, 1)
    assert ids(body) == users + groups
    kinds = [(r["schemas"][0], r["meta"]["resourceType"]) for r in body["Resources"]]
    assert kinds == [(USER, "User")] * 3 + [(GROUP, "Group")] * 2


def test_the_root_search_filters_each_kind(scim, directory):
    users, groups = directory
    both = search(scim, filter='displayName eq "finance"')
    assert (both["totalResults"], ids(both)) == (2, [users[0], groups[0]])
    assert ids(search(scim, filter='externalId eq "e1"')) == [users[0], groups[0]]
    # An attribute groups do not have matches no group.
    only = search(scim, filter=f'userName eq "{scim_user_name(scim, users[1])}"')
    assert (only["totalResults"], ids(only)) == (1, [users[1]])
    assert ids(search(scim, filter=f'id eq "{groups[1]}"')) == [groups[1]]


def scim_user_name(scim, key) -> str:
    return scim("GET", f"/Users/{key}").json()["userName"]


@pytest.mark.parametrize(
    "start,count,expected",
    [
        (1, 2, slice(0, 2)),  # users only
        (3, 2, slice(2, 4)),  # the last user and the first group
        (4, 10, slice(3, 5)),  # groups only
        (5, 1, slice(4, 5)),
        (6, 10, slice(5, 5)),  # past the end
        (2, 0, slice(0, 0)),  # the count alone
    ],
)
def test_start_index_and_count_page_users_and_groups_as_one_list(
    scim, directory, start, count, expected
):
    users, groups = directory
    body = search(scim, startIndex=start, count=count)
    assert (body["totalResults"], body["startIndex"]) == (5, start)
    assert ids(body) == (users + groups)[expected]


def test_the_root_search_honours_attributes_and_excluded_attributes(scim, tenant, directory):
    _users, groups = directory
    member = DirectoryUserFactory(tenant=tenant)
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": str(member.public_id)}]}
        ],
    }
    assert scim("PATCH", f"/Groups/{groups[0]}", patch).status_code == 200
    few = search(scim, attributes=["userName"], filter='displayName eq "Finance"')
    user, group = few["Resources"]
    assert set(user) == {"schemas", "id", "meta", "userName"}
    assert set(group) == {"schemas", "id", "meta"}
    lean = search(scim, excludedAttributes=["members"], filter='displayName eq "Finance"')
    assert "members" not in lean["Resources"][1] and "displayName" in lean["Resources"][1]
    full = search(scim, filter='displayName eq "Finance"')
    assert [m["value"] for m in full["Resources"][1]["members"]] == [str(member.public_id)]


def test_another_tenants_users_and_groups_are_never_found(scim, directory):
    users, groups = directory
    assert ids(search(scim, count=1000)) == users + groups
    assert search(scim, filter='externalId eq "e1"')["totalResults"] == 2


@pytest.mark.parametrize("url", ["/.search", "/Users/.search", "/Groups/.search"])
@pytest.mark.parametrize(
    "body,scim_type",
    [
        ({"schemas": [SEARCH], "filtr": 'userName eq "a"'}, "invalidSyntax"),
        ({"schemas": [SEARCH], "Resources": []}, "invalidSyntax"),
        ({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}, "invalidSyntax"),
        ({"schemas": SEARCH}, "invalidSyntax"),
        ({"schemas": [SEARCH], "startIndex": "x"}, "invalidValue"),
        ({"schemas": [SEARCH], "startIndex": 1.5}, "invalidValue"),
        ({"schemas": [SEARCH], "count": True}, "invalidValue"),
        ({"schemas": [SEARCH], "filter": ["userName"]}, "invalidValue"),
        ({"schemas": [SEARCH], "attributes": [1]}, "invalidValue"),
        ({"schemas": [SEARCH], "attributes": {"userName": True}}, "invalidValue"),
        ({"schemas": [SEARCH], "filter": 'nickName eq "a"'}, "invalidFilter"),
        ({"schemas": [SEARCH], "filter": "userName pr"}, "invalidFilter"),
    ],
)
def test_a_body_that_is_no_search_request_is_refused(scim, tenant, url, body, scim_type):
    refused = scim("POST", url, body)
    assert refused.status_code == 400
    error = refused.json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert (error["status"], error["scimType"]) == ("400", scim_type)


@pytest.mark.parametrize("raw", ["{", "[]", '"filter"', "\x00", '{"filter": "a" "b"}'])
def test_a_malformed_search_body_is_refused(scim, tenant, raw):
    refused = scim("POST", "/.search", raw=raw)
    assert refused.status_code == 400
    assert refused.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert refused.json()["scimType"] == "invalidSyntax"


def test_search_attribute_names_are_case_insensitive(scim, directory):
    _users, groups = directory
    answer = scim("POST", "/.search", {"SCHEMAS": [SEARCH], "StartIndex": 4, "COUNT": 1})
    assert answer.status_code == 200 and ids(answer.json()) == [groups[0]]
