"""Microsoft's JavaScript clients, unmodified, against the portal on a live TLS server:
``@azure/identity``'s ClientSecretCredential gets its token from the portal's token endpoint and
``@microsoft/microsoft-graph-client`` makes the calls, in a script an admin would write
(tests/js/licensing-script.mjs), run by Node with the test CA in NODE_EXTRA_CA_CERTS.

Adding a call is one function in the script's ``steps`` and one assertion on its printed
result here. The packages are the exact versions of tests/js/package-lock.json, installed by
``make test`` (``npm ci``); without Node or them these tests fail, never skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from licensing import services
from licensing.models import AuditEvent, UserLicense
from tests.factories import (
    DirectoryUserFactory,
    GroupFactory,
    SubscriptionFactory,
    plan_id,
    product,
)

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "licensing-script.mjs"
# One package of the lock stands for all of them: `npm ci` installs the whole tree or nothing.
INSTALLED = JS_DIR / "node_modules" / "@microsoft" / "microsoft-graph-client" / "package.json"


def node_or_fail(js_dir: Path = JS_DIR) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js not found: `make test` installs it (scripts/ensure-node), "
            "or apt-get install nodejs npm",
            pytrace=False,
        )
    if not (js_dir / "node_modules" / INSTALLED.relative_to(JS_DIR / "node_modules")).is_file():
        pytest.fail(
            f"the JavaScript clients are not installed in {js_dir}/node_modules: "
            f"`make test` installs them, or run `npm ci` in {js_dir}",
            pytrace=False,
        )
    return node


def run_script(host: str, ca_file: str, tenant, client_id, secret, *steps: str) -> dict:
    """Run the script as an admin would, with one app's credentials; its JSON output."""
    node = node_or_fail()
    env = {
        **os.environ,
        "NODE_EXTRA_CA_CERTS": ca_file,
        "GRAPH_PORTAL": f"https://{host}",
        "GRAPH_TENANT": tenant,
        "GRAPH_CLIENT_ID": str(client_id),
        "GRAPH_CLIENT_SECRET": secret,
    }
    done = subprocess.run(
        [node, str(SCRIPT), *steps],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_javascript_client_runs_a_licensing_script_unmodified(tls_server, contoso):
    host, ca_file = tls_server
    e3, ems = product("ENTERPRISEPACK"), product("EMS")
    SubscriptionFactory(tenant=contoso, product=e3, units=2)
    SubscriptionFactory(tenant=contoso, product=ems, units=1, status="Warning")
    people = [DirectoryUserFactory(tenant=contoso) for _ in range(5)]
    # A group with more members than EMS has seats: one member has a license error.
    group = GroupFactory(tenant=contoso, name="Sales")
    services.group_add_members(tenant=contoso, group=group, users=people[3:], actor=None)
    services.group_assign_products(tenant=contoso, group=group, products={ems: []}, actor=None)
    app, secret = services.app_register(tenant=contoso, name="Nightly script", actor=None)

    out = run_script(
        host,
        ca_file,
        contoso.initial_domain,
        app.client_id,
        secret,
        "skus",
        "users=2",
        f"assign={people[0].user_principal_name},ENTERPRISEPACK,YAMMER_ENTERPRISE",
        f"assign={people[1].public_id},ENTERPRISEPACK",
        f"assign={people[2].public_id},ENTERPRISEPACK",
        "license-errors",
    )

    skus = {s["skuPartNumber"]: s for s in out["skus"]}
    assert skus["ENTERPRISEPACK"]["skuId"] == str(e3.sku_id)
    assert skus["ENTERPRISEPACK"]["consumedUnits"] == 0
    assert skus["ENTERPRISEPACK"]["prepaidUnits"]["enabled"] == 2
    assert skus["ENTERPRISEPACK"]["servicePlans"] == 8
    assert skus["EMS"]["prepaidUnits"] == {
        "enabled": 0,
        "warning": 1,
        "suspended": 0,
        "lockedOut": 0,
    }
    assert skus["EMS"]["consumedUnits"] == 1

    # $top=2, then PageIterator follows @odata.nextLink to the portal: every user once.
    listing = out["users=2"]
    assert listing["firstPage"] == 2
    assert listing["firstNextLink"].startswith(f"https://{host}/v1.0/users?")
    assert sorted(u["id"] for u in listing["users"]) == sorted(str(p.public_id) for p in people)
    by_id = {u["id"]: u for u in listing["users"]}
    assert by_id[str(people[3].public_id)]["assignedLicenses"] == [
        {"skuId": str(ems.sku_id), "disabledPlans": []}
    ]
    assert by_id[str(people[0].public_id)]["assignedLicenses"] == []

    # A license without Yammer, by userPrincipalName; licenseDetails read back.
    first = out[f"assign={people[0].user_principal_name},ENTERPRISEPACK,YAMMER_ENTERPRISE"]
    assert first["id"] == str(people[0].public_id)
    assert first["assignedLicenses"] == [
        {"skuId": str(e3.sku_id), "disabledPlans": [plan_id("YAMMER_ENTERPRISE")]}
    ]
    (details,) = first["licenseDetails"]
    assert details["skuPartNumber"] == "ENTERPRISEPACK"
    assert details["servicePlans"]["YAMMER_ENTERPRISE"] == "Disabled"
    assert details["servicePlans"]["EXCHANGE_S_ENTERPRISE"] == "Success"
    (second,) = out[f"assign={people[1].public_id},ENTERPRISEPACK"]["licenseDetails"]
    assert second["servicePlans"]["YAMMER_ENTERPRISE"] == "Success"

    # The seats have run out: the client's GraphError, with Graph's code and ours inside.
    refused = out[f"assign={people[2].public_id},ENTERPRISEPACK"]["graphError"]
    assert refused["statusCode"] == 400
    assert refused["code"] == "Request_BadRequest"
    assert refused["message"] == (
        f"Subscription with SKU {e3.sku_id} does not have any available licenses."
    )
    assert refused["innerCode"] == "CountViolation"
    assert refused["requestId"]

    # The group's member without a seat.
    (errored,) = out["license-errors"]["Sales"]
    assert errored["id"] == str(people[4].public_id)
    assert errored["type"] == "#microsoft.graph.user"

    assert set(
        UserLicense.objects.filter(product=e3, state="Active").values_list("user", flat=True)
    ) == {people[0].id, people[1].id}
    assert not UserLicense.objects.filter(user=people[2]).exists()
    actors = set(
        AuditEvent.objects.filter(tenant=contoso, activity="Change user license").values_list(
            "actor_name", flat=True
        )
    )
    assert actors == {app.actor}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_read_only_app_is_refused_a_change_with_the_clients_graph_error(tls_server, contoso):
    host, ca_file = tls_server
    SubscriptionFactory(tenant=contoso, product=product("ENTERPRISEPACK"), units=2)
    person = DirectoryUserFactory(tenant=contoso)
    app, secret = services.app_register(
        tenant=contoso, name="Reporting", read_only=True, actor=None
    )

    out = run_script(
        host,
        ca_file,
        str(contoso.public_id),
        app.client_id,
        secret,
        "skus",
        f"assign={person.public_id},ENTERPRISEPACK",
    )

    assert [s["skuPartNumber"] for s in out["skus"]] == ["ENTERPRISEPACK"]
    refused = out[f"assign={person.public_id},ENTERPRISEPACK"]["graphError"]
    assert refused["statusCode"] == 403
    assert refused["code"] == "Authorization_RequestDenied"
    assert not UserLicense.objects.exists()


def test_without_the_installed_clients_the_test_fails_telling_how_to_install(tmp_path):
    with pytest.raises(pytest.fail.Exception) as failed:
        node_or_fail(tmp_path)
    assert "npm ci" in str(failed.value) and "make test" in str(failed.value)


def test_without_node_the_test_fails_telling_how_to_install(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception) as failed:
        node_or_fail()
    assert "Node.js not found" in str(failed.value) and "make test" in str(failed.value)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_javascript_client_batches_creates_deletes_restores_and_reads_the_audit_log(
    tls_server, contoso
):
    """The rest of what admins' scripts do, with the client's own BatchRequestContent: twenty
    assignLicense in one $batch (one short of seats), a joiner created, deleted and restored,
    and the audit events of it all, the app as their actor."""
    host, ca_file = tls_server
    e3 = product("ENTERPRISEPACK")
    SubscriptionFactory(tenant=contoso, product=e3, units=19)
    people = [DirectoryUserFactory(tenant=contoso) for _ in range(20)]
    app, secret = services.app_register(tenant=contoso, name="Joiners and leavers", actor=None)
    joiner = f"joiner@{contoso.initial_domain}"
    names = [p.user_principal_name for p in people]

    out = run_script(
        host,
        ca_file,
        contoso.initial_domain,
        app.client_id,
        secret,
        f"batch-assign=ENTERPRISEPACK,{','.join(names)}",
        f"lifecycle={joiner}",
        "audit=Change user license",
        "audit=Add user",
        "audit=Restore user",
    )

    statuses = out[f"batch-assign=ENTERPRISEPACK,{','.join(names)}"]
    assert sorted(statuses.values()) == [200] * 19 + [400]
    licensed = set(
        UserLicense.objects.filter(tenant=contoso, product=e3).values_list(
            "user__user_principal_name", flat=True
        )
    )
    assert licensed == {name for name, status in statuses.items() if status == 200}

    made = out[f"lifecycle={joiner}"]
    assert [d["id"] for d in made["deleted"]] == [made["id"]] and made["deleted"][0][
        "deletedDateTime"
    ]
    assert made["restored"] == {"id": made["id"], "userPrincipalName": joiner}
    user = contoso.users.get(public_id=made["id"])
    assert (user.soft_deleted_at, user.source, str(user.usage_location)) == (None, "cloud", "NL")

    changes = out["audit=Change user license"]
    assert len(changes) == 19
    assert {c["app"] for c in changes} == {str(app.client_id)}
    assert {c["category"] for c in changes} == {"UserManagement"}
    (added,) = out["audit=Add user"]
    (restored,) = out["audit=Restore user"]
    assert added["targets"] == restored["targets"] == [made["id"]]
    # 19 licenses, a user added, deleted and restored: each its own event, the app's.
    assert AuditEvent.objects.filter(tenant=contoso, actor_name=app.actor).count() == 22
