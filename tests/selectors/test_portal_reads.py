"""The selectors the portal's pages and forms read through (licensing/selectors/): what each
returns, that another tenant's data never appears in it, and its number of queries.

Both tenants get the same world, so a selector that forgot its tenant would return twice as
much (or the other tenant's object) and fail here.
"""

from __future__ import annotations

import datetime

import pytest

from licensing import selectors, services
from licensing.errors import NotFound
from licensing.models import LicenseState
from licensing.services.accounts import account_set_language, identity_bind
from tests.factories import (
    AccountFactory,
    AuditEventFactory,
    DirectoryUserFactory,
    RoleAssignmentFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
)

pytestmark = pytest.mark.django_db


def _world(tenant, actor) -> dict:
    e3, ems = product("ENTERPRISEPACK"), product("EMS")
    SubscriptionFactory(tenant=tenant, product=e3, units=2)
    SubscriptionFactory(tenant=tenant, product=ems, units=5, status="Warning")
    ann = DirectoryUserFactory(tenant=tenant, display_name="Ann Archer", usage_location="NL")
    bob = DirectoryUserFactory(tenant=tenant, display_name="Bob Baker")
    cas = DirectoryUserFactory(tenant=tenant, display_name="Cas Cooper")
    gone = DirectoryUserFactory(tenant=tenant, display_name="Dee Gone")
    sales = services.group_create(tenant=tenant, name="Sales", actor=actor)
    services.group_add_members(tenant=tenant, group=sales, users=[bob, cas], actor=actor)
    services.direct_licenses_change(tenant=tenant, users=[ann], add={ems: [], e3: []}, actor=actor)
    # Two seats of E3, one taken: one of the group's two members waits in CountViolation.
    services.group_licenses_change(tenant=tenant, group=sales, add={e3: []}, actor=actor)
    services.user_soft_delete(tenant=tenant, user=gone, actor=actor)
    AuditEventFactory(tenant=tenant, activity="Add user", target_name="ann@example.com")
    return {"e3": e3, "ems": ems, "ann": ann, "bob": bob, "cas": cas, "gone": gone, "sales": sales}


@pytest.fixture
def two(tenant, actor):
    other = TenantFactory(name="Fabrikam", initial_domain="fabrikam.onmicrosoft.com")
    return tenant, _world(tenant, actor), other, _world(other, actor)


def test_users(two, django_assert_num_queries):
    tenant, w, _other, theirs = two
    with django_assert_num_queries(1):
        assert selectors.users.user(tenant=tenant, public_id=w["ann"].public_id) == w["ann"]
    with django_assert_num_queries(1):
        assert selectors.users.user(tenant=tenant, public_id=theirs["ann"].public_id) is None
    with django_assert_num_queries(1):  # the page, not counted
        page = selectors.users.listed_users(tenant=tenant, search="a", order_by=["display_name"])
    found = page.object_list
    assert not page.has_next
    assert [u.display_name for u in found] == ["Ann Archer", "Bob Baker", "Cas Cooper"]
    with django_assert_num_queries(2):
        assert selectors.users.deleted_users(tenant=tenant).object_list == [w["gone"]]
    with django_assert_num_queries(1):
        assert selectors.users.deleted_user(tenant=tenant, public_id=w["gone"].public_id)
    with django_assert_num_queries(1):
        assert selectors.users.deleted_user(tenant=tenant, public_id=w["ann"].public_id) is None
    with django_assert_num_queries(1):
        found = selectors.users.active_users(tenant=tenant, search="", limit=10)
    assert [u.display_name for u in found] == ["Ann Archer", "Bob Baker", "Cas Cooper"]


def test_members_and_locations(two, django_assert_num_queries):
    tenant, w, _other, theirs = two
    with django_assert_num_queries(1):
        ids = selectors.users.member_ids(tenant=tenant, groups=[w["sales"]])
    assert ids == {w["bob"].id, w["cas"].id}
    with django_assert_num_queries(0):
        assert selectors.users.member_ids(tenant=tenant, groups=[theirs["sales"]]) == set()
    everyone = [w["ann"].id, w["bob"].id, theirs["bob"].id]
    with django_assert_num_queries(1):
        found = selectors.users.without_location(tenant=tenant, ids=everyone)
    assert found == {"names": ["Bob Baker"], "total": 1}


def test_a_users_licenses_blade_and_assignments_dialog(two, django_assert_num_queries):
    tenant, w, _other, theirs = two
    with django_assert_num_queries(2):  # the rows, the catalog's stamp (the catalog is kept)
        selectors.users.license_lines(tenant=tenant, user=w["cas"])
    with django_assert_num_queries(2):
        lines = selectors.users.license_lines(tenant=tenant, user=w["ann"])
    assert [(line["product"], line["direct"], line["state"]) for line in lines] == [
        (w["ems"], True, LicenseState.ACTIVE),
        (w["e3"], True, LicenseState.ACTIVE),
    ]
    lines = selectors.users.license_lines(tenant=tenant, user=w["cas"])
    assert [(line["inherited_from"], line["state"], line["error"]) for line in lines] == [
        ([w["sales"]], LicenseState.ERROR, "CountViolation")
    ]
    assert selectors.users.license_lines(tenant=tenant, user=theirs["ann"]) == []
    with django_assert_num_queries(3):  # direct, inherited, the tenant's products
        choices = selectors.users.direct_choices(tenant=tenant, user=w["bob"])
    assert {(c["product"], c["checked"], c["inherited_only"]) for c in choices} == {
        (w["e3"], False, True),
        (w["ems"], False, False),
    }
    choices = selectors.users.direct_choices(tenant=tenant, user=theirs["bob"])
    assert not any(c["checked"] or c["inherited_only"] for c in choices)


def test_groups(two, django_assert_num_queries):
    tenant, w, _other, theirs = two
    with django_assert_num_queries(1):
        assert selectors.groups.group(tenant=tenant, public_id=w["sales"].public_id) == w["sales"]
    with django_assert_num_queries(1):
        assert selectors.groups.group(tenant=tenant, public_id=theirs["sales"].public_id) is None
    with django_assert_num_queries(2):
        (sales,) = selectors.groups.listed_groups(tenant=tenant, search="sal").object_list
    assert (sales.member_count, sales.members_in_error) == (2, 1)
    with django_assert_num_queries(1):
        assert selectors.groups.groups_named(tenant=tenant, search="") == [w["sales"]]
    ids = [w["sales"].public_id, theirs["sales"].public_id]
    with django_assert_num_queries(1):
        assert selectors.groups.groups_by_ids(tenant=tenant, public_ids=ids) == [w["sales"]]
    with django_assert_num_queries(1):
        assert selectors.groups.groups_in_error(tenant=tenant) == [w["sales"]]
    with django_assert_num_queries(1):
        (licensed,) = selectors.groups.licensed_groups(tenant=tenant, product=w["e3"])
    assert licensed.members_in_error == 1
    with django_assert_num_queries(1):
        members = selectors.groups.members(tenant=tenant, group=w["sales"]).object_list
    assert members == [w["bob"], w["cas"]]
    assert selectors.groups.members(tenant=tenant, group=theirs["sales"]).object_list == []
    with django_assert_num_queries(1):
        found = selectors.groups.member_candidates(tenant=tenant, group=w["sales"], search="a")
    assert found == [w["ann"]]
    with django_assert_num_queries(1):
        assert selectors.groups.is_licensed(tenant=tenant, group=w["sales"])
    assert not selectors.groups.is_licensed(tenant=tenant, group=theirs["sales"])


def test_a_groups_licenses_blade(two, django_assert_num_queries):
    tenant, w, _other, theirs = two
    w["sales"].refresh_from_db()  # as a request reads it: its error counter now
    with django_assert_num_queries(2):  # assignments, a page of users and their rows
        blade = selectors.groups.license_blade(tenant=tenant, group=w["sales"])
    assert [a.product for a in blade["assignments"]] == [w["e3"]]
    (line,) = blade["in_error"]
    assert (line["failed"], line["top_reason"], blade["error_count"]) == (
        [w["e3"].display_name],
        "Not enough licenses",
        1,
    )
    empty = selectors.groups.license_blade(tenant=tenant, group=theirs["sales"])
    assert (empty["assignments"], empty["in_error"], empty["error_count"]) == ([], [], 0)


def test_products(two, django_assert_num_queries):
    tenant, w, _other, _theirs = two
    with django_assert_num_queries(1):
        assert selectors.products.tenant_products(tenant=tenant) == [w["ems"], w["e3"]]
    with django_assert_num_queries(1):
        rows = selectors.products.products_with_seats(tenant=tenant)
    assert [(r["product"], r["total"], r["assigned"]) for r in rows] == [
        (w["ems"], 5, 1),
        (w["e3"], 2, 2),
    ]
    with django_assert_num_queries(1):
        (e3,) = selectors.products.products_with_seats(tenant=tenant, sku_id=w["e3"].sku_id)
    with django_assert_num_queries(1):
        window, lines = selectors.products.licensed_user_lines(tenant=tenant, product_seats=e3)
    assert [(line["user"]["display_name"], line["state"]) for line in lines] == [
        ("Ann Archer", LicenseState.ACTIVE),
        ("Bob Baker", LicenseState.ACTIVE),
        ("Cas Cooper", LicenseState.ERROR),
    ]
    assert not window.has_next
    with django_assert_num_queries(1):
        links = selectors.products.plan_links(product=w["e3"])
    assert [link.service_plan for link in links] == list(
        w["e3"].service_plans.order_by("productserviceplan__position")
    )
    with django_assert_num_queries(1):
        rows = list(selectors.products.licensed_user_rows(tenant=tenant, product=w["e3"]))
    assert {r.user for r in rows} == {w["ann"], w["bob"], w["cas"]}
    with django_assert_num_queries(1):
        assert selectors.products.expiring_subscriptions(tenant=tenant)[0].product == w["ems"]


def test_the_overview_and_the_seats(two, django_assert_num_queries):
    tenant, w, _other, theirs = two
    with django_assert_num_queries(4):  # seats, products, groups in error, expiring
        overview = selectors.products.licenses_overview(tenant=tenant)
    assert overview["purchased_count"] == 2
    assert overview["assigned_total"] == 3
    assert overview["error_groups"] == [w["sales"]]
    # EMS is in its grace period; E3's date (the factory's) is within 30 days or past.
    assert [(s.tenant, s.product) for s in overview["expiring"]] == [
        (tenant, w["ems"]),
        (tenant, w["e3"]),
    ]
    with django_assert_num_queries(1):
        seats = selectors.seats.seats(tenant=tenant)
    assert seats[w["e3"].id]["available"] == 0
    everyone = [w["ann"].id, w["bob"].id, w["cas"].id, theirs["bob"].id]
    with django_assert_num_queries(1):
        held = selectors.seats.seat_holders(tenant=tenant, products=[w["e3"]], user_ids=everyone)
    assert held == {(w["ann"].id, w["e3"].id), (w["bob"].id, w["e3"].id)}


def test_audit_and_credentials(two, django_assert_num_queries):
    tenant, _w, other, _theirs = two
    today = datetime.date.today()
    with django_assert_num_queries(1):
        events = selectors.audit.events(
            tenant=tenant, activity="Add user", target="ann", since=today
        ).object_list
    assert [e.tenant for e in events] == [tenant]
    with django_assert_num_queries(1):
        assert "Add user" in selectors.audit.activities(tenant=tenant)
    actor = AccountFactory()
    app, _ = services.app_register(tenant=tenant, name="Script", read_only=True, actor=actor)
    theirs_app, _ = services.app_register(tenant=other, name="Script", read_only=True, actor=actor)
    token, _ = services.scim_token_issue(tenant=tenant, actor=actor)
    theirs_token, _ = services.scim_token_issue(tenant=other, actor=actor)
    with django_assert_num_queries(1):
        assert selectors.credentials.app_registrations(tenant=tenant) == [app]
    with django_assert_num_queries(1):
        found = selectors.credentials.app_registration(
            tenant=tenant, client_id=theirs_app.client_id
        )
    assert found is None
    with django_assert_num_queries(1):
        assert selectors.credentials.scim_tokens(tenant=tenant) == [token]
    with django_assert_num_queries(1):
        assert (
            selectors.credentials.scim_token(tenant=tenant, public_id=theirs_token.public_id)
            is None
        )


def test_accounts(tenant, actor, django_assert_num_queries):
    assert selectors.accounts.roles(account=actor) == []
    role = RoleAssignmentFactory(account=actor, tenant=tenant, role="GlobalReader")
    with django_assert_num_queries(1):
        assert selectors.accounts.roles(account=actor) == [role]
    with django_assert_num_queries(1):
        assert selectors.accounts.has_role(account=actor)
    with django_assert_num_queries(1):
        assert selectors.accounts.language(account=actor) == ""
    account_set_language(account=actor, language="nl")
    assert selectors.accounts.language(account=actor) == "nl"
    assert selectors.accounts.bound_identity(issuer="i", subject="s", tenant_id="t") is None
    assert identity_bind(account=actor, issuer="i", subject="s", tenant_id="t")
    with django_assert_num_queries(1):
        bound = selectors.accounts.bound_identity(issuer="i", subject="s", tenant_id="t")
    assert bound.account == actor


def test_picked_users_and_products(two, django_assert_num_queries):
    tenant, w, _other, theirs = two
    with django_assert_num_queries(1):
        found = selectors.users.picked_users(
            tenant=tenant, ids=[str(w["bob"].public_id), w["ann"].public_id, w["bob"].public_id]
        )
    assert found == [w["bob"], w["ann"]]
    with pytest.raises(NotFound, match=str(theirs["ann"].public_id)):
        selectors.users.picked_users(tenant=tenant, ids=[theirs["ann"].public_id])
    with django_assert_num_queries(1):
        found = selectors.products.picked_products(ids=[w["e3"].sku_id, str(w["ems"].sku_id)])
    assert found == [w["e3"], w["ems"]]


def test_a_groups_error_list_is_paged_with_its_full_count(tenant, actor, django_assert_num_queries):
    e3 = product("ENTERPRISEPACK")
    SubscriptionFactory(tenant=tenant, product=e3, units=1)
    people = DirectoryUserFactory.create_batch(52, tenant=tenant)
    group = services.group_create(tenant=tenant, name="Everyone", actor=actor)
    services.group_add_members(tenant=tenant, group=group, users=people, actor=actor)
    services.group_licenses_change(tenant=tenant, group=group, add={e3: []}, actor=actor)
    group.refresh_from_db()  # as a request reads it: its error counter now
    # assignments, a page of users in error and their rows (more than one page)
    with django_assert_num_queries(2):
        first = selectors.groups.license_blade(tenant=tenant, group=group)
    assert (len(first["in_error"]), first["error_count"]) == (50, 51)
    assert first["error_page"].has_next
    second = selectors.groups.license_blade(tenant=tenant, group=group, page=2)
    assert (len(second["in_error"]), second["error_count"]) == (1, 51)
    seen = {line["user"].public_id for line in first["in_error"] + second["in_error"]}
    assert len(seen) == 51 and seen <= {p.public_id for p in people}


def _group_in_error(tenant, actor, names: list[str]):
    """A group of these users on one seat of E3: all but the first wait in CountViolation."""
    e3 = product("ENTERPRISEPACK")
    SubscriptionFactory(tenant=tenant, product=e3, units=1)
    people = [DirectoryUserFactory(tenant=tenant, display_name=n) for n in names]
    group = services.group_create(tenant=tenant, name="Everyone", actor=actor)
    services.group_add_members(tenant=tenant, group=group, users=people, actor=actor)
    services.group_licenses_change(tenant=tenant, group=group, add={e3: []}, actor=actor)
    group.refresh_from_db()  # as a request reads it: its error counter now
    return group, people


def test_a_groups_error_list_is_searched_by_name_and_principal_name(
    tenant, actor, django_assert_num_queries
):
    names = [f"Ann {i:02}" for i in range(3)] + [f"Zed {i:02}" for i in range(53)]
    group, people = _group_in_error(tenant, actor, names)
    other = TenantFactory(name="Fabrikam", initial_domain="fabrikam.onmicrosoft.com")
    theirs, _ = _group_in_error(other, actor, [f"Zed {i:02}" for i in range(5)])
    # assignments, a page of users with their rows, the count of the matching
    with django_assert_num_queries(3):
        first = selectors.groups.license_blade(tenant=tenant, group=group, search="zED")
    # 56 members on one seat: 55 in error; the Zeds among them, whatever the case
    holder = next(p for p in people if not p.licenses.filter(state="Error").exists())
    expected = sorted(n for n in names if n.startswith("Zed") and n != holder.display_name)
    assert (first["error_count"], first["matching_count"]) == (55, len(expected))
    assert len(first["in_error"]) == 50 and first["error_page"].has_next
    second = selectors.groups.license_blade(tenant=tenant, group=group, search="zed", page=2)
    seen = [line["user"].display_name for line in first["in_error"] + second["in_error"]]
    assert sorted(seen) == expected
    # The user principal name is searched too, exactly one user's.
    upn = next(p for p in people if p.display_name == expected[0]).user_principal_name
    one = selectors.groups.license_blade(tenant=tenant, group=group, search=upn.upper())
    assert [line["user"].user_principal_name for line in one["in_error"]] == [upn]
    assert (one["matching_count"], one["error_count"]) == (1, 55)
    # Nothing of the other tenant: its group is not found through this tenant, its Zeds are
    # not among ours.
    assert (
        selectors.groups.license_blade(tenant=tenant, group=theirs, search="zed")["in_error"] == []
    )
    nothing = selectors.groups.license_blade(tenant=tenant, group=group, search="nobody")
    assert (nothing["in_error"], nothing["matching_count"], nothing["error_count"]) == ([], 0, 55)


def test_the_licensed_users_filters_keep_the_lines_that_show_that_state_and_error(tenant):
    """The filters restate rules.summary_state in SQL (and in the ORM for SQLite): pinned
    together on every combination of one or two paths of a product."""
    from itertools import product as combinations

    from licensing.rules import SUMMARY_ORDER, summary_state
    from licensing.selectors.products import _licensed_users_page_orm
    from tests.factories import GroupFactory, LicenseAssignmentFactory, UserLicenseFactory

    e3 = product("ENTERPRISEPACK")
    paths = [
        ("Active", ""),
        ("Suspended", ""),
        ("ActiveWithError", "DependencyViolation"),
        ("Error", "CountViolation"),
        ("Error", "MutuallyExclusiveViolation"),
    ]
    groups = GroupFactory.create_batch(2, tenant=tenant)
    assignments = [
        LicenseAssignmentFactory(tenant=tenant, user=None, group=g, product=e3) for g in groups
    ]
    lines = {}
    for combination in [*[(p,) for p in paths], *combinations(paths, paths)]:
        user = DirectoryUserFactory(tenant=tenant)
        for (state, error), assignment in zip(combination, assignments, strict=False):
            UserLicenseFactory(
                assignment=assignment,
                user=user,
                via_group=assignment.group,
                state=state,
                error=error,
            )
        lines[user.id] = list(user.licenses.all())
    for state, error in combinations(
        ["", *SUMMARY_ORDER],
        ["", "CountViolation", "DependencyViolation", "MutuallyExclusiveViolation", "Other"],
    ):
        expected = set()
        for user_id, rows in lines.items():
            shown_state, _shown_error = summary_state(rows)
            best = [r for r in rows if r.state == shown_state]
            if (not state or shown_state == state) and (
                not error or any(r.error == error for r in best)
            ):
                expected.add(user_id)
        window, _rows = selectors.products.licensed_users_page(
            tenant=tenant, product=e3, state=state, error=error, per_page=100
        )
        assert {u["id"] for u in window.object_list} == expected, (state, error)
        orm, _rows = _licensed_users_page_orm(
            tenant, e3, "", 1, 100, ("display_name", "id"), state, error
        )
        assert {u["id"] for u in orm.object_list} == expected, (state, error)
    assert len(lines) == 30


def test_a_note_names_a_few_users_and_counts_the_rest_exactly(tenant, django_assert_num_queries):
    from licensing.errors import names_and_more

    people = DirectoryUserFactory.create_batch(7, tenant=tenant)
    people[0].usage_location = "NL"
    people[0].save()
    with django_assert_num_queries(1):
        found = selectors.users.without_location(tenant=tenant, ids=[p.id for p in people])
    first = sorted(p.display_name for p in people[1:])[:3]
    assert found == {"names": first, "total": 6}
    assert names_and_more(found["names"], found["total"]) == f"{', '.join(first)} and 3 more"
    assert names_and_more(["Ann", "Bob"]) == "Ann, Bob"
    assert names_and_more(["Ann", "Bob", "Cas", "Dee"]) == "Ann, Bob, Cas and 1 more"
    assert names_and_more(["Ann"], 1) == "Ann"
