"""The API's per-user plans follow the one rule the portal's pages follow (docs/rules.md §2–§3):
a user's enabled services are the union over their working paths, less the plans not offered in
their effective usage location (their own, else the organization's country). ``assignedPlans``
and ``licenseDetails`` are compared with the user's Licenses page, user by user, for users in
countries where plans of their products are not offered, and after the organization's country
(the default usage location) changes."""

from __future__ import annotations

from collections import Counter

import pytest
from django.urls import reverse

from licensing import services
from licensing.models import COUNTING_STATUSES, ServicePlan
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, plan_id, product

pytestmark = pytest.mark.django_db

E3 = "ENTERPRISEPACK"  # Teams, Viva Engage and Skype are not offered in IR; Viva Engage in CN
E1 = "STANDARDPACK"  # the same three plans
# Graph: a plan whose capabilityStatus is Enabled or Warning is "available for normal use".
USABLE = {str(s) for s in COUNTING_STATUSES}


def _directory(tenant, buy, *, default_only=False):
    """Users of ``tenant`` in several locations, licensed directly, through a group, and both
    with different plans off. ``default_only``: every user takes the organization's country."""
    buy(E3, 20, on=tenant)
    buy(E1, 20, on=tenant)
    e3, e1 = product(E3), product(E1)
    locations = [""] * 6 if default_only else ["IR", "CN", "NL", "", "SY", "KP"]
    people = [
        DirectoryUserFactory(tenant=tenant, usage_location=code, display_name=f"User {i} {code}")
        for i, code in enumerate(locations)
    ]
    # Directly, everything on.
    services.product_assign_to_users(tenant=tenant, product=e3, users=people[:3], actor=None)
    # Directly, Teams off: a plan off and plans not offered at once.
    services.product_assign_to_users(
        tenant=tenant,
        product=e1,
        users=[people[3], people[5]],
        disabled_plans=[plan_id("TEAMS1")],
        actor=None,
    )
    # Through a group with Exchange off, and for people[0] directly as well: the union.
    group = GroupFactory(tenant=tenant, name=f"Staff of {tenant.name}")
    services.group_add_members(tenant=tenant, group=group, users=people[::2], actor=None)
    services.group_assign_products(
        tenant=tenant,
        group=group,
        products={e3: [plan_id("EXCHANGE_S_ENTERPRISE"), plan_id("YAMMER_ENTERPRISE")]},
        actor=None,
    )
    # Through another group, only plans not offered in IR and SY on: the path fails there
    # (a direct assignment would be refused).
    unoffered = {plan_id("TEAMS1"), plan_id("YAMMER_ENTERPRISE"), plan_id("MCOSTANDARD")}
    chat = GroupFactory(tenant=tenant, name=f"Chat of {tenant.name}")
    services.group_add_members(tenant=tenant, group=chat, users=[people[4]], actor=None)
    services.group_assign_products(
        tenant=tenant,
        group=chat,
        products={
            e1: [
                str(p)
                for p in ServicePlan.objects.filter(products=e1).values_list(
                    "service_plan_id", flat=True
                )
                if str(p) not in unoffered
            ]
        },
        actor=None,
    )
    return people


def _portal_enabled(client, as_role, tenant, person) -> dict[str, list[str]]:
    """{product name: enabled services} as the user's Licenses page computes them."""
    as_role("GlobalReader", on=tenant)
    page = client.get(reverse("portal:user_licenses", args=[person.public_id]))
    assert page.status_code == 200
    return {str(line["product"]): list(line["enabled"]) for line in page.context["lines"]}


def _compare(graph, client, as_role, tenant, people) -> list[str]:
    """Every place of the API that lists a user's plans, against the portal's page: the
    differences, one line each (none when they agree)."""
    names = {str(p.service_plan_id): p.display_name for p in ServicePlan.objects.all()}
    call = graph(on=tenant)
    listed = {
        u["id"]: u
        for u in call("GET", "/v1.0/users?$select=id,assignedPlans&$top=999").json()["value"]
    }
    differences = []
    for person in people:
        shown = _portal_enabled(client, as_role, tenant, person)
        where = f"{person.display_name!r} (tenant country {tenant.country})"
        want = Counter(name for plans in shown.values() for name in plans)
        one = call("GET", f"/v1.0/users/{person.public_id}?$select=assignedPlans").json()
        for source, item in (
            ("GET /users/{id}", one),
            ("GET /users", listed[str(person.public_id)]),
        ):
            got = Counter(
                names[p["servicePlanId"]]
                for p in item["assignedPlans"]
                if p["capabilityStatus"] in USABLE
            )
            if got != want:
                differences.append(
                    f"{where} {source} assignedPlans enabled {sorted(got.elements())}, "
                    f"the portal shows {sorted(want.elements())}"
                )
        details = call("GET", f"/v1.0/users/{person.public_id}/licenseDetails").json()["value"]
        got_details = {
            product(d["skuPartNumber"]).display_name: [
                names[p["servicePlanId"]]
                for p in d["servicePlans"]
                if p["provisioningStatus"] == "Success"
            ]
            for d in details
        }
        want_details = {name: plans for name, plans in shown.items() if plans}
        got_details = {name: plans for name, plans in got_details.items() if plans}
        if got_details != want_details:
            differences.append(
                f"{where} licenseDetails provisioned {got_details}, the portal shows {want_details}"
            )
    return differences


def test_the_apis_enabled_plans_are_the_portals_where_plans_are_not_offered(
    graph, client, as_role, tenant, buy
):
    people = _directory(tenant, buy)
    differences = _compare(graph, client, as_role, tenant, people)
    assert not differences, "\n".join(differences)
    # The users move: each is decided again, and the API follows.
    for person, code in zip(people, ["CN", "", "IR", "SY", "NL", "DE"], strict=True):
        services.user_set_usage_location(
            tenant=tenant, user=person, usage_location=code, actor=None
        )
        person.refresh_from_db()
    differences = _compare(graph, client, as_role, tenant, people)
    assert not differences, "\n".join(differences)


def test_the_organizations_country_is_the_default_the_api_follows(graph, client, as_role, buy):
    """Users without a usage location take the organization's country, in the API as on the
    page: an organization in Iran, then in China, then in the Netherlands."""
    tenant = TenantFactory(name="Fabrikam", initial_domain="fabrikam.onmicrosoft.com", country="IR")
    people = _directory(tenant, buy, default_only=True)
    # Besides the defaults, one user with a location of their own, which the country
    # does not change.
    own = DirectoryUserFactory(tenant=tenant, usage_location="NL", display_name="Own NL")
    services.product_assign_to_users(tenant=tenant, product=product(E3), users=[own], actor=None)
    people.append(own)
    differences = _compare(graph, client, as_role, tenant, people)
    assert not differences, "\n".join(differences)
    for country in ("CN", "NL"):
        services.tenant_update(tenant=tenant, name=tenant.name, country=country, actor=None)
        tenant.refresh_from_db()
        differences = _compare(graph, client, as_role, tenant, people)
    assert not differences, "\n".join(differences)


def test_license_details_say_why_a_plan_is_not_provisioned(graph, tenant, buy):
    """A plan turned off is ``Disabled`` (as ``disabledPlans`` says); a plan on but not offered
    where the user is is ``Error`` (the path's ProhibitedInUsageLocationViolation), so that a
    script reading ``Disabled`` back as disabledPlans does not turn it off for good."""
    people = _directory(tenant, buy)
    call = graph()
    e1_in_kp = {
        p["servicePlanId"]: p["provisioningStatus"]
        for d in call("GET", f"/v1.0/users/{people[5].public_id}/licenseDetails").json()["value"]
        if d["skuPartNumber"] == E1
        for p in d["servicePlans"]
    }
    assert e1_in_kp[plan_id("TEAMS1")] == "Disabled"  # off, and not offered in KP either
    assert e1_in_kp[plan_id("YAMMER_ENTERPRISE")] == "Error"
    assert e1_in_kp[plan_id("MCOSTANDARD")] == "Error"
    assert e1_in_kp[plan_id("EXCHANGE_S_STANDARD")] == "Success"
    states = call(
        "GET", f"/v1.0/users/{people[5].public_id}?$select=assignedLicenses,licenseAssignmentStates"
    ).json()
    (e1,) = states["assignedLicenses"]
    assert e1["disabledPlans"] == [plan_id("TEAMS1")]
    assert [(s["state"], s["error"]) for s in states["licenseAssignmentStates"]] == [
        ("ActiveWithError", "ProhibitedInUsageLocationViolation")
    ]
