"""Licenses blades: Overview, All products, the product blade and its commands."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from licensing import services
from licensing.models import AuditEvent, UserLicense
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, product

pytestmark = pytest.mark.django_db


@pytest.fixture
def e3(tenant, buy, users, actor):
    buy("ENTERPRISEPACK", 100)
    buy("AAD_PREMIUM", 10, status="Warning")
    e3 = product("ENTERPRISEPACK")
    services.product_assign_to_users(tenant=tenant, product=e3, users=users(3), actor=actor)
    return e3


def test_pages_require_sign_in(client, e3):
    for url in (
        reverse("portal:overview"),
        reverse("portal:products"),
        reverse("portal:product", args=[e3.sku_id]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_overview_shows_purchased_and_groups_with_errors(client, as_role, tenant, e3, users, actor):
    group = GroupFactory(tenant=tenant, name="Too many")
    services.group_add_members(tenant=tenant, group=group, users=users(12), actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    as_role("GlobalReader")
    page = client.get(reverse("portal:overview")).content.decode()
    assert "Purchased" in page
    assert "Too many" in page
    assert "2 users in error" in page


def test_all_products_lists_columns_and_counts(client, as_role, e3):
    as_role()
    response = client.get(reverse("portal:products"))
    page = response.content.decode()
    for label in (
        "Name",
        "Total",
        "Assigned",
        "Available",
        "Expiring soon",
        "Office 365 E3",
        "+</span>Assign",
    ):
        assert label in page.replace('<span class="icon" aria-hidden="true">', "")
    row = response.context["rows"]
    counts = {
        r["product"].sku_part_number: (r["total"], r["assigned"], r["available"], r["expiring"])
        for r in row
    }
    assert counts == {"ENTERPRISEPACK": (100, 3, 97, 0), "AAD_PREMIUM": (10, 0, 10, 10)}


def test_all_products_search_and_htmx_branch(client, as_role, e3, htmx_headers):
    as_role()
    response = client.get(reverse("portal:products"), {"q": "e3"}, headers=htmx_headers)
    page = response.content.decode()
    assert "<html" not in page
    assert "Office 365 E3" in page and "Entra ID P1" not in page


def test_all_products_query_count_is_fixed(client, as_role, tenant, buy, django_assert_num_queries):
    as_role()
    for sku in (
        "ENTERPRISEPACK",
        "AAD_PREMIUM",
        "EMS",
        "POWER_BI_PRO",
        "STANDARDPACK",
        "EXCHANGESTANDARD",
    ):
        buy(sku, 5)
    # session, account, roles, products with their seats and plans = 4 whatever the products
    with django_assert_num_queries(4):
        client.get(reverse("portal:products"))


def test_reader_sees_no_commands(client, as_role, e3):
    as_role("GlobalReader")
    page = client.get(reverse("portal:product", args=[e3.sku_id])).content.decode()
    assert "Remove license" not in page and "Reprocess" not in page and 'name="user"' not in page
    assert "Download" in page


def test_licensed_users_shows_paths_states_and_services(client, as_role, tenant, e3, users, actor):
    group = GroupFactory(tenant=tenant, name="Sales")
    (member,) = users(1, usage_location="CN")
    services.group_add_members(tenant=tenant, group=group, users=[member], actor=actor)
    services.group_assign_products(tenant=tenant, group=group, products={e3: []}, actor=actor)
    as_role()
    page = client.get(reverse("portal:product", args=[e3.sku_id])).content.decode()
    for text in (
        "Name",
        "User principal name",
        "Assignment paths",
        "State",
        "Enabled services",
        "Usage location",
        "Inherited (Sales)",
        "Direct",
        "Active with error",
        "Usage location isn&#x27;t allowed",
        "7 / 8",
        "CN",
    ):
        assert text in page


def test_licensed_users_query_count_does_not_grow_with_users(
    client, as_role, tenant, e3, users, actor, django_assert_num_queries
):
    as_role()

    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("portal:product", args=[e3.sku_id]))
        return len(ctx.captured_queries)

    few = count()
    services.product_assign_to_users(tenant=tenant, product=e3, users=users(40), actor=actor)
    # session, account, roles, the product with its seats and plans, the page of users with
    # their paths: fixed, however many users are licensed (no count: the pager has none).
    assert count() == few == 5


def test_licensed_users_paginates(client, as_role, tenant, e3, users, actor):
    services.product_assign_to_users(tenant=tenant, product=e3, users=users(60), actor=actor)
    as_role()
    first = client.get(reverse("portal:product", args=[e3.sku_id]))
    assert len(first.context["lines"]) == 50
    second = client.get(reverse("portal:product", args=[e3.sku_id]), {"page": 2})
    assert len(second.context["lines"]) == 13
    # No total is counted: the pager says which items are shown and offers the neighbours.
    assert "Items 51–63" in second.content.decode()
    assert "Next ›" in first.content.decode() and "Next ›" not in second.content.decode()


def test_licensed_users_rows_escape_what_users_typed(client, as_role, tenant, e3, users, actor):
    (user,) = users(1, display_name='<img src=x onerror="alert(1)">', usage_location="NL")
    group = GroupFactory(tenant=tenant, name="<b>Sales</b>")
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=actor)
    services.group_assign_products(tenant=tenant, group=group, products={e3: []}, actor=actor)
    as_role()
    page = client.get(reverse("portal:product", args=[e3.sku_id])).content.decode()
    assert "<img src=x" not in page and "<b>Sales</b>" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "Inherited (&lt;b&gt;Sales&lt;/b&gt;)" in page


def test_licensed_groups_and_plans_tabs(client, as_role, tenant, e3, actor):
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_assign_products(tenant=tenant, group=group, products={e3: []}, actor=actor)
    as_role()
    groups_page = client.get(reverse("portal:product_groups", args=[e3.sku_id])).content.decode()
    assert (
        "Sales" in groups_page
        and "Latest license changes have been applied to all users" in groups_page
    )
    plans_page = client.get(reverse("portal:product_plans", args=[e3.sku_id])).content.decode()
    assert (
        "EXCHANGE_S_ENTERPRISE" in plans_page
        and "efb87545-963c-4e0d-99df-69c6916d9eb0" in plans_page
    )


def test_download_is_csv_of_licensed_users(client, as_role, e3):
    as_role("GlobalReader")
    response = client.get(reverse("portal:product_download", args=[e3.sku_id]))
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "Name,User principal name,Assignment path,State,Error,Usage location"
    assert len(lines) == 4


def test_another_tenants_product_page_is_404(client, as_role, e3):
    as_role(on=TenantFactory())
    assert client.get(reverse("portal:product", args=[e3.sku_id])).status_code == 404


def test_malformed_id_in_url_is_404(client, as_role):
    as_role()
    assert client.get("/licenses/products/not-a-guid/").status_code == 404


def test_remove_license_from_licensed_users(client, as_role, tenant, e3):
    as_role("LicenseAdministrator")
    user = UserLicense.objects.filter(product=e3).first().user
    response = client.post(
        reverse("portal:product_remove", args=[e3.sku_id]), {"user": [user.public_id]}
    )
    assert response.status_code == 303
    assert not UserLicense.objects.filter(user=user).exists()
    follow = client.get(response["Location"])
    assert "Removed Office 365 E3 from 1 user." in follow.content.decode()


def test_remove_license_htmx_answers_with_events(client, as_role, e3, htmx_headers):
    as_role()
    user = UserLicense.objects.filter(product=e3).first().user
    response = client.post(
        reverse("portal:product_remove", args=[e3.sku_id]),
        {"user": [user.public_id]},
        headers=htmx_headers,
    )
    assert response.status_code == 204
    events = json.loads(response["HX-Trigger"])
    assert "licensesChanged" in events and events["notify"]["level"] == "success"


def test_remove_with_another_tenants_user_changes_nothing(client, as_role, e3, htmx_headers):
    as_role()
    stranger = DirectoryUserFactory(tenant=TenantFactory())
    response = client.post(
        reverse("portal:product_remove", args=[e3.sku_id]),
        {"user": [stranger.public_id]},
        headers=htmx_headers,
    )
    assert json.loads(response["HX-Trigger"])["notify"]["level"] == "error"
    assert UserLicense.objects.count() == 3


def test_commands_are_403_for_reader_and_405_for_get(client, as_role, e3):
    as_role("GlobalReader")
    for name in ("portal:product_remove", "portal:product_reprocess"):
        assert client.post(reverse(name, args=[e3.sku_id])).status_code == 403
        assert client.get(reverse(name, args=[e3.sku_id])).status_code == 405
    assert UserLicense.objects.count() == 3


def test_reprocess_product_is_audited(client, as_role, e3):
    account = as_role()
    response = client.post(reverse("portal:product_reprocess", args=[e3.sku_id]))
    assert response.status_code == 303
    assert AuditEvent.objects.get(activity="Reprocess product license assignments").actor == account


def test_tables_sort_by_a_column_both_ways(client, as_role, tenant, buy, users, actor):
    buy("AAD_PREMIUM", 50)
    p1 = product("AAD_PREMIUM")
    people = [
        DirectoryUserFactory(tenant=tenant, display_name=name, usage_location=loc)
        for name, loc in [("Bianca", "DE"), ("Alex", "NL"), ("Cameron", "BE")]
    ]
    services.product_assign_to_users(tenant=tenant, product=p1, users=people, actor=actor)
    as_role()

    def names(url, sort):
        response = client.get(url, {"sort": sort})
        return [line["user"]["display_name"] for line in response.context["lines"]]

    url = reverse("portal:product", args=[p1.sku_id])
    assert names(url, "name") == ["Alex", "Bianca", "Cameron"]
    assert names(url, "-name") == ["Cameron", "Bianca", "Alex"]
    assert names(url, "location") == ["Cameron", "Bianca", "Alex"]
    assert names(url, "nonsense") == ["Alex", "Bianca", "Cameron"]
    page = client.get(url, {"sort": "name"}).content.decode()
    assert 'aria-sort="ascending"' in page and "sort=-name" in page
    products = client.get(reverse("portal:products"), {"sort": "-assigned"}).context["rows"]
    assert [r["assigned"] for r in products] == sorted(
        (r["assigned"] for r in products), reverse=True
    )


def test_users_groups_and_audit_sort(client, as_role, tenant, users):
    users(3)
    as_role()
    for name, sort in (
        ("portal:users", "-upn"),
        ("portal:groups", "-members"),
        ("portal:audit", "activity"),
    ):
        response = client.get(reverse(name), {"sort": sort})
        assert response.status_code == 200
        assert 'aria-sort="' in response.content.decode()


def test_tabs_are_boosted_and_a_boosted_request_gets_the_whole_page(
    client, as_role, e3, htmx_headers
):
    as_role()
    url = reverse("portal:product_groups", args=[e3.sku_id])
    page = client.get(url).content.decode()
    assert 'class="tabs" hx-boost="true" hx-target="main"' in page
    boosted = client.get(url, headers={**htmx_headers, "HX-Boosted": "true"}).content.decode()
    assert "<html" in boosted and "Licensed groups" in boosted


def test_audit_log_is_newest_first_and_says_so(client, as_role, tenant):
    services.group_create(tenant=tenant, name="First", actor=None)
    services.group_create(tenant=tenant, name="Second", actor=None)
    as_role()
    response = client.get(reverse("portal:audit"))
    assert [e.target_name for e in response.context["page"].object_list][:2] == ["Second", "First"]
    assert 'aria-sort="descending"' in response.content.decode()


def test_the_sqlite_paths_of_the_product_pages_agree_with_the_sql(
    tenant, e3, users, actor, monkeypatch
):
    """The quick start runs on SQLite, where these pages use the ORM: same rows either way."""
    from django.db import connection

    from licensing.selectors.products import licensed_users_page, products_with_seats

    people = users(3)
    services.product_assign_to_users(tenant=tenant, product=e3, users=people, actor=actor)
    group = GroupFactory(tenant=tenant, name="Sales")
    services.group_add_members(tenant=tenant, group=group, users=people[:1], actor=actor)
    services.group_assign_products(tenant=tenant, group=group, products={e3: []}, actor=actor)
    in_sql = (
        products_with_seats(tenant=tenant),
        products_with_seats(tenant=tenant, sku_id=e3.sku_id),
        licensed_users_page(tenant=tenant, product=e3, per_page=2),
        licensed_users_page(
            tenant=tenant, product=e3, per_page=2, page=2, order_by=["-user_principal_name"]
        ),
    )
    monkeypatch.setattr(connection, "vendor", "sqlite")
    in_orm = (
        products_with_seats(tenant=tenant),
        products_with_seats(tenant=tenant, sku_id=e3.sku_id),
        licensed_users_page(tenant=tenant, product=e3, per_page=2),
        licensed_users_page(
            tenant=tenant, product=e3, per_page=2, page=2, order_by=["-user_principal_name"]
        ),
    )
    assert in_sql == in_orm
    assert len(in_sql[2][0].object_list) == 2 and in_sql[2][0].has_next


def test_the_product_header_asks_for_itself_after_a_change_and_gets_fresh_counts(
    client, as_role, e3, django_assert_num_queries
):
    as_role()
    url = reverse("portal:product", args=[e3.sku_id])
    page = client.get(url).content.decode()
    assert f'<div id="product-header" hx-get="{url}" hx-trigger="licensesChanged from:body"' in page
    user = UserLicense.objects.filter(product=e3).first().user
    client.post(reverse("portal:product_remove", args=[e3.sku_id]), {"user": [user.public_id]})
    headers = {"HX-Request": "true", "HX-Target": "product-header"}
    for name in ("portal:product", "portal:product_groups", "portal:product_plans"):
        # session, account, roles, the product with its seats: not the page's lists
        with django_assert_num_queries(4):
            header = client.get(reverse(name, args=[e3.sku_id]), headers=headers)
        text = header.content.decode()
        assert text.lstrip().startswith('<div id="product-header"') and "<table" not in text
        assert "Total 100 · Assigned 2 · Available 98" in text
    # The tab of the page asking stays the current one.
    assert 'aria-current="page">Service plan details' in text


def test_the_service_plans_tab_reads_serviceplannen_in_dutch(client, as_role, e3):
    as_role()
    page = client.get(
        reverse("portal:product_plans", args=[e3.sku_id]), headers={"Accept-Language": "nl"}
    ).content.decode()
    assert 'aria-current="page">Serviceplannen</a>' in page
