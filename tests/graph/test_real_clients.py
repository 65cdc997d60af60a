"""The official clients, unmodified, against the portal on a live TLS server: azure-identity's
``ClientSecretCredential`` gets its token from the portal's token endpoint, and msgraph-sdk
makes every licensing call with its base URL pointed at the portal."""

from __future__ import annotations

import pytest
from azure.identity import ClientSecretCredential
from msgraph.generated.groups.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody as GroupAssignBody,
)
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.user import User
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import PageIterator

from licensing import services
from licensing.models import AuditEvent, GroupMembership, UserLicense
from tests.factories import DirectoryUserFactory, GroupFactory, SubscriptionFactory, product
from tests.graph.conftest import SCOPES, client_for, run

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_official_sdk_runs_a_licensing_script_unmodified(tls_server, contoso):
    host, ca_file = tls_server
    SubscriptionFactory(tenant=contoso, product=product("ENTERPRISEPACK"), units=2)
    SubscriptionFactory(tenant=contoso, product=product("EMS"), units=3, status="Warning")
    people = DirectoryUserFactory.create_batch(5, tenant=contoso)
    app, secret = services.app_register(tenant=contoso, name="Nightly script", actor=None)
    graph = client_for(host, ca_file, contoso, app.client_id, secret)
    e3, ems = product("ENTERPRISEPACK"), product("EMS")
    group = GroupFactory(tenant=contoso, name="Sales")
    # (No ORM inside the coroutines: it would open a database session of its own context.)
    yammer = "7547a3fe-08ee-4ccb-b430-5077c5041653"

    async def script():
        skus = (await graph.subscribed_skus.get()).value
        by_part = {s.sku_part_number: s for s in skus}
        assert by_part["ENTERPRISEPACK"].prepaid_units.enabled == 2
        assert by_part["EMS"].prepaid_units.warning == 3
        assert by_part["EMS"].prepaid_units.enabled == 0
        assert by_part["ENTERPRISEPACK"].consumed_units == 0
        assert len(by_part["ENTERPRISEPACK"].service_plans) == 8

        body = AssignLicensePostRequestBody(
            add_licenses=[AssignedLicense(sku_id=e3.sku_id, disabled_plans=[yammer])],
            remove_licenses=[],
        )
        first = await graph.users.by_user_id(str(people[0].public_id)).assign_license.post(body)
        assert first.id == str(people[0].public_id)
        await graph.users.by_user_id(people[1].user_principal_name).assign_license.post(body)
        skus = (await graph.subscribed_skus.get()).value
        assert {s.sku_part_number: s.consumed_units for s in skus}["ENTERPRISEPACK"] == 2

        # Seats run out: Graph's error, our license error in innerError.
        with pytest.raises(ODataError) as refused:
            await graph.users.by_user_id(str(people[2].public_id)).assign_license.post(body)
        assert refused.value.response_status_code == 400
        assert refused.value.error.code == "Request_BadRequest"
        assert refused.value.error.message == (
            f"Subscription with SKU {e3.sku_id} does not have any available licenses."
        )
        assert refused.value.error.inner_error.additional_data["code"] == "CountViolation"
        assert refused.value.error.inner_error.request_id

        config = UsersRequestBuilder.UsersRequestBuilderGetRequestConfiguration(
            query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                select=["id", "assignedLicenses", "licenseAssignmentStates", "usageLocation"],
                top=2,
            )
        )
        page = await graph.users.get(request_configuration=config)
        assert len(page.value) == 2 and page.odata_next_link.startswith(f"https://{host}/")
        seen: list[User] = []
        walker = PageIterator(page, graph.request_adapter)

        def collect(user: User) -> bool:
            seen.append(user)
            return True

        await walker.iterate(collect)
        assert sorted(u.id for u in seen) == sorted(str(p.public_id) for p in people)
        licensed = {u.id: u for u in seen}[str(people[0].public_id)]
        assert licensed.assigned_licenses[0].sku_id == e3.sku_id
        assert [str(p) for p in licensed.assigned_licenses[0].disabled_plans] == [yammer]
        state = licensed.license_assignment_states[0]
        assert (state.state, state.error, state.assigned_by_group) == ("Active", "None", None)

        details = (
            await graph.users.by_user_id(str(people[0].public_id)).license_details.get()
        ).value
        assert details[0].sku_part_number == "ENTERPRISEPACK"

        # A group: members, then a license processed in the background.
        for who in people[2:4]:
            await graph.groups.by_group_id(str(group.public_id)).members.ref.post(
                ReferenceCreate(
                    odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{who.public_id}"
                )
            )
        assigned = await graph.groups.by_group_id(str(group.public_id)).assign_license.post(
            GroupAssignBody(
                add_licenses=[AssignedLicense(sku_id=ems.sku_id, disabled_plans=[])],
                remove_licenses=[],
            )
        )
        assert assigned.id == str(group.public_id)
        fetched = await graph.groups.by_group_id(str(group.public_id)).get()
        assert fetched.display_name == "Sales"
        members = (await graph.groups.by_group_id(str(group.public_id)).members.get()).value
        assert sorted(m.id for m in members) == sorted(str(p.public_id) for p in people[2:4])
        assert all(m.odata_type == "#microsoft.graph.user" for m in members)
        await (
            graph.groups.by_group_id(str(group.public_id))
            .members.by_directory_object_id(str(people[3].public_id))
            .ref.delete()
        )

        # Not found, in Graph's envelope.
        with pytest.raises(ODataError) as missing:
            await graph.users.by_user_id("00000000-0000-0000-0000-000000000001").get()
        assert missing.value.response_status_code == 404
        assert missing.value.error.code == "Request_ResourceNotFound"

    run(script())
    assert UserLicense.objects.filter(
        user=people[2], product=product("EMS"), state="Active"
    ).exists()
    assert not GroupMembership.objects.filter(user=people[3]).exists()
    actors = set(
        AuditEvent.objects.filter(tenant=contoso, activity="Change user license").values_list(
            "actor_name", flat=True
        )
    )
    assert actors == {app.actor}


def test_the_credential_is_refused_like_entra_with_a_wrong_secret(tls_server, contoso):
    from azure.core.exceptions import ClientAuthenticationError

    host, ca_file = tls_server
    app, _ = services.app_register(tenant=contoso, name="Script", actor=None)
    credential = ClientSecretCredential(
        tenant_id=contoso.initial_domain,
        client_id=str(app.client_id),
        client_secret="not-the-secret",
        authority=f"https://{host}",
        disable_instance_discovery=True,
        connection_verify=ca_file,
    )
    with pytest.raises(ClientAuthenticationError) as refused:
        credential.get_token(*SCOPES)
    assert "AADSTS7000215" in str(refused.value)


def test_a_read_only_app_reads_and_is_refused_changes(tls_server, contoso):
    host, ca_file = tls_server
    SubscriptionFactory(tenant=contoso, product=product("ENTERPRISEPACK"), units=2)
    person = DirectoryUserFactory(tenant=contoso)
    app, secret = services.app_register(
        tenant=contoso, name="Reporting", read_only=True, actor=None
    )
    graph = client_for(host, ca_file, contoso, app.client_id, secret)
    e3 = product("ENTERPRISEPACK")

    async def script():
        assert len((await graph.subscribed_skus.get()).value) == 1
        with pytest.raises(ODataError) as refused:
            await graph.users.by_user_id(str(person.public_id)).assign_license.post(
                AssignLicensePostRequestBody(
                    add_licenses=[AssignedLicense(sku_id=e3.sku_id)],
                    remove_licenses=[],
                )
            )
        assert refused.value.response_status_code == 403
        assert refused.value.error.code == "Authorization_RequestDenied"

    run(script())
    assert not UserLicense.objects.exists()
