"""SCIM provisioning: the request sequences Microsoft documents for Entra ID's provisioning
service and Okta's PUT, and what they do to licenses (docs/provisioning.md)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licensing import processing, services
from licensing.models import AuditEvent, DirectoryUser, Group, UserLicense
from tests.factories import GroupFactory, TenantFactory, product
from tests.helpers import DATABASE_TASKS, assert_consistent, paths_of, seats

pytestmark = pytest.mark.django_db
SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def entra_user(upn="Test_User_dfeef4c5@contoso.com", external="0a21f0f2"):
    """The body Entra's provisioning service POSTs (Microsoft's SCIM tutorial)."""
    return {
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": external,
        "userName": upn,
        "active": True,
        "displayName": "Test User",
        "addresses": [{"type": "work", "country": "NL", "primary": True}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"},
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "f", "givenName": "g"},
        "roles": [],
    }


def test_entra_creates_matches_disables_and_enables_a_user(scim, tenant):
    absent = scim("GET", '/Users?filter=userName eq "Test_User_dfeef4c5@contoso.com"')
    assert absent.status_code == 200 and absent.json()["totalResults"] == 0
    created = scim("POST", "/Users", entra_user())
    assert created.status_code == 201
    body = created.json()
    assert created["Location"] == body["meta"]["location"]
    assert body["userName"] == "Test_User_dfeef4c5@contoso.com" and body["externalId"] == "0a21f0f2"
    user = DirectoryUser.objects.get(public_id=body["id"])
    assert (user.source, user.usage_location, user.department) == ("synced", "NL", "Sales")
    found = scim("GET", '/Users?filter=userName eq "test_user_dfeef4c5@contoso.com"').json()
    assert [r["id"] for r in found["Resources"]] == [body["id"]]
    assert scim("POST", "/Users", entra_user()).json()["scimType"] == "uniqueness"
    # Entra's "False" as a string, with the operation in any case.
    disable = {
        "schemas": [PATCH],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    assert scim("PATCH", f"/Users/{body['id']}", disable).json()["active"] is False
    assert DirectoryUser.objects.get(id=user.id).is_soft_deleted
    # Path-less replace with dotted keys (aadOptscim062020).
    pathless = {
        "schemas": [PATCH],
        "Operations": [
            {
                "op": "replace",
                "value": {
                    "active": True,
                    "displayName": "Renamed",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "HR",
                    'addresses[type eq "work"].country': "BE",
                },
            }
        ],
    }
    again = scim("PATCH", f"/Users/{body['id']}", pathless).json()
    assert (again["active"], again["displayName"], again["addresses"][0]["country"]) == (
        True,
        "Renamed",
        "BE",
    )
    actors = set(
        AuditEvent.objects.exclude(activity__contains="credentials").values_list(
            "actor_name", flat=True
        )
    )
    assert actors == {"Provisioning (SCIM)"}


def test_active_false_suspends_licenses_with_seats_kept_and_delete_frees_them(scim, tenant, buy):
    buy("AAD_PREMIUM", 1)
    body = scim("POST", "/Users", entra_user()).json()
    user = DirectoryUser.objects.get(public_id=body["id"])
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=None
    )
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    scim("PATCH", f"/Users/{body['id']}", off)
    assert paths_of(user) == {("AAD_PREMIUM", None, "Suspended", "")}
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1
    on = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": "True"}]}
    scim("PATCH", f"/Users/{body['id']}", on)
    assert paths_of(user) == {("AAD_PREMIUM", None, "Active", "")}
    assert scim("DELETE", f"/Users/{body['id']}").status_code == 204
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 0
    assert scim("GET", f"/Users/{body['id']}").status_code == 404
    assert_consistent(tenant)


def test_group_members_added_and_removed_drive_group_licensing(scim, tenant, buy, settings):
    buy("EMS", 5)
    people = [
        scim("POST", "/Users", entra_user(f"u{i}@contoso.com", f"x{i}")).json() for i in range(3)
    ]
    group = scim("POST", "/Groups", {"displayName": "Mobility", "externalId": "g1"}).json()
    services.group_assign_products(
        tenant=tenant,
        group=Group.objects.get(public_id=group["id"]),
        products={product("EMS"): []},
        actor=None,
    )
    settings.TASKS = DATABASE_TASKS  # the member change queues the group's run
    add = {
        "schemas": [PATCH],
        "Operations": [
            {"op": "Add", "path": "members", "value": [{"value": p["id"]} for p in people]}
        ],
    }
    answer = scim("PATCH", f"/Groups/{group['id']}", add)
    assert answer.status_code == 200
    assert {m["value"] for m in answer.json()["members"]} == {p["id"] for p in people}
    assert UserLicense.objects.filter(product=product("EMS"), state="Active").count() == 3
    remove = {
        "schemas": [PATCH],
        "Operations": [{"op": "Remove", "path": f'members[value eq "{people[0]["id"]}"]'}],
    }
    scim("PATCH", f"/Groups/{group['id']}", remove)
    first = DirectoryUser.objects.get(public_id=people[0]["id"])
    assert paths_of(first) == set()
    listed = scim("GET", '/Groups?filter=displayName eq "Mobility"&excludedAttributes=members')
    assert "members" not in listed.json()["Resources"][0]
    assert_consistent(tenant)


def test_okta_replaces_a_user_with_put(scim, tenant):
    body = scim("POST", "/Users", entra_user()).json()
    okta = {**entra_user(), "displayName": "Put Name", "active": False}
    replaced = scim("PUT", f"/Users/{body['id']}", okta).json()
    assert (replaced["displayName"], replaced["active"]) == ("Put Name", False)


def test_refusals_are_in_scims_error_schema_and_change_nothing(scim, tenant):
    assert scim("GET", "/Users", token="wrong").status_code == 401
    assert scim("GET", "/Users", token="wrong").json()["schemas"] == [
        "urn:ietf:params:scim:api:messages:2.0:Error"
    ]
    bad_filter = scim("GET", '/Users?filter=title co "x"')
    assert (bad_filter.status_code, bad_filter.json()["scimType"]) == (400, "invalidFilter")
    assert scim("POST", "/Users", {"displayName": "no name"}).json()["scimType"] == "invalidValue"
    assert scim("GET", "/Users/not-a-uuid").status_code == 404
    assert not DirectoryUser.objects.filter(tenant=tenant).exists()


def test_another_tenants_token_sees_nothing_of_this_tenant(scim, client, tenant):
    body = scim("POST", "/Users", entra_user()).json()
    other = TenantFactory(initial_domain="fabrikam.onmicrosoft.com")
    _token, raw = services.scim_token_issue(tenant=other, actor=None)
    headers = {"Authorization": f"Bearer {raw}"}
    # Its own endpoint does not know the user; this tenant's endpoint refuses the token.
    assert (
        client.get(f"/scim/v2/{other.public_id}/Users/{body['id']}", headers=headers).status_code
        == 404
    )
    assert client.get(f"/scim/v2/{tenant.public_id}/Users", headers=headers).status_code == 401
    group = GroupFactory(tenant=tenant)
    assert (
        client.get(
            f"/scim/v2/{other.public_id}/Groups/{group.public_id}", headers=headers
        ).status_code
        == 404
    )


def test_a_rotated_or_revoked_token_stops_working(scim, tenant):
    _first, raw = services.scim_token_issue(tenant=tenant, actor=None)
    assert scim("GET", "/Users", token=raw).status_code == 200
    _second, newer = services.scim_token_issue(tenant=tenant, actor=None)
    assert scim("GET", "/Users", token=raw).status_code == 401
    token = tenant.scim_tokens.get(revoked_at=None)
    services.scim_token_revoke(tenant=tenant, token=token, actor=None)
    assert scim("GET", "/Users", token=newer).status_code == 401


def test_create_scim_token_prints_the_endpoint_and_the_token(tenant, capsys):
    call_command("create_scim_token", "--tenant", tenant.initial_domain)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"SCIM endpoint: http://127.0.0.1:8000/scim/v2/{tenant.public_id}/"
    assert lines[1].startswith("Token: ") and len(lines[1]) > 40


def patch(*operations) -> dict:
    return {"schemas": [PATCH], "Operations": list(operations)}


def test_meta_last_modified_follows_changes_and_created_stays(scim, tenant):
    body = scim("POST", "/Users", entra_user()).json()
    assert body["meta"]["lastModified"] >= body["meta"]["created"]
    changed = scim(
        "PATCH", f"/Users/{body['id']}", patch({"op": "Replace", "path": "title", "value": "CFO"})
    ).json()
    assert changed["meta"]["created"] == body["meta"]["created"]
    assert changed["meta"]["lastModified"] > body["meta"]["created"]
    assert changed["meta"]["version"] != body["meta"]["version"]
    group = scim("POST", "/Groups", {"displayName": "Finance"}).json()
    joined = scim(
        "PATCH",
        f"/Groups/{group['id']}",
        patch({"op": "Add", "path": "members", "value": [{"value": body["id"]}]}),
    ).json()
    assert joined["meta"]["lastModified"] > group["meta"]["lastModified"]
    again = scim("GET", f"/Groups/{group['id']}").json()
    assert again["meta"]["lastModified"] == joined["meta"]["lastModified"]


def test_active_and_user_name_cannot_be_removed(scim, tenant):
    body = scim("POST", "/Users", entra_user()).json()
    for path in ("active", "userName"):
        refused = scim("PATCH", f"/Users/{body['id']}", patch({"op": "Remove", "path": path}))
        assert (refused.status_code, refused.json()["scimType"]) == (400, "mutability")
    user = DirectoryUser.objects.get(public_id=body["id"])
    assert (user.is_soft_deleted, user.user_principal_name) == (False, body["userName"])
    schema = scim("GET", f"/Schemas/{USER}").json()
    active = next(a for a in schema["attributes"] if a["name"] == "active")
    assert active["required"] is True


def test_a_disabled_user_joins_a_licensed_group_and_is_licensed_when_enabled(scim, tenant, buy):
    """A disabled user stays a member of the provider's groups: the membership is kept while
    the user is soft-deleted here, the group's license is not applied to them (no seat, no
    error), and enabling them applies it."""
    buy("EMS", 1)
    gone = scim("POST", "/Users", {**entra_user("gone@contoso.com", "g"), "active": False}).json()
    alive = scim("POST", "/Users", entra_user("alive@contoso.com", "a")).json()
    group = scim("POST", "/Groups", {"displayName": "Sales"}).json()
    services.group_assign_products(
        tenant=tenant,
        group=Group.objects.get(public_id=group["id"]),
        products={product("EMS"): []},
        actor=None,
    )
    answer = scim(
        "PATCH",
        f"/Groups/{group['id']}",
        patch(
            {
                "op": "Add",
                "path": "members",
                "value": [{"value": gone["id"]}, {"value": alive["id"]}],
            }
        ),
    )
    assert answer.status_code == 200
    assert {m["value"] for m in answer.json()["members"]} == {gone["id"], alive["id"]}
    disabled = DirectoryUser.objects.get(public_id=gone["id"])
    enabled = DirectoryUser.objects.get(public_id=alive["id"])
    assert paths_of(disabled) == set()
    assert paths_of(enabled) == {("EMS", "Sales", "Active", "")}
    scim(
        "PATCH", f"/Users/{gone['id']}", patch({"op": "Replace", "path": "active", "value": "True"})
    )
    # The one seat is taken: enabled now, the user waits for it (claim order).
    assert paths_of(disabled) == {("EMS", "Sales", "Error", "CountViolation")}
    assert_consistent(tenant)


def analyze() -> None:
    """As autovacuum does after a change this big: without it the planner takes the fresh
    tables for empty ones, and a check that joins them runs for minutes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE licensing_directoryuser, licensing_groupmembership, licensing_userlicense"
        )


def test_fifty_thousand_members_in_patches_of_a_thousand_are_applied_set_based(
    scim, tenant, buy, settings
):
    """Entra adds a large group's members in PATCHes of (at most) 1,000. Each PATCH costs the
    same few queries whatever the group's size, and the group's run processes the joiners
    only: the members before them are done (docs/provisioning.md)."""
    buy("EMS", 49_500)
    users = DirectoryUser.objects.bulk_create(
        [
            DirectoryUser(
                tenant=tenant,
                user_principal_name=f"member{i:05}@contoso.com",
                display_name=f"Member {i:05}",
            )
            for i in range(50_000)
        ],
        batch_size=5_000,
    )
    ids = [str(u.public_id) for u in users]
    analyze()
    group = scim("POST", "/Groups", {"displayName": "Everyone"}).json()
    stored = Group.objects.get(public_id=group["id"])
    services.group_assign_products(
        tenant=tenant, group=stored, products={product("EMS"): []}, actor=None
    )
    settings.TASKS = DATABASE_TASKS  # each PATCH queues the group's run; a worker runs it
    from django_tasks_db.models import DBTaskResult

    queries = []
    for start in range(0, 50_000, 1_000):
        values = [{"value": v} for v in ids[start : start + 1_000]]
        with CaptureQueriesContext(connection) as done:
            answer = scim(
                "PATCH",
                f"/Groups/{group['id']}",
                patch({"op": "Add", "path": "members", "value": values}),
            )
        queries.append(len(done))
        assert answer.status_code == 200, answer.content
        if start:
            assert "members" not in answer.json()  # not 50,000 values back each time
        state = Group.objects.get(id=stored.id)
        # Queued behind the members before: the run will process this PATCH's 1,000.
        assert (state.processing_done, state.processing_total) == (start, start + 1_000)
    # The same queries for the 2nd PATCH as for the 50th: nothing grows with the group (each
    # completes the previous PATCH's pending run of 1,000 first).
    assert max(queries[1:]) == min(queries[1:]) < 100, queries
    state = Group.objects.get(id=stored.id)
    task = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert task.args_kwargs["kwargs"]["run"] == state.processing_run
    assert processing.run_group(stored.id, state.processing_run) == {
        "assigned": 49_500,
        "failed": 500,
    }
    assert seats(tenant, "EMS")["assigned"] == 49_500
    analyze()
    waiting = UserLicense.objects.filter(product=product("EMS"), state="Error")
    assert set(waiting.values_list("user__user_principal_name", flat=True)) == {
        f"member{i:05}@contoso.com" for i in range(49_500, 50_000)
    }
    assert_consistent(tenant)
