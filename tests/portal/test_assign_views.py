"""The Assign blade: picker, options, preview, and the commit."""

from __future__ import annotations

import pytest
from django.urls import reverse

from licensing.models import AuditEvent, LicenseAssignment, UserLicense
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, plan_id, product

pytestmark = pytest.mark.django_db


@pytest.fixture
def e3(buy):
    buy("ENTERPRISEPACK", 2)
    return product("ENTERPRISEPACK")


def _all_on(e3, *off):
    plans = [str(p.service_plan_id) for p in e3.service_plans.all()]
    return [p for p in plans if p not in {plan_id(n) for n in off}]


def test_assign_page_shows_picker_options_and_preview(client, as_role, tenant, e3, users):
    as_role()
    users(2, usage_location="")
    page = client.get(reverse("portal:assign"), {"product": e3.sku_id}).content.decode()
    for text in (
        "Users and groups",
        "Assignment options",
        "Exchange Online (Plan 2)",
        'role="switch"',
        "Review",
        "Assign",
    ):
        assert text in page


def test_assign_to_users_with_a_plan_off(client, as_role, tenant, e3, users):
    account = as_role()
    people = users(2)
    response = client.post(
        reverse("portal:assign"),
        {
            "action": "assign",
            "product": [e3.sku_id],
            "user": [p.public_id for p in people],
            f"options-{e3.sku_id}": "1",
            f"plan-{e3.sku_id}": _all_on(e3, "TEAMS1"),
        },
    )
    assert response.status_code == 303
    assert response["Location"] == reverse("portal:products")
    assert (
        list(LicenseAssignment.objects.values_list("disabled_plans", flat=True))
        == [[plan_id("TEAMS1")]] * 2
    )
    assert UserLicense.objects.filter(state="Active").count() == 2
    assert set(AuditEvent.objects.values_list("actor", flat=True)) == {account.id}


def test_assign_to_a_group(client, as_role, tenant, e3, users):
    as_role()
    group = GroupFactory(tenant=tenant, name="Sales")
    from licensing import services

    services.group_add_members(tenant=tenant, group=group, users=users(3), actor=None)
    client.post(
        reverse("portal:assign"),
        {"action": "assign", "product": [e3.sku_id], "group": [group.public_id]},
    )
    assert UserLicense.objects.filter(via_group=group).count() == 3
    assert UserLicense.objects.filter(via_group=group, error="CountViolation").count() == 1


def test_preview_counts_seats_and_names_users_taking_the_org_location(
    client, as_role, tenant, e3, users, htmx_headers
):
    as_role()
    nowhere = users(1, usage_location="")[0]
    somewhere = users(1, usage_location="BE")[0]
    response = client.post(
        reverse("portal:assign"),
        {"product": [e3.sku_id], "user": [nowhere.public_id, somewhere.public_id]},
        headers={**htmx_headers, "HX-Target": "assign-form"},
    )
    page = response.content.decode()
    assert "<html" not in page
    assert "uses 2 licenses, 0 remain" in page
    assert nowhere.display_name in page.split("take the organization")[1]
    assert somewhere.display_name not in page.split("take the organization")[1]


def test_switching_off_a_prerequisite_is_refused_and_names_the_plan(client, as_role, e3, users):
    as_role()
    people = users(1)
    response = client.post(
        reverse("portal:assign"),
        {
            "action": "assign",
            "product": [e3.sku_id],
            "user": [people[0].public_id],
            f"options-{e3.sku_id}": "1",
            f"plan-{e3.sku_id}": _all_on(e3, "SHAREPOINTENTERPRISE"),
        },
    )
    assert response.status_code == 200
    assert "Office for the web requires SharePoint Online (Plan 2)" in response.content.decode()
    assert not LicenseAssignment.objects.exists()


def test_too_few_seats_is_refused_with_needed_and_available(client, as_role, e3, users):
    as_role()
    response = client.post(
        reverse("portal:assign"),
        {
            "action": "assign",
            "product": [e3.sku_id],
            "user": [p.public_id for p in users(3)],
        },
    )
    assert "needs 3 and 2 are available" in response.content.decode()
    assert not LicenseAssignment.objects.exists()


def test_another_tenants_user_or_a_malformed_id_is_refused(client, as_role, e3, users):
    as_role()
    stranger = DirectoryUserFactory(tenant=TenantFactory())
    for bad in (stranger.public_id, "not-a-guid"):
        response = client.post(
            reverse("portal:assign"), {"action": "assign", "product": [e3.sku_id], "user": [bad]}
        )
        assert response.status_code == 200
        assert "not" in response.content.decode()
    assert not LicenseAssignment.objects.exists()


def test_htmx_assign_redirects_to_all_products(client, as_role, e3, users, htmx_headers):
    as_role()
    response = client.post(
        reverse("portal:assign"),
        {"action": "assign", "product": [e3.sku_id], "user": [users(1)[0].public_id]},
        headers=htmx_headers,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("portal:products")


def test_picker_searches_users_and_groups(client, as_role, tenant, e3, htmx_headers):
    as_role()
    DirectoryUserFactory(tenant=tenant, display_name="Megan Bowen")
    DirectoryUserFactory(tenant=tenant, display_name="Nestor Wilke")
    GroupFactory(tenant=tenant, name="Megan's team")
    response = client.post(
        reverse("portal:assign"), {"q": "megan"}, headers={**htmx_headers, "HX-Target": "picker"}
    )
    page = response.content.decode()
    assert "Megan Bowen" in page and "Megan&#x27;s team" in page and "Nestor" not in page


def test_reader_cannot_open_assign(client, as_role, e3):
    as_role("GlobalReader")
    assert client.get(reverse("portal:assign")).status_code == 403
    assert client.post(reverse("portal:assign"), {"action": "assign"}).status_code == 403
