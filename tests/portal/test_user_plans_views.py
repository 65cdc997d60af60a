"""A user's license services: the switches of a direct assignment, saved through
``assignment_set_disabled_plans``; an inherited license's services read-only, with its group."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from licensing import services
from licensing.models import AuditEvent, LicenseAssignment, UserLicense
from tests.factories import GroupFactory, TenantFactory, plan_id, product

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(tenant, buy, users, actor):
    """A user with Office 365 E3 directly (Viva Engage off) and Power BI Pro from Analysts."""
    buy("ENTERPRISEPACK", 5)
    buy("POWER_BI_PRO", 5)
    (person,) = users(1, usage_location="NL")
    services.product_assign_to_users(
        tenant=tenant,
        product=product("ENTERPRISEPACK"),
        users=[person],
        disabled_plans=[plan_id("YAMMER_ENTERPRISE")],
        actor=actor,
    )
    group = GroupFactory(tenant=tenant, name="Analysts")
    services.group_add_members(tenant=tenant, group=group, users=[person], actor=actor)
    services.group_assign_products(
        tenant=tenant,
        group=group,
        products={product("POWER_BI_PRO"): [plan_id("EXCHANGE_S_FOUNDATION")]},
        actor=actor,
    )
    return person


def _url(person, sku: str) -> str:
    return reverse("portal:user_license_plans", args=[person.public_id, product(sku).sku_id])


def _all_on_but(*names: str) -> list[str]:
    off = {plan_id(n) for n in names}
    return [
        str(p.service_plan_id)
        for p in product("ENTERPRISEPACK").service_plans.all()
        if str(p.service_plan_id) not in off
    ]


def _direct(person) -> list[str]:
    return LicenseAssignment.objects.get(
        user=person, product=product("ENTERPRISEPACK")
    ).disabled_plans


def test_the_dialog_shows_a_switch_per_plan_as_the_assignment_has_them(
    client, as_role, person, htmx_headers
):
    as_role("LicenseAdministrator")
    response = client.get(_url(person, "ENTERPRISEPACK"), headers=htmx_headers)
    page = response.content.decode()
    assert "<dialog" in page and "<html" not in page
    assert page.count('role="switch"') == product("ENTERPRISEPACK").service_plans.count()
    yammer = plan_id("YAMMER_ENTERPRISE")
    assert f'value="{yammer}" >' in page  # off
    assert f'value="{plan_id("TEAMS1")}" checked>' in page
    assert "Save" in page


def test_the_dialog_opened_directly_is_a_whole_page(client, as_role, person):
    as_role()
    page = client.get(_url(person, "ENTERPRISEPACK")).content.decode()
    assert "<html" in page and 'role="switch"' in page and "<dialog" in page


def test_saving_the_switches_changes_the_assignment_with_htmx_events(
    client, as_role, person, htmx_headers
):
    as_role("LicenseAdministrator")
    response = client.post(
        _url(person, "ENTERPRISEPACK"),
        {"services": "sent", "plan": _all_on_but("TEAMS1")},
        headers=htmx_headers,
    )
    assert response.status_code == 204
    events = json.loads(response["HX-Trigger"])
    assert {"closeModal", "licensesChanged", "notify"} <= events.keys()
    assert _direct(person) == [plan_id("TEAMS1")]
    row = UserLicense.objects.get(user=person, product=product("ENTERPRISEPACK"))
    assert row.disabled_plans == [plan_id("TEAMS1")]
    assert AuditEvent.objects.filter(activity="Change user license").exists()


def test_saving_without_javascript_redirects_to_the_users_licenses(client, as_role, person):
    as_role()
    response = client.post(
        _url(person, "ENTERPRISEPACK"), {"services": "sent", "plan": _all_on_but()}
    )
    assert response.status_code == 303
    assert response["Location"] == reverse("portal:user_licenses", args=[person.public_id])
    assert _direct(person) == []


def test_a_dependency_refusal_shows_in_the_dialog_and_changes_nothing(
    client, as_role, person, htmx_headers
):
    as_role()
    before = AuditEvent.objects.count()
    response = client.post(
        _url(person, "ENTERPRISEPACK"),
        {"services": "sent", "plan": _all_on_but("YAMMER_ENTERPRISE", "SHAREPOINTENTERPRISE")},
        headers=htmx_headers,
    )
    page = response.content.decode()
    assert response.status_code == 200 and "<dialog" in page
    assert "Office for the web requires SharePoint Online (Plan 2)" in page
    # The switches stay as the admin set them, to correct one.
    assert f'value="{plan_id("SHAREPOINTENTERPRISE")}" >' in page
    assert _direct(person) == [plan_id("YAMMER_ENTERPRISE")]
    assert AuditEvent.objects.count() == before


def test_a_conflict_with_another_license_is_refused_in_azures_words(
    client, as_role, tenant, buy, users, actor
):
    buy("ENTERPRISEPACK", 5)
    buy("EXCHANGESTANDARD", 5)
    (person,) = users(1, usage_location="NL")
    services.product_assign_to_users(
        tenant=tenant,
        product=product("ENTERPRISEPACK"),
        users=[person],
        disabled_plans=[plan_id("EXCHANGE_S_ENTERPRISE")],
        actor=actor,
    )
    mail = GroupFactory(tenant=tenant, name="Mail")
    services.group_add_members(tenant=tenant, group=mail, users=[person], actor=actor)
    services.group_assign_products(
        tenant=tenant, group=mail, products={product("EXCHANGESTANDARD"): []}, actor=actor
    )
    before = list(UserLicense.objects.order_by("id").values_list("id", "state", "disabled_plans"))
    as_role()
    response = client.post(
        _url(person, "ENTERPRISEPACK"), {"services": "sent", "plan": _all_on_but()}
    )
    page = response.content.decode()
    assert "Exchange Online (Plan 2) conflicts with Exchange Online (Plan 1)" in page
    assert "Nothing was changed." in page
    after = list(UserLicense.objects.order_by("id").values_list("id", "state", "disabled_plans"))
    assert after == before
    assert _direct(person) == [plan_id("EXCHANGE_S_ENTERPRISE")]


def test_a_usage_location_refusal_changes_nothing(client, as_role, tenant, buy, users, actor):
    buy("STANDARDPACK", 5)
    (person,) = users(1, usage_location="CN")
    services.product_assign_to_users(
        tenant=tenant, product=product("STANDARDPACK"), users=[person], actor=actor
    )
    as_role()
    # Only Viva Engage on: it is not offered in China, so the license would not work.
    response = client.post(
        _url(person, "STANDARDPACK"), {"services": "sent", "plan": [plan_id("YAMMER_ENTERPRISE")]}
    )
    assert "usage location" in response.content.decode()
    assert LicenseAssignment.objects.get(user=person).disabled_plans == []


def test_a_malformed_post_is_400_and_changes_nothing(client, as_role, person):
    as_role()
    url = _url(person, "ENTERPRISEPACK")
    # Without the form's mark an empty post is not "switch everything off".
    assert client.post(url, {}).status_code == 400
    assert (
        client.post(url, {"services": "sent", "plan": [plan_id("BI_AZURE_P2")]}).status_code == 400
    )
    assert client.post(url, {"services": "sent", "plan": ["not-a-guid"]}).status_code == 400
    assert _direct(person) == [plan_id("YAMMER_ENTERPRISE")]


def test_an_inherited_license_shows_its_groups_services_read_only_with_the_group(
    client, as_role, person, htmx_headers
):
    as_role()
    page = client.get(_url(person, "POWER_BI_PRO"), headers=htmx_headers).content.decode()
    group = person.memberships.get().group
    assert "Inherited (Analysts)" in page
    assert reverse("portal:group_licenses", args=[group.public_id]) in page
    assert page.count('role="switch"') == page.count("disabled>") == 2
    assert re.search(f'id="plan-1-{plan_id("EXCHANGE_S_FOUNDATION")}"\\s+disabled>', page)  # off
    assert re.search(f'id="plan-1-{plan_id("BI_AZURE_P2")}"\\s+checked\\s+disabled>', page)
    assert ">Save<" not in page and 'name="plan"' not in page
    # Nothing to save: a post is refused and changes nothing.
    response = client.post(
        _url(person, "POWER_BI_PRO"), {"services": "sent", "plan": [plan_id("BI_AZURE_P2")]}
    )
    assert response.status_code == 400
    assert LicenseAssignment.objects.get(group=group).disabled_plans == [
        plan_id("EXCHANGE_S_FOUNDATION")
    ]


def test_the_licenses_page_opens_each_licenses_services_and_links_the_group(
    client, as_role, person
):
    as_role()
    page = client.get(reverse("portal:user_licenses", args=[person.public_id])).content.decode()
    group = person.memberships.get().group
    assert f'href="{_url(person, "ENTERPRISEPACK")}"' in page
    assert f'href="{_url(person, "POWER_BI_PRO")}"' in page
    assert "Edit services" in page and "View services" in page
    assert f'href="{reverse("portal:group_licenses", args=[group.public_id])}"' in page
    assert "made from the Products page" not in page


def test_a_reader_is_refused_and_sees_no_way_in(client, as_role, person):
    as_role("GlobalReader")
    url = _url(person, "ENTERPRISEPACK")
    assert client.get(url).status_code == 403
    assert client.post(url, {"services": "sent", "plan": _all_on_but()}).status_code == 403
    assert _direct(person) == [plan_id("YAMMER_ENTERPRISE")]
    page = client.get(reverse("portal:user_licenses", args=[person.public_id])).content.decode()
    assert url not in page


def test_another_tenants_user_or_a_product_the_user_lacks_is_404(client, as_role, person):
    as_role(on=TenantFactory(name="Fabrikam"))
    url = _url(person, "ENTERPRISEPACK")
    assert client.get(url).status_code == 404
    assert client.post(url, {"services": "sent", "plan": _all_on_but()}).status_code == 404
    assert _direct(person) == [plan_id("YAMMER_ENTERPRISE")]
    as_role()
    assert client.get(_url(person, "EMS")).status_code == 404


def test_get_and_post_only(client, as_role, person):
    as_role()
    assert client.put(_url(person, "ENTERPRISEPACK")).status_code == 405
