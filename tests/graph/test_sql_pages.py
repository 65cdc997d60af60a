"""The users pages PostgreSQL writes as JSON text (licensing/selectors/users.py,
``active_users_json``) say exactly what the Python shapes say (portal/graph/shapes.py),
property by property, page by page."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import unquote

import pytest

from licensing import services
from portal.graph import odata, views
from tests.factories import DirectoryUserFactory, GroupFactory, plan_id, product

pytestmark = pytest.mark.django_db

SELECTS = [
    "",  # Graph's default properties
    "assignedLicenses,usageLocation",
    "id,displayName,userPrincipalName,accountEnabled,department,jobTitle",
    "assignedLicenses,onPremisesImmutableId,businessPhones,givenName,mail",
]
FILTERS = [
    "",
    "assignedLicenses/$count ne 0",
    "assignedLicenses/$count eq 0",
    "assignedLicenses/any(x:x/skuId eq {e3})",
    "usageLocation eq 'NL'",
    "startsWith(displayName,'a')",
    # by name: the page's items in the order the database gave them
    "assignedLicenses/$count ne 0&$orderby=displayName",
    "usageLocation eq 'BE'&$orderby=displayName",
]


@pytest.fixture
def directory(tenant, buy):
    """Users with no license, one, several; names JSON must escape; a product held through two paths with different
    plans off (a plan is off only where both have it off); a waiting license; a deleted
    user."""
    buy("ENTERPRISEPACK", 20)
    buy("AAD_PREMIUM", 20)
    buy("EMS", 5)  # six members: the last waits
    people = [
        DirectoryUserFactory(
            tenant=tenant,
            usage_location=["NL", "BE", ""][i % 3],
            department=["Sales", ""][i % 2],
            job_title=["", "CFO"][i % 2],
        )
        for i in range(11)
    ]
    # Text JSON must escape: quotes, backslashes, control characters, non-ASCII.
    people[1].display_name = 'Zoë "Q" O\'Neil \\ tab\there\nnext \u2028 🙂'
    people[1].department = 'R&D "Noord" \\'
    people[1].save()
    e3 = product("ENTERPRISEPACK")
    services.product_assign_to_users(
        tenant=tenant,
        product=e3,
        users=people[:6],
        disabled_plans=[plan_id("TEAMS1"), plan_id("YAMMER_ENTERPRISE")],
        actor=None,
    )
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_add_members(tenant=tenant, group=group, users=people[3:9], actor=None)
    services.group_assign_products(
        tenant=tenant,
        group=group,
        products={e3: [plan_id("YAMMER_ENTERPRISE"), plan_id("MCOSTANDARD")], product("EMS"): []},
        actor=None,
    )
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=people[::2], actor=None
    )
    services.user_soft_delete(tenant=tenant, user=people[10], actor=None)
    return people


def envelope(body: dict, tenant) -> dict:
    """The page without its items; the skiptoken as the position it carries (each token is
    encrypted with a nonce of its own)."""
    found = {k: v for k, v in body.items() if k != "value"}
    if "@odata.nextLink" in found:
        link, _, token = found["@odata.nextLink"].partition("$skiptoken=")
        issued_for = SimpleNamespace(tenant=tenant, path="/v1.0/users")
        found["@odata.nextLink"] = (link, odata._open(issued_for, unquote(token)))
    return found


def walk(call, select: str, where: str, top: int) -> list:
    query = [f"$top={top}"] + ([f"$select={select}"] if select else [])
    query += [f"$filter={where}"] if where else []
    url, pages = "/v1.0/users?" + "&".join(query), []
    while url:
        answer = call("GET", url)
        assert answer.status_code == 200, answer.content
        assert answer["Content-Type"] == "application/json"
        body = answer.json()
        pages.append(body)
        url = body.get("@odata.nextLink", "").removeprefix("http://testserver")
    return pages


@pytest.mark.parametrize("select", SELECTS)
def test_every_page_says_what_the_python_shapes_say(graph, directory, monkeypatch, select, tenant):
    call = graph()
    for where in FILTERS:
        where = where.format(e3=product("ENTERPRISEPACK").sku_id)
        for top in (3, 999):
            written = walk(call, select, where, top)
            with monkeypatch.context() as m:
                m.setattr(views, "can_write_users_json", lambda fields: False)
                shaped = walk(call, select, where, top)
            assert len(written) == len(shaped), (select, where, top)
            for ours, theirs in zip(written, shaped, strict=True):
                assert envelope(ours, tenant) == envelope(theirs, tenant), (select, where, top)
                for a, b in zip(ours["value"], theirs["value"], strict=True):
                    assert a == b, (select, where, top)
    everyone = walk(call, "assignedLicenses", "", 999)[0]["value"]
    assert len(everyone) == 10  # the deleted user is not listed
    both = next(u for u in everyone if len(u["assignedLicenses"]) == 3)
    e3 = next(
        a for a in both["assignedLicenses"] if a["skuId"] == str(product("ENTERPRISEPACK").sku_id)
    )
    assert e3["disabledPlans"] == [plan_id("YAMMER_ENTERPRISE")]  # off on both paths only


def test_the_page_is_written_by_postgresql_when_it_can(graph, directory, monkeypatch):
    calls = []
    original = views.active_users_json
    monkeypatch.setattr(
        views, "active_users_json", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    graph()("GET", "/v1.0/users?$select=assignedLicenses,usageLocation")
    assert calls == [1]
    graph()("GET", "/v1.0/users?$select=assignedPlans")  # not written in SQL: the shapes
    assert calls == [1]
