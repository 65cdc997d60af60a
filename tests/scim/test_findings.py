"""Findings of the outside security test against SCIM (docs/provisioning.md, "Limits"), one
section per finding; each test fails when its fix is reverted."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licensing import services
from licensing.models import DirectoryUser, GroupMembership
from portal.scim import filter as scim_filter
from portal.scim.patch import MAX_PATCH_OPERATIONS
from portal.scim.protocol import ScimError
from tests.factories import DirectoryUserFactory, GroupFactory, product
from tests.licensing.test_bad_input import snapshot

pytestmark = pytest.mark.django_db
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def refusal(response) -> tuple[int, str | None]:
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(response.status_code)
    return response.status_code, body.get("scimType")


# -- F3: filters parse in linear time, and their length is capped -------------------------------


def test_a_filter_of_fifty_kilobytes_of_spaces_is_refused_at_once(scim):
    started = time.process_time()
    response = scim("GET", "/Users", query={"filter": "x" + " " * 50_000 + "x"})
    assert refusal(response) == (400, "invalidFilter")
    assert time.process_time() - started < 1


@pytest.mark.parametrize(
    "text",
    [
        " " * 200_000,
        'userName eq "a"' + " and" * 50_000,
        'userName eq "' + "\\" * 100_001,
        "a " * 100_000,
        'userName eq "x" and ' * 20_000 + "userName",
    ],
    ids=["spaces", "ands", "backslashes", "words", "conjuncts"],
)
def test_the_filter_parser_takes_linear_time(text):
    started = time.process_time()
    with pytest.raises(ScimError) as refused:
        scim_filter.filter_conditions(text, scim_filter.USER_FILTERS)
    assert refused.value.scim_type == "invalidFilter"
    assert time.process_time() - started < 1


def test_a_filter_at_the_length_cap_is_parsed_and_one_past_it_is_refused(scim, tenant):
    DirectoryUserFactory(tenant=tenant, user_principal_name="adele@contoso.com")
    text = 'userName eq "adele@contoso.com"'
    padded = text + " " * (scim_filter.MAX_FILTER_CHARS - len(text))
    found = scim("GET", "/Users", query={"filter": padded}).json()
    assert found["totalResults"] == 1
    assert refusal(scim("GET", "/Users", query={"filter": padded + " "})) == (400, "invalidFilter")


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "a\\qb"',
        'userName eq "a\\u0000b"',
        'userName eq "\\ud800"',
        'userName eq "a\\u00"',
        'userName eq "tab\tinside"',
        'userName eq "unterminated',
        'userName eq "a" or userName eq "b"',
        'userName eq "a" and',
        "userName pr",
    ],
)
def test_malformed_filters_and_escapes_are_invalid_filter(scim, text):
    response = scim("GET", "/Users", query={"filter": text})
    assert refusal(response) == (400, "invalidFilter")


def test_filters_decode_json_escapes_and_join_with_and_in_any_case(scim, tenant):
    DirectoryUserFactory(tenant=tenant, user_principal_name="o'neil@contoso.com", external_id="x")
    text = 'userName  EQ  "o\\u0027neil@contoso.com"  AND externalId eq "\\x"'.replace("\\x", "x")
    found = scim("GET", "/Users", query={"filter": text}).json()
    assert found["totalResults"] == 1
    emoji = scim("GET", "/Users", query={"filter": 'displayName eq "\\ud83d\\ude00"'})
    assert emoji.status_code == 200 and emoji.json()["totalResults"] == 0


# -- F4: a PATCH has at most MAX_PATCH_OPERATIONS operations; the seats are locked once ---------


def _member_operations(users) -> list[dict]:
    return [{"op": "add", "path": "members", "value": [{"value": str(u.public_id)}]} for u in users]


def test_a_patch_of_more_operations_than_the_cap_is_refused_and_changes_nothing(scim, tenant):
    group = GroupFactory(tenant=tenant)
    people = DirectoryUserFactory.create_batch(3, tenant=tenant)
    operations = _member_operations(people) * (MAX_PATCH_OPERATIONS // 3 + 1)
    assert len(operations) > MAX_PATCH_OPERATIONS
    before = snapshot()
    response = scim(
        "PATCH", f"/Groups/{group.public_id}", {"schemas": [PATCH], "Operations": operations}
    )
    assert refusal(response) == (400, "invalidValue")
    assert str(MAX_PATCH_OPERATIONS) in response.json()["detail"]
    assert snapshot() == before
    at_cap = operations[:MAX_PATCH_OPERATIONS]
    ok = scim("PATCH", f"/Groups/{group.public_id}", {"schemas": [PATCH], "Operations": at_cap})
    assert ok.status_code == 200
    assert GroupMembership.objects.filter(group=group).count() == 3


def _seat_locks(scim, group, operations) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = scim(
            "PATCH", f"/Groups/{group.public_id}", {"schemas": [PATCH], "Operations": operations}
        )
    assert response.status_code == 200, response.content
    return sum("FOR UPDATE" in q["sql"] for q in queries.captured_queries)


def test_member_operations_of_one_patch_lock_the_seats_once(scim, tenant, buy):
    buy("AAD_PREMIUM", 100)
    licensed = GroupFactory(tenant=tenant)
    services.group_assign_products(
        tenant=tenant, group=licensed, products={product("AAD_PREMIUM"): []}, actor=None
    )
    one = _seat_locks(
        scim, licensed, _member_operations(DirectoryUserFactory.create_batch(1, tenant=tenant))
    )
    people = DirectoryUserFactory.create_batch(40, tenant=tenant)
    gone = people[:5]
    operations = [
        *_member_operations(people),
        *({"op": "remove", "path": f'members[value eq "{u.public_id}"]'} for u in gone),
    ]
    many = _seat_locks(scim, licensed, operations)
    assert many <= one + 1  # one lock for the members leaving, one for those joining
    members = set(GroupMembership.objects.filter(group=licensed).values_list("user_id", flat=True))
    assert {u.id for u in people[5:]} <= members and not {u.id for u in gone} & members


def test_a_user_patch_changes_the_profile_before_it_locks_the_seats(scim, tenant, buy):
    buy("AAD_PREMIUM", 1)
    person = DirectoryUserFactory(tenant=tenant, usage_location="NL")
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[person], actor=None
    )
    services.user_soft_delete(tenant=tenant, user=person, actor=None)
    operations = [
        {"op": "replace", "path": "active", "value": True},
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {"op": "replace", "path": 'addresses[type eq "work"].country', "value": "BE"},
    ]
    with CaptureQueriesContext(connection) as queries:
        response = scim(
            "PATCH", f"/Users/{person.public_id}", {"schemas": [PATCH], "Operations": operations}
        )
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    first_lock = next(i for i, q in enumerate(sql) if "FOR UPDATE" in q)
    renamed = next(i for i, q in enumerate(sql) if q.startswith("UPDATE") and "display_name" in q)
    assert renamed < first_lock
    person.refresh_from_db()
    assert (person.display_name, person.usage_location, person.is_soft_deleted) == (
        "Renamed",
        "BE",
        False,
    )
    assert DirectoryUser.objects.count() == 1


# -- F18: a rename onto a taken userName is 409 uniqueness, as a create is ----------------------


def test_renaming_onto_a_taken_user_name_is_409_uniqueness(scim, tenant):
    DirectoryUserFactory(tenant=tenant, user_principal_name="taken@contoso.com")
    person = DirectoryUserFactory(tenant=tenant, user_principal_name="free@contoso.com")
    before = snapshot()
    for body in (
        {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "path": "userName", "value": "TAKEN@contoso.com"}],
        },
        {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "value": {"userName": "taken@contoso.com"}}],
        },
    ):
        assert refusal(scim("PATCH", f"/Users/{person.public_id}", body)) == (409, "uniqueness")
    put = {"userName": "taken@contoso.com", "displayName": "Free", "active": True}
    assert refusal(scim("PUT", f"/Users/{person.public_id}", put)) == (409, "uniqueness")
    assert snapshot() == before


# -- F6, F7, F9, F17: hostile strings and numbers are SCIM's 400, never a 500 --------------------

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
HOSTILE_TEXT = {
    "nul": "a\x00b",
    "overlong": "x" * 300,
    "object": {"a": 1},
    "number": 5,
    "list": ["a"],
    "bidi-override": "\u202enimda",
    "zero-width": "ad\u200bmin",
    "control": "a\x1bb",
}


def _user_body(**values):
    body = {"userName": "new@contoso.com", "displayName": "New", "active": True}
    for name, value in values.items():
        if name == "department":
            body[ENTERPRISE] = {"department": value}
        else:
            body[name] = value
    return body


@pytest.mark.parametrize("value", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
@pytest.mark.parametrize("name", ["userName", "displayName", "externalId", "title", "department"])
def test_a_hostile_user_attribute_is_refused_and_changes_nothing(scim, tenant, name, value):
    person = DirectoryUserFactory(tenant=tenant, user_principal_name="old@contoso.com")
    before = snapshot()
    created = scim("POST", "/Users", _user_body(**{name: value}))
    assert refusal(created)[0] == 400, created.content
    path = f"{ENTERPRISE}:department" if name == "department" else name
    for operation in (
        {"op": "replace", "path": path, "value": value},
        {"op": "replace", "value": {path: value}},
    ):
        patched = scim(
            "PATCH", f"/Users/{person.public_id}", {"schemas": [PATCH], "Operations": [operation]}
        )
        assert refusal(patched)[0] == 400, patched.content
    replacement = {**_user_body(**{name: value})}
    if name != "userName":
        replacement["userName"] = "old@contoso.com"
    put = scim("PUT", f"/Users/{person.public_id}", replacement)
    assert refusal(put)[0] == 400, put.content
    assert snapshot() == before


@pytest.mark.parametrize("value", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
@pytest.mark.parametrize("name", ["displayName", "externalId"])
def test_a_hostile_group_attribute_is_refused_and_changes_nothing(scim, tenant, name, value):
    group = GroupFactory(tenant=tenant, name="Sales")
    before = snapshot()
    created = scim("POST", "/Groups", {"displayName": "New", **{name: value}})
    assert refusal(created)[0] == 400, created.content
    for operation in (
        {"op": "replace", "path": name, "value": value},
        {"op": "replace", "value": {name: value}},
    ):
        patched = scim(
            "PATCH", f"/Groups/{group.public_id}", {"schemas": [PATCH], "Operations": [operation]}
        )
        assert refusal(patched)[0] == 400, patched.content
    put = scim("PUT", f"/Groups/{group.public_id}", {"displayName": "Sales", **{name: value}})
    assert refusal(put)[0] == 400, put.content
    assert snapshot() == before


@pytest.mark.parametrize("value", [{"country": "NL"}, ["NL"], 31, "N\x00L"])
def test_a_country_that_is_not_a_code_is_refused(scim, tenant, value):
    person = DirectoryUserFactory(tenant=tenant)
    before = snapshot()
    operation = {"op": "replace", "path": 'addresses[type eq "work"].country', "value": value}
    patched = scim(
        "PATCH", f"/Users/{person.public_id}", {"schemas": [PATCH], "Operations": [operation]}
    )
    assert refusal(patched)[0] == 400
    assert snapshot() == before


@pytest.mark.parametrize("name", ["startIndex", "count"])
@pytest.mark.parametrize("value", [str(10**30), "²", "1_000", "1e3", "١"])
def test_paging_numbers_out_of_range_or_not_ascii_are_invalid_value(scim, name, value):
    assert refusal(scim("GET", "/Users", query={name: value})) == (400, "invalidValue")


def test_nul_anywhere_in_a_body_is_refused(scim, tenant):
    body = {**_user_body(), "name": {"givenName": "a\x00"}}
    before = snapshot()
    assert refusal(scim("POST", "/Users", body)) == (400, "invalidValue")
    assert snapshot() == before


# -- F8: bodies over the limit, or nested too deep, are SCIM's own 413 and 400 ------------------


def test_a_body_over_the_limit_is_413_in_scims_schema(scim, tenant):
    body = {**_user_body(), "pad": "x" * (3 * 1024 * 1024)}
    before = snapshot()
    response = scim("POST", "/Users", body)
    assert refusal(response) == (413, None)
    assert "1 MB" in response.json()["detail"] or "1048576" in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize("depth", [100, 100_000])
def test_a_deeply_nested_body_is_invalid_syntax(client, scim, tenant, depth):
    before = snapshot()
    nested = "[" * depth + "]" * depth
    response = scim("POST", "/Users", None, raw=f'{{"userName": "a@b.c", "x": {nested}}}')
    assert refusal(response) == (400, "invalidSyntax")
    assert snapshot() == before


# -- F17: one rule for names, in the directory service, for sync, SCIM and the portal -----------

CHARACTERS = [
    "\x00",
    "\x07",
    "\t",
    "\x7f",
    "\x85",
    "\u061c",
    "\u200b",
    "\u200e",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
    "\ufeff",
    "\u00ad",
    "é",
    "ß",
    "·",
    "'",
    "-",
]


@pytest.mark.parametrize("char", CHARACTERS, ids=[f"U+{ord(c):04X}" for c in CHARACTERS])
def test_sync_and_scim_refuse_exactly_the_names_the_service_refuses(scim, tenant, char):
    from licensing.errors import InvalidInput
    from licensing.services.sync import SyncFileError, parse_export

    name = f"Ad{char}min"
    try:
        services.user_create(
            tenant=tenant, user_principal_name="svc@contoso.com", display_name=name, actor=None
        )
        service_refuses = False
    except InvalidInput:
        service_refuses = True
    scim_refuses = (
        scim(
            "POST", "/Users", _user_body(userName="scim@contoso.com", displayName=name)
        ).status_code
        == 400
    )
    line = f"sync@contoso.com,{name},NL,true\n".replace("\x00", "\x01")  # NUL: the file's own check
    try:
        parse_export(
            b"userPrincipalName,displayName,usageLocation,accountEnabled\n" + line.encode()
        )
        sync_refuses = False
    except SyncFileError:
        sync_refuses = True
    if char != "\x00":
        assert sync_refuses == service_refuses
    assert scim_refuses == service_refuses
    assert service_refuses == (char not in {"é", "ß", "·", "'", "-", "\u00ad"})
