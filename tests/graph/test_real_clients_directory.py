"""The official msgraph-sdk, unmodified, creating, deleting and restoring a user, querying
the directory with Graph's advanced queries and reading the audit log of what it did: each
call through the SDK's own request builders, against the portal on a live TLS server."""

from __future__ import annotations

import datetime

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
    DirectoryAuditsRequestBuilder,
)
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.user import User
from msgraph.generated.users.count.count_request_builder import CountRequestBuilder
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from licensing import services
from licensing.models import AuditEvent, DirectoryUser, UserLicense
from tests.factories import DirectoryUserFactory, SubscriptionFactory, product

# The live TLS server and the client as Microsoft documents it for a national cloud.
from tests.graph.conftest import client_for, run

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_sdk_creates_deletes_restores_a_user_and_reads_the_audit_log(tls_server, contoso):
    host, ca_file = tls_server
    SubscriptionFactory(tenant=contoso, product=product("ENTERPRISEPACK"), units=1)
    DirectoryUserFactory(tenant=contoso, display_name="Megan Bowen")
    app, secret = services.app_register(tenant=contoso, name="Joiners and leavers", actor=None)
    graph = client_for(host, ca_file, contoso, app.client_id, secret)
    e3 = product("ENTERPRISEPACK").sku_id
    started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    upn = "adele@contoso.onmicrosoft.com"

    def eventual(query_parameters) -> RequestConfiguration:
        config = RequestConfiguration(query_parameters=query_parameters)
        config.headers.add("ConsistencyLevel", "eventual")
        return config

    async def script():
        created = await graph.users.post(
            User(
                account_enabled=True,
                display_name="Adele Vance",
                mail_nickname="adele",
                user_principal_name=upn,
                password_profile=PasswordProfile(
                    force_change_password_next_sign_in=True, password="xWwvJ]6NMw+bWH-d"
                ),
            )
        )
        assert created.user_principal_name == upn and created.id

        # The SDK's PATCH body says "@odata.type": "#microsoft.graph.user".
        await graph.users.by_user_id(created.id).patch(User(usage_location="NL"))
        await graph.users.by_user_id(created.id).assign_license.post(
            AssignLicensePostRequestBody(
                add_licenses=[AssignedLicense(sku_id=e3, disabled_plans=[])], remove_licenses=[]
            )
        )

        with pytest.raises(ODataError) as taken:
            await graph.users.post(
                User(
                    account_enabled=True,
                    display_name="Adele again",
                    mail_nickname="adele2",
                    user_principal_name=upn.upper(),
                    password_profile=PasswordProfile(password="xWwvJ]6NMw+bWH-e"),
                )
            )
        assert taken.value.response_status_code == 400
        assert taken.value.error.message == (
            "Another object with the same value for property userPrincipalName already exists."
        )

        # Advanced queries: $count, $search and $orderby with ConsistencyLevel: eventual.
        found = await graph.users.get(
            request_configuration=eventual(
                UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                    count=True,
                    search='"displayName:adele"',
                    orderby=["displayName"],
                    select=["id", "displayName", "usageLocation"],
                )
            )
        )
        assert found.odata_count == 1
        assert [(u.id, u.usage_location) for u in found.value] == [(created.id, "NL")]
        everyone = await graph.users.count.get(
            request_configuration=eventual(
                CountRequestBuilder.CountRequestBuilderGetQueryParameters()
            )
        )
        assert everyone == 2
        with pytest.raises(ODataError) as plain:
            await graph.users.count.get()
        assert plain.value.error.message == "$count is not currently supported."

        await graph.users.by_user_id(created.id).delete()
        deleted = (await graph.directory.deleted_items.graph_user.get()).value
        assert [u.id for u in deleted] == [created.id]
        assert deleted[0].deleted_date_time >= started
        restored = await graph.directory.deleted_items.by_directory_object_id(
            created.id
        ).restore.post()
        assert isinstance(restored, User) and restored.id == created.id
        assert (await graph.users.by_user_id(created.id).get()).display_name == "Adele Vance"

        await graph.users.by_user_id(created.id).delete()
        await graph.directory.deleted_items.by_directory_object_id(created.id).delete()
        with pytest.raises(ODataError) as gone:
            await graph.directory.deleted_items.by_directory_object_id(created.id).get()
        assert gone.value.response_status_code == 404

        # The audit log of what the script did, newest first.
        since = started.strftime("%Y-%m-%dT%H:%M:%SZ")
        audits = await graph.audit_logs.directory_audits.get(
            request_configuration=RequestConfiguration(
                query_parameters=DirectoryAuditsRequestBuilder.DirectoryAuditsRequestBuilderGetQueryParameters(
                    filter=f"activityDateTime ge {since} and category eq 'UserManagement'",
                    top=50,
                )
            )
        )
        mine = [a for a in audits.value if a.target_resources[0].id == created.id]
        assert [a.activity_display_name for a in reversed(mine)] == [
            "Add user",
            "Update user",
            "Change user license",
            "Delete user",
            "Restore user",
            "Delete user",
            "Hard delete user",
        ]
        assert {a.initiated_by.app.app_id for a in mine} == {str(app.client_id)}
        assert all(a.result.value == "success" for a in mine)
        restores = await graph.audit_logs.directory_audits.get(
            request_configuration=RequestConfiguration(
                query_parameters=DirectoryAuditsRequestBuilder.DirectoryAuditsRequestBuilderGetQueryParameters(
                    filter="activityDisplayName eq 'Restore user'"
                )
            )
        )
        assert [a.target_resources[0].user_principal_name for a in restores.value] == [upn]
        return created.id

    created_id = run(script())
    assert not DirectoryUser.objects.filter(public_id=created_id).exists()
    assert not UserLicense.objects.exists()  # the permanent delete freed the seat
    assert set(
        AuditEvent.objects.filter(tenant=contoso, target_id=created_id).values_list(
            "actor_name", flat=True
        )
    ) == {app.actor}


def test_the_sdk_is_refused_a_patch_of_another_type(tls_server, contoso):
    from msgraph.generated.models.group import Group

    host, ca_file = tls_server
    person = DirectoryUserFactory(tenant=contoso)
    app, secret = services.app_register(tenant=contoso, name="Script", actor=None)
    graph = client_for(host, ca_file, contoso, app.client_id, secret)

    async def script():
        with pytest.raises(ODataError) as refused:
            # A group's body sent to a user (the SDK writes "#microsoft.graph.group").
            await graph.users.by_user_id(str(person.public_id)).patch(Group(display_name="x"))
        assert refused.value.response_status_code == 400
        assert "microsoft.graph.group" in refused.value.error.message

    run(script())
    assert DirectoryUser.objects.get(id=person.id).usage_location == ""


def test_the_sdk_patches_a_group_and_reprocesses_a_user_with_its_own_builders(tls_server, contoso):
    """The remaining writes through the SDK's request builders: PATCH of a group (the SDK puts
    "#microsoft.graph.group" in the body) and reprocessLicenseAssignment of a user."""
    from msgraph.generated.models.group import Group as GraphGroup

    from tests.factories import GroupFactory

    host, ca_file = tls_server
    group = GroupFactory(tenant=contoso, name="Sales")
    person = DirectoryUserFactory(tenant=contoso)
    app, secret = services.app_register(tenant=contoso, name="Script", actor=None)
    graph = client_for(host, ca_file, contoso, app.client_id, secret)

    async def script():
        await graph.groups.by_group_id(str(group.public_id)).patch(
            GraphGroup(display_name="Sales EMEA", description="Sellers in Europe")
        )
        reprocessed = await graph.users.by_user_id(
            person.user_principal_name
        ).reprocess_license_assignment.post()
        return reprocessed

    reprocessed = run(script())
    group.refresh_from_db()
    assert (group.name, group.description) == ("Sales EMEA", "Sellers in Europe")
    assert reprocessed.id == str(person.public_id)
    assert AuditEvent.objects.filter(tenant=contoso, actor_name=app.actor).exists()
