"""msgraph-sdk's own JSON batching, unmodified, against the portal on a live TLS server:
``BatchRequestContent`` of ``BatchRequestItem``s built from the SDK's request builders, sent
with ``graph.batch.post`` (docs/api.md, "Batch")."""

from __future__ import annotations

import urllib.request

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem

from licensing import services
from licensing.models import AuditEvent, UserLicense
from tests.factories import DirectoryUserFactory, SubscriptionFactory, product
from tests.graph.conftest import client_for, run

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_sdk_batches_20_license_assignments_unmodified(tls_server, contoso):
    host, ca_file = tls_server
    SubscriptionFactory(tenant=contoso, product=product("ENTERPRISEPACK"), units=20)
    SubscriptionFactory(tenant=contoso, product=product("EMS"), units=0, status="Warning")
    people = DirectoryUserFactory.create_batch(20, tenant=contoso)
    app, secret = services.app_register(tenant=contoso, name="Nightly script", actor=None)
    graph = client_for(host, ca_file, contoso, app.client_id, secret)
    e3, ems = product("ENTERPRISEPACK").sku_id, product("EMS").sku_id
    # The ids and names the script works with, read before it runs (no ORM in its loop).
    ids = [str(p.public_id) for p in people]
    names = [p.user_principal_name for p in people]
    seen: dict = {}

    def assign(key: str, sku, id_: str) -> BatchRequestItem:
        body = AssignLicensePostRequestBody(
            add_licenses=[AssignedLicense(sku_id=sku, disabled_plans=[])], remove_licenses=[]
        )
        return BatchRequestItem(
            graph.users.by_user_id(key).assign_license.to_post_request_information(body), id_
        )

    async def script():
        # Twenty assignments, half by id and half by userPrincipalName (the SDK escapes "@").
        batch = BatchRequestContent()
        for n in range(20):
            batch.add_request(str(n), assign(ids[n] if n % 2 else names[n], e3, str(n)))
        answered = await graph.batch.post(batch)
        seen["statuses"] = answered.get_response_status_codes()
        seen["types"] = {answered.get_response_by_id(str(n)).content_type for n in range(20)}

        # Dependencies, as the SDK writes them ("depends_on"), and an absolute URL of the
        # portal (the SDK's urllib form writes the address whole).
        chain = BatchRequestContent()
        chain.add_request("fails", assign(ids[0], ems, "fails"))  # no EMS seat
        after = graph.users.by_user_id(ids[1]).to_get_request_information()
        chain.add_request("after", BatchRequestItem(after, "after", ["fails"]))
        for id_, address in [
            ("absolute", f"https://{host}/v1.0/users/{ids[2]}"),
            ("foreign", f"https://graph.microsoft.com/v1.0/users/{ids[2]}"),
        ]:
            request = urllib.request.Request(address)
            chain.add_request(id_, BatchRequestItem.create_with_urllib_request(request, id_))
        answered = await graph.batch.post(chain)
        seen["chain"] = answered.get_response_status_codes()

        config = RequestConfiguration(
            query_parameters=UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
                select=["id", "assignedLicenses"]
            )
        )
        fetched = await graph.users.by_user_id(ids[7]).get(request_configuration=config)
        seen["assigned"] = [str(a.sku_id) for a in fetched.assigned_licenses]

    run(script())
    assert seen["statuses"] == {str(n): 200 for n in range(20)}
    assert seen["types"] == {"application/json"}
    assert seen["chain"] == {"fails": 400, "after": 424, "absolute": 200, "foreign": 400}
    assert seen["assigned"] == [str(e3)]
    assert UserLicense.objects.filter(product=product("ENTERPRISEPACK")).count() == 20
    assert set(
        UserLicense.objects.filter(product=product("ENTERPRISEPACK")).values_list(
            "user_id", flat=True
        )
    ) == {p.id for p in people}
    assert not UserLicense.objects.filter(product=product("EMS")).exists()
    events = AuditEvent.objects.filter(tenant=contoso, activity="Change user license")
    assert events.count() == 20
    assert set(events.values_list("actor_name", flat=True)) == {app.actor}
