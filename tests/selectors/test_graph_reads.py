"""The reads of the Graph-compatible API (licensing/selectors): what each returns, how many
queries it makes (pinned, with enough rows that a query per row would show), and that it
never returns another tenant's data. The catalog is read once per process while its stamp
stays the same, so a selector that needs it costs the stamp's query (the tests read it once
first)."""

from __future__ import annotations

import json

import pytest

from licensing import services
from licensing.catalog_store import current_catalog
from licensing.models import LicenseState
from licensing.selectors import credentials, groups, licenses, products, tenants, users
from portal.graph import shapes
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, plan_id, product

pytestmark = pytest.mark.django_db

E3, EMS, P1 = "ENTERPRISEPACK", "EMS", "AAD_PREMIUM"


@pytest.fixture
def other(buy):
    """Another tenant with users, a licensed group with a member and an app: what no read of
    the first tenant may return."""
    fabrikam = TenantFactory(name="Fabrikam", initial_domain="fabrikam.onmicrosoft.com")
    buy(E3, 5, on=fabrikam)
    people = DirectoryUserFactory.create_batch(3, tenant=fabrikam, usage_location="US")
    services.product_assign_to_users(tenant=fabrikam, product=product(E3), users=people, actor=None)
    group = GroupFactory(tenant=fabrikam, name="Theirs")
    services.group_add_members(tenant=fabrikam, group=group, users=people[:1], actor=None)
    services.group_assign_products(
        tenant=fabrikam, group=group, products={product(E3): []}, actor=None
    )
    app, _secret = services.app_register(tenant=fabrikam, name="Theirs", actor=None)
    return fabrikam, people, group, app


@pytest.fixture
def directory(tenant, buy, other):
    """Twelve users of the tenant: E3 directly with two plans off (six), E3 and EMS through
    the Sales group with other plans off (members 3 to 8: EMS has five seats, the sixth
    member waits in Error for both, a member's paths through a group being all or nothing),
    P1 directly (every third); users in CN (Viva Engage not offered) and without a location
    (the organization's country, NL); the last one deleted."""
    buy(E3, 20)
    buy(EMS, 5)
    buy(P1, 20)
    people = [
        DirectoryUserFactory(
            tenant=tenant,
            user_principal_name=f"user{i:02}@contoso.onmicrosoft.com",
            usage_location=["CN", "", "NL"][i % 3],
        )
        for i in range(12)
    ]
    services.product_assign_to_users(
        tenant=tenant,
        product=product(E3),
        users=people[:6],
        disabled_plans=[plan_id("TEAMS1"), plan_id("YAMMER_ENTERPRISE")],
        actor=None,
    )
    sales = GroupFactory(tenant=tenant, name="Sales")
    GroupFactory(tenant=tenant, name="Empty")
    services.group_add_members(tenant=tenant, group=sales, users=people[3:9], actor=None)
    services.group_assign_products(
        tenant=tenant,
        group=sales,
        products={product(E3): [plan_id("YAMMER_ENTERPRISE"), plan_id("MCOSTANDARD")]},
        actor=None,
    )
    services.group_assign_products(
        tenant=tenant, group=sales, products={product(EMS): []}, actor=None
    )
    services.product_assign_to_users(
        tenant=tenant, product=product(P1), users=people[::3], actor=None
    )
    services.user_soft_delete(tenant=tenant, user=people[11], actor=None)
    current_catalog()  # the process's copy of the catalog: later reads cost only its stamp
    return people, sales


# -- tenants and apps (the sign-in) -------------------------------------------------------------


def test_tenant_is_found_by_its_id_or_its_initial_domain(tenant, other, django_assert_num_queries):
    fabrikam = other[0]
    with django_assert_num_queries(1):
        assert tenants.tenant(key=str(tenant.public_id)) == tenant
    with django_assert_num_queries(1):
        assert tenants.tenant(key=" Contoso.onmicrosoft.COM ") == tenant
    with django_assert_num_queries(1):
        assert tenants.tenant(key="fabrikam.onmicrosoft.com") == fabrikam
    with django_assert_num_queries(1):
        assert tenants.tenant(key="nowhere.example") is None


def test_live_app_exists_only_in_its_tenant_and_until_revoked(
    tenant, other, django_assert_num_queries
):
    app, _secret = services.app_register(tenant=tenant, name="Script", actor=None)
    theirs = other[3]
    with django_assert_num_queries(1):
        assert credentials.live_app_exists(tenant=tenant, client_id=app.client_id)
    with django_assert_num_queries(1):
        assert not credentials.live_app_exists(tenant=tenant, client_id=theirs.client_id)
    services.app_revoke(tenant=tenant, app=app, actor=None)
    with django_assert_num_queries(1):
        assert not credentials.live_app_exists(tenant=tenant, client_id=app.client_id)


def test_live_app_comes_with_its_tenant_and_only_for_its_tenant(
    tenant, other, django_assert_num_queries
):
    app, _secret = services.app_register(tenant=tenant, name="Script", actor=None)
    theirs = other[3]
    with django_assert_num_queries(1):  # the app and its tenant in one query
        found = credentials.live_app(tenant_public_id=tenant.public_id, client_id=app.client_id)
        assert (found, found.tenant) == (app, tenant)
    with django_assert_num_queries(1):
        assert (
            credentials.live_app(tenant_public_id=tenant.public_id, client_id=theirs.client_id)
            is None
        )
    services.app_revoke(tenant=tenant, app=app, actor=None)
    with django_assert_num_queries(1):
        assert (
            credentials.live_app(tenant_public_id=tenant.public_id, client_id=app.client_id) is None
        )


# -- users --------------------------------------------------------------------------------------


def test_active_user_by_id_or_any_case_principal_name(
    tenant, directory, other, django_assert_num_queries
):
    people, _ = directory
    with django_assert_num_queries(1):
        assert users.active_user(tenant=tenant, key=str(people[2].public_id)) == people[2]
    with django_assert_num_queries(1):
        assert users.active_user(tenant=tenant, key="USER04@Contoso.onmicrosoft.com") == people[4]
    with django_assert_num_queries(1):  # deleted
        assert users.active_user(tenant=tenant, key=str(people[11].public_id)) is None
    theirs = other[1][0]
    with django_assert_num_queries(1):
        assert users.active_user(tenant=tenant, key=str(theirs.public_id)) is None
    with django_assert_num_queries(1):
        assert users.active_user(tenant=tenant, key=theirs.user_principal_name) is None


def test_active_users_page_is_one_query_whatever_the_conditions(
    tenant, directory, other, django_assert_num_queries
):
    people, _ = directory
    columns = ["id", "user_principal_name"]
    with django_assert_num_queries(1):
        everyone = users.active_users_page(tenant=tenant, columns=columns, size=999)
    # The tenant's users who are not deleted, in id order; none of the other tenant's.
    assert everyone == [
        {"id": u.id, "user_principal_name": u.user_principal_name} for u in people[:11]
    ]
    with django_assert_num_queries(1):  # one more than the page: there is a next one
        first = users.active_users_page(tenant=tenant, columns=["id"], size=4)
    with django_assert_num_queries(1):
        rest = users.active_users_page(
            tenant=tenant, columns=["id"], after=first[3]["id"], size=999
        )
    assert [u["id"] for u in first[:4] + rest] == [u.id for u in people[:11]]
    ems = product(EMS).sku_id
    with django_assert_num_queries(1):
        found = users.active_users_page(
            tenant=tenant,
            columns=["id"],
            size=999,
            sku_ids=[ems],  # EMS seats: five of the six members of Sales
            licensed=[True],
            usage_locations=["NL"],
        )
    assert [u["id"] for u in found] == [people[5].id]  # people[8] waits for EMS
    with django_assert_num_queries(1):
        unlicensed = users.active_users_page(
            tenant=tenant, columns=["id"], size=999, licensed=[False]
        )
    assert [u["id"] for u in unlicensed] == [people[8].id, people[10].id]  # Error holds none
    with django_assert_num_queries(1):
        named = users.active_users_page(
            tenant=tenant,
            columns=["id"],
            size=999,
            principal_names=["USER07@contoso.onmicrosoft.com"],
        )
    assert [u["id"] for u in named] == [people[7].id]


def _shaped(tenant, rows, fields):
    """What the API's Python path makes of ``active_users_page``'s rows (views.shaped_users)."""
    found = None
    if shapes.USER_LICENSING.intersection(fields):
        found = licenses.user_licenses(
            tenant=tenant,
            user_ids=[u["id"] for u in rows],
            every_path="licenseAssignmentStates" in fields,
            usage_locations={u["id"]: u["usage_location"] for u in rows}
            if shapes.USER_LOCATED.intersection(fields)
            else None,
        )
    return shapes.users(rows, fields, found)


WRITABLE = [
    shapes.USER_DEFAULT,
    ["id", "assignedLicenses", "usageLocation"],
    ["id", "displayName", "userPrincipalName", "accountEnabled", "department", "jobTitle"],
    ["id", "assignedLicenses", "onPremisesImmutableId", "businessPhones", "givenName", "mail"],
]


@pytest.mark.parametrize("fields", WRITABLE)
def test_users_json_says_what_the_shapes_say_of_the_orm_page(tenant, directory, other, fields):
    """active_users_json (SQL, PostgreSQL) pinned to active_users_page and user_licenses
    (ORM) as the API's shapes write them: same users, same properties, same next page."""
    people, _ = directory
    people[1].display_name = 'Zoë "Q" O\'Neil \\ tab\there\nnext \u2028 🙂'
    people[1].department = 'R&D "Noord" \\'
    people[1].save()
    assert users.can_write_users_json(fields=fields)
    conditions = [
        {},
        {"licensed": [True]},
        {"licensed": [False]},
        {"sku_ids": [product(E3).sku_id]},
        {"sku_ids": [product(E3).sku_id, product(EMS).sku_id], "usage_locations": ["NL"]},
        {"principal_names": ["USER03@CONTOSO.onmicrosoft.com"]},
    ]
    for where in conditions:
        for size in (3, 999):
            after, walked = None, 0
            while True:
                text, position = users.active_users_json(
                    tenant=tenant, fields=fields, after=after, size=size, **where
                )
                rows = users.active_users_page(
                    tenant=tenant,
                    columns=shapes.user_columns(fields),
                    after=after,
                    size=size,
                    **where,
                )
                shown = rows[:size]
                assert json.loads(f"[{text}]") == _shaped(tenant, shown, fields), (where, size)
                assert position == (shown[-1]["id"] if len(rows) > size else None)
                walked += len(shown)
                if position is None:
                    break
                after = position
            assert walked == len(
                users.active_users_page(tenant=tenant, columns=["id"], size=999, **where)
            )


def test_users_json_is_two_queries_and_the_tenants_users_only(
    tenant, directory, other, django_assert_num_queries
):
    people, _ = directory
    fields = ["id", "assignedLicenses", "usageLocation"]
    with django_assert_num_queries(2):  # the page's ids, then the page as JSON text
        text, position = users.active_users_json(tenant=tenant, fields=fields, size=999)
    found = json.loads(f"[{text}]")
    assert [u["id"] for u in found] == [str(u.public_id) for u in people[:11]]
    assert position is None
    held = {u["id"]: {a["skuId"] for a in u["assignedLicenses"]} for u in found}
    assert held[str(people[3].public_id)] == {
        str(product(E3).sku_id),
        str(product(EMS).sku_id),
        str(product(P1).sku_id),
    }
    with django_assert_num_queries(1):  # an empty page: no second query
        assert users.active_users_json(
            tenant=tenant, fields=fields, size=999, principal_names=["nobody@x"]
        ) == ("", None)


# -- licenses -----------------------------------------------------------------------------------


def test_user_licenses_held_paths_and_plans_where_they_are(
    tenant, directory, other, django_assert_num_queries
):
    people, sales = directory
    ids = [u.id for u in people]
    theirs = [u.id for u in other[1]]
    products_by_sku = {str(product(s).sku_id): product(s) for s in (E3, EMS, P1)}
    e3, ems, p1 = products_by_sku
    with django_assert_num_queries(2):  # the rows, then their products' SKU ids
        held = licenses.user_licenses(tenant=tenant, user_ids=ids + theirs)
    # people[3]: E3 directly and through Sales (a plan is off only where both have it off),
    # EMS through Sales, P1 directly.
    in_product_order = sorted([e3, ems, p1], key=lambda sku: products_by_sku[sku].id)
    off = {e3: [plan_id("YAMMER_ENTERPRISE")], ems: [], p1: []}
    assert held[people[3].id].held == [
        licenses.HeldLicense(sku, off[sku], None, []) for sku in in_product_order
    ]
    assert held[people[10].id] == licenses.UserLicenses([], [])
    # Another tenant's users: nothing of theirs.
    assert all(held[user_id] == licenses.UserLicenses([], []) for user_id in theirs)

    with django_assert_num_queries(2):
        every = licenses.user_licenses(tenant=tenant, user_ids=ids, every_path=True)
    waiting = [p for p in every[people[8].id].paths if p.sku_id == ems]
    assert [(p.state, p.group_id) for p in waiting] == [(LicenseState.ERROR, sales.public_id)]
    assert ems not in {h.sku_id for h in every[people[8].id].held}
    assert len(every[people[3].id].paths) == 4

    locations = {u.id: u.usage_location for u in people}
    with django_assert_num_queries(3):  # and the catalog's stamp
        located = licenses.user_licenses(tenant=tenant, user_ids=ids, usage_locations=locations)
    plans_of = {h.sku_id: {p for p, _ in h.enabled_plans} for h in located[people[0].id].held}
    # people[0] is in CN (Viva Engage is not offered there) with Teams and Viva Engage off;
    # people[1] takes the organization's country (NL) with the same plans off.
    assert (
        plan_id("TEAMS1") not in plans_of[e3] and plan_id("YAMMER_ENTERPRISE") not in plans_of[e3]
    )
    assert plan_id("EXCHANGE_S_ENTERPRISE") in plans_of[e3]
    assert all(h.since is not None for h in located[people[0].id].held)


def test_user_license_details_give_each_plan_of_each_license_held(
    tenant, directory, other, django_assert_num_queries
):
    people, _ = directory
    with django_assert_num_queries(5):  # rows, SKU ids, products, their plans, catalog stamp
        details = licenses.user_license_details(tenant=tenant, user=people[3])
    e3 = next(d for d in details if d.product == product(E3))
    assert e3.disabled_plans == {plan_id("YAMMER_ENTERPRISE")}
    assert plan_id("TEAMS1") in e3.enabled_plans  # on through Sales
    assert [p for p, _ in e3.plans] == [
        str(p)
        for p in product(E3)
        .plan_links.order_by("position")
        .values_list("service_plan__service_plan_id", flat=True)
    ]
    assert {d.product.sku_part_number for d in details} == {E3, EMS, P1}
    with django_assert_num_queries(2):  # another tenant's user: none of their rows
        assert licenses.user_license_details(tenant=tenant, user=other[1][0]) == []


# -- groups -------------------------------------------------------------------------------------


def test_groups_page_with_and_without_members_in_error(
    tenant, directory, other, django_assert_num_queries
):
    _, sales = directory
    with django_assert_num_queries(1):
        found = groups.groups_page(tenant=tenant, size=999)
    assert [g.name for g in found] == ["Sales", "Empty"]  # in id order; not Fabrikam's
    with django_assert_num_queries(1):
        assert groups.groups_page(tenant=tenant, size=999, with_license_errors=[True]) == [sales]
    with django_assert_num_queries(1):
        assert [
            g.name for g in groups.groups_page(tenant=tenant, size=999, with_license_errors=[False])
        ] == ["Empty"]
    with django_assert_num_queries(1):
        assert [g.name for g in groups.groups_page(tenant=tenant, after=sales.id, size=1)] == [
            "Empty"
        ]


def test_assigned_licenses_of_groups(tenant, directory, other, django_assert_num_queries):
    _, sales = directory
    theirs = other[2]
    with django_assert_num_queries(1):
        found = groups.assigned_licenses(tenant=tenant, groups=[sales, theirs])
    assert found == {
        sales.id: [
            (
                str(product(E3).sku_id),
                sorted([plan_id("YAMMER_ENTERPRISE"), plan_id("MCOSTANDARD")]),
            ),
            (str(product(EMS).sku_id), []),
        ]
    }
    with django_assert_num_queries(0):  # another tenant's group alone: nothing to read
        assert groups.assigned_licenses(tenant=tenant, groups=[theirs]) == {}


def test_group_members_page_and_those_in_error(tenant, directory, other, django_assert_num_queries):
    people, sales = directory
    with django_assert_num_queries(1):
        members = groups.group_members_page(
            tenant=tenant, group=sales, columns=["id", "display_name"], size=999
        )
    assert [m["id"] for m in members] == [u.id for u in people[3:9]]
    with django_assert_num_queries(1):
        in_error = groups.group_members_page(
            tenant=tenant, group=sales, columns=["id"], size=999, in_error=True
        )
    assert in_error == [{"id": people[8].id}]
    with django_assert_num_queries(0):
        assert (
            groups.group_members_page(tenant=tenant, group=other[2], columns=["id"], size=9) == []
        )


def test_is_member(tenant, directory, other, django_assert_num_queries):
    people, sales = directory
    with django_assert_num_queries(1):
        assert groups.is_member(tenant=tenant, group=sales, user=people[3])
    with django_assert_num_queries(1):
        assert not groups.is_member(tenant=tenant, group=sales, user=people[0])
    with django_assert_num_queries(0):
        assert not groups.is_member(tenant=tenant, group=other[2], user=other[1][0])


# -- products (the catalog is everyone's; seats and subscriptions are the tenant's) ------------


def test_products_by_sku_leaves_unknown_ids_out(db, django_assert_num_queries):
    import uuid

    unknown, e3 = uuid.uuid4(), product(E3)
    with django_assert_num_queries(1):
        found = products.products_by_sku(sku_ids=[e3.sku_id, unknown])
    assert found == {e3.sku_id: e3}
    with django_assert_num_queries(0):
        assert products.products_by_sku(sku_ids=[]) == {}


def test_service_plans_in_each_products_order(db, django_assert_num_queries):
    e3, ems = product(E3), product(EMS)
    with django_assert_num_queries(1):
        found = products.service_plans(product_ids=[e3.id, ems.id])
    assert found[e3.id][0] == (
        str(e3.plan_links.order_by("position")[0].service_plan.service_plan_id),
        e3.plan_links.order_by("position")[0].service_plan.service_plan_name,
    )
    assert len(found[ems.id]) == ems.plan_links.count()


def test_subscribed_products_count_the_tenants_subscriptions_only(
    tenant, directory, other, buy, django_assert_num_queries
):
    buy(E3, 7, status="Warning")
    with django_assert_num_queries(4):  # products, subscriptions, counters, plans
        found = products.subscribed_products(tenant=tenant)
    by_sku = {p.product.sku_part_number: p for p in found}
    assert set(by_sku) == {E3, EMS, P1}
    e3 = by_sku[E3]
    assert (e3.units["Enabled"], e3.units["Warning"]) == (20, 7)  # not Fabrikam's 5
    assert len(e3.subscription_ids) == 2
    assert e3.assigned == 8  # people[:8] hold E3, directly or through Sales
    assert e3.plans == products.service_plans(product_ids=[e3.product.id])[e3.product.id]
    ems, unsold = product(EMS), product("POWER_BI_PRO")
    with django_assert_num_queries(4):
        only = products.subscribed_products(tenant=tenant, sku_id=ems.sku_id)
    assert [p.product for p in only] == [ems]
    with django_assert_num_queries(1):  # not a product of the tenant: nothing more to read
        assert products.subscribed_products(tenant=tenant, sku_id=unsold.sku_id) == []
