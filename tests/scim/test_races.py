"""F5: requests that race to create the same name or membership (docs/provisioning.md,
docs/api.md). Real threads, each with its own PostgreSQL connection; every thread checks that
the name or member is free before any of them writes (a barrier after the check), so the
database's unique constraint decides: SCIM answers 409 ``uniqueness``, Graph its 400, never a
500, and exactly one row is made."""

from __future__ import annotations

import contextlib
import json
import threading

import pytest
from django.db import connection
from django.test import Client

from licensing import services
from licensing.models import DirectoryUser, GroupMembership
from licensing.services import directory, provisioning
from licensing.services import groups as group_services
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, product

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]
THREADS = 6
SCIM = "application/scim+json"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _race(calls: list) -> list[tuple[int, dict]]:
    """Run each call in its own thread and connection, all at once; their (status, body)."""
    start = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(i, call):
        try:
            start.wait(timeout=30)
            response = call(Client(raise_request_exception=False))
            is_json = response.get("Content-Type", "").endswith("json")
            body = json.loads(response.content) if is_json else {"page": response.status_code}
            answers[i] = (response.status_code, body)
        except Exception as crash:
            answers[i] = (0, {"crash": repr(crash)})
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


@pytest.fixture
def checked_together(monkeypatch):
    """After ``wrap(module, name)``, every thread waits after calling ``name`` until all have:
    each has made its check before anyone writes."""

    def wrap(module, name: str, parties: int = THREADS):
        original = getattr(module, name)
        barrier = threading.Barrier(parties)

        def waiting(*args, **kwargs):
            result = original(*args, **kwargs)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
            return result

        monkeypatch.setattr(module, name, waiting)

    return wrap


@pytest.fixture
def contoso(transactional_catalog):
    tenant = TenantFactory(name="Contoso", initial_domain="contoso.onmicrosoft.com")
    _token, raw = services.scim_token_issue(tenant=tenant, actor=None)
    return tenant, raw


def _scim(tenant, token, method: str, url: str, body: dict):
    def call(client):
        return client.generic(
            method,
            f"/scim/v2/{tenant.public_id}{url}",
            json.dumps(body),
            content_type=SCIM,
            headers={"Authorization": f"Bearer {token}"},
        )

    return call


def _outcomes(answers) -> list:
    return sorted((status, body.get("scimType")) for status, body in answers)


def test_parallel_creates_of_one_user_name_make_one_user_and_409s(contoso, checked_together):
    tenant, token = contoso
    checked_together(directory, "_refuse_taken")
    body = {"userName": "megan@contoso.com", "displayName": "Megan", "active": True}
    answers = _race([_scim(tenant, token, "POST", "/Users", body) for _ in range(THREADS)])
    assert _outcomes(answers) == [(201, None)] + [(409, "uniqueness")] * (THREADS - 1), answers
    assert DirectoryUser.objects.filter(tenant=tenant).count() == 1


def test_parallel_renames_to_one_user_name_rename_one_and_409_the_rest(contoso, checked_together):
    tenant, token = contoso
    people = DirectoryUserFactory.create_batch(THREADS, tenant=tenant)
    checked_together(directory, "_refuse_taken")
    rename = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "userName", "value": "same@contoso.com"}],
    }
    answers = _race(
        [_scim(tenant, token, "PATCH", f"/Users/{u.public_id}", rename) for u in people]
    )
    assert _outcomes(answers) == [(200, None)] + [(409, "uniqueness")] * (THREADS - 1), answers
    assert DirectoryUser.objects.filter(user_principal_name="same@contoso.com").count() == 1


def _licensed_group(tenant):
    services.subscription_create(
        tenant=tenant, product=product("AAD_PREMIUM"), units=10, start_date="2026-01-01", actor=None
    )
    group = GroupFactory(tenant=tenant)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=None
    )
    return group


def test_parallel_scim_adds_of_one_member_make_one_membership(contoso, checked_together):
    tenant, token = contoso
    group, person = _licensed_group(tenant), DirectoryUserFactory(tenant=tenant)
    checked_together(group_services, "hold_seats")
    add = {
        "schemas": [PATCH],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": str(person.public_id)}]}
        ],
    }
    answers = _race(
        [_scim(tenant, token, "PATCH", f"/Groups/{group.public_id}", add) for _ in range(THREADS)]
    )
    outcomes = _outcomes(answers)
    assert set(outcomes) <= {(200, None), (409, "uniqueness")}, answers
    assert (200, None) in outcomes
    assert GroupMembership.objects.filter(group=group, user=person).count() == 1


def test_parallel_graph_adds_of_one_member_make_one_membership(contoso, checked_together):
    tenant, _token = contoso
    group, person = _licensed_group(tenant), DirectoryUserFactory(tenant=tenant)
    app, secret = services.app_register(tenant=tenant, name="Script", actor=None)
    token = (
        Client()
        .post(
            f"/{tenant.public_id}/oauth2/v2.0/token",
            {
                "grant_type": "client_credentials",
                "client_id": str(app.client_id),
                "client_secret": secret,
                "scope": "https://graph.microsoft.com/.default",
            },
        )
        .json()["access_token"]
    )
    checked_together(group_services, "hold_seats")
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{person.public_id}"}

    def add(client):
        return client.post(
            f"/v1.0/groups/{group.public_id}/members/$ref",
            json.dumps(ref),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )

    answers = _race([add] * THREADS)
    statuses = sorted(status for status, _body in answers)
    assert statuses == [204] + [400] * (THREADS - 1), answers
    assert all(
        "already exist" in body["error"]["message"] for status, body in answers if status == 400
    )
    assert GroupMembership.objects.filter(group=group, user=person).count() == 1


def test_two_writers_with_one_version_one_changes_and_the_other_gets_412(contoso, checked_together):
    """Both read the same version and PATCH on condition of it (If-Match). Each thread waits
    after its version check until the other has made its own (or 5 seconds): the row is locked
    before the check, so the second waits for the first to commit, finds the version changed
    and is refused; checked without the lock, both would pass and both write."""
    tenant, token = contoso
    person = DirectoryUserFactory(tenant=tenant)
    read = _scim(tenant, token, "GET", f"/Users/{person.public_id}", {})(Client())
    version = read.json()["meta"]["version"]
    assert read["ETag"] == version
    checked_together(provisioning, "user_version", parties=2)

    def titled(title):
        change = {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "path": "title", "value": title}],
        }

        def call(client):
            return client.patch(
                f"/scim/v2/{tenant.public_id}/Users/{person.public_id}",
                json.dumps(change),
                content_type=SCIM,
                headers={"Authorization": f"Bearer {token}", "If-Match": version},
            )

        return call

    answers = _race([titled("CFO"), titled("CEO")])
    assert sorted(status for status, _body in answers) == [200, 412], answers
    won = next(body for status, body in answers if status == 200)
    assert DirectoryUser.objects.get(id=person.id).job_title == won["title"]
    lost = next(body for status, body in answers if status == 412)
    assert lost["status"] == "412" and "changed" in lost["detail"]
