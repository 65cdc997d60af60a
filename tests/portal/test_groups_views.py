"""Groups: members, the group's Licenses blade, deletion (docs/rules.md §4, §6)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from licensing import services
from licensing.models import Group, GroupMembership, UserLicense
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, product
from tests.helpers import DATABASE_TASKS

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysts(tenant, buy, users, actor):
    buy("POWER_BI_PRO", 2)
    group = GroupFactory(tenant=tenant, name="Analysts")
    services.group_add_members(tenant=tenant, group=group, users=users(3), actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("POWER_BI_PRO"): []}, actor=actor
    )
    return group


def test_group_licenses_shows_status_and_members_in_error(client, as_role, analysts):
    as_role("GlobalReader")
    page = client.get(reverse("portal:group_licenses", args=[analysts.public_id])).content.decode()
    for text in (
        "1 user has license assignment errors",
        "Failed assignments",
        "Top reason for failure",
        "Power BI Pro",
        "Not enough licenses",
    ):
        assert text in page
    assert "Remove license" not in page


def test_group_without_errors_says_changes_are_applied(client, as_role, tenant, buy, actor):
    buy("AAD_PREMIUM", 5)
    group = GroupFactory(tenant=tenant)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    as_role()
    page = client.get(reverse("portal:group_licenses", args=[group.public_id])).content.decode()
    assert "Latest license changes have been applied to all users" in page


def test_group_licenses_query_count_is_fixed(client, as_role, tenant, analysts, users, actor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    as_role()

    def count():
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("portal:group_licenses", args=[analysts.public_id]))
        return len(ctx.captured_queries)

    few = count()
    services.group_add_members(tenant=tenant, group=analysts, users=users(30), actor=actor)
    # session, account, roles, group (with its error counter), assignments, a page of users in
    # error with their rows: fixed
    assert count() == few == 6


def test_removing_a_groups_license_removes_the_path_from_every_member(client, as_role, analysts):
    as_role("LicenseAdministrator")
    response = client.post(
        reverse("portal:group_remove_licenses", args=[analysts.public_id]),
        {"product": [product("POWER_BI_PRO").sku_id]},
    )
    assert response.status_code == 303
    assert not UserLicense.objects.filter(via_group=analysts).exists()


def test_members_add_and_remove(client, as_role, tenant, analysts):
    as_role()
    newcomer = DirectoryUserFactory(tenant=tenant, display_name="Newcomer Person")
    page = client.get(
        reverse("portal:group", args=[analysts.public_id]), {"q": "newcomer"}
    ).content.decode()
    assert "Newcomer Person" in page
    client.post(
        reverse("portal:group_add_members", args=[analysts.public_id]),
        {"user": [newcomer.public_id]},
    )
    assert UserLicense.objects.get(user=newcomer).error == "CountViolation"
    client.post(
        reverse("portal:group_remove_members", args=[analysts.public_id]),
        {"user": [newcomer.public_id]},
    )
    assert not GroupMembership.objects.filter(user=newcomer).exists()


def test_license_administrator_cannot_change_members_or_delete_groups(
    client, as_role, tenant, analysts
):
    as_role("LicenseAdministrator")
    someone = DirectoryUserFactory(tenant=tenant)
    assert (
        client.post(
            reverse("portal:group_add_members", args=[analysts.public_id]),
            {"user": [someone.public_id]},
        ).status_code
        == 403
    )
    assert client.post(reverse("portal:group_delete", args=[analysts.public_id])).status_code == 403
    assert (
        "Remove member"
        not in client.get(reverse("portal:group", args=[analysts.public_id])).content.decode()
    )


def test_licensed_group_cannot_be_deleted_and_the_page_says_why(client, as_role, analysts):
    as_role()
    page = client.get(reverse("portal:group", args=[analysts.public_id])).content.decode()
    assert "This group holds licenses, so it cannot be deleted." in page
    response = client.post(reverse("portal:group_delete", args=[analysts.public_id]), follow=True)
    assert "still has licenses" in response.content.decode()
    assert Group.objects.filter(id=analysts.id).exists()


def test_unlicensed_group_is_deleted(client, as_role, tenant):
    as_role()
    group = GroupFactory(tenant=tenant)
    response = client.post(reverse("portal:group_delete", args=[group.public_id]))
    assert response["Location"] == reverse("portal:groups")
    assert not Group.objects.filter(id=group.id).exists()


def test_other_tenants_group_is_404_and_get_on_commands_is_405(client, as_role, analysts):
    as_role(on=TenantFactory())
    for name in ("portal:group", "portal:group_licenses"):
        assert client.get(reverse(name, args=[analysts.public_id])).status_code == 404
    for name in (
        "portal:group_remove_licenses",
        "portal:group_reprocess",
        "portal:group_add_members",
        "portal:group_remove_members",
        "portal:group_delete",
    ):
        assert client.post(reverse(name, args=[analysts.public_id])).status_code == 404
        assert client.get(reverse(name, args=[analysts.public_id])).status_code == 405


def test_reprocess_group_from_the_blade(client, as_role, analysts, htmx_headers):
    as_role()
    response = client.post(
        reverse("portal:group_reprocess", args=[analysts.public_id]), headers=htmx_headers
    )
    assert response.status_code == 204
    assert "2 users licensed, 1 with errors" in response["HX-Trigger"]


def test_a_group_in_processing_shows_progress_and_polls_until_complete(
    client, as_role, analysts, settings, htmx_headers
):
    """The group's Licenses page and the product's Licensed groups tab poll (htmx "every")
    while a worker processes the group; the first answer after completion does not, so the
    polling stops."""
    as_role()
    settings.TASKS = DATABASE_TASKS
    outcome = services.reprocess_group(tenant=analysts.tenant, group=analysts, actor=None)
    assert outcome is None  # queued for a worker
    pages = [
        reverse("portal:group_licenses", args=[analysts.public_id]),
        reverse("portal:product_groups", args=[product("POWER_BI_PRO").sku_id]),
    ]
    Group.objects.filter(id=analysts.id).update(
        processing_state="ProcessingInProgress", processing_done=2, processing_total=3
    )
    for url in pages:
        for headers in ({}, htmx_headers):
            page = client.get(url, headers=headers).content.decode()
            assert "every 2s" in page
            assert 'value="2"' in page and "2 of 3 members" in page
    run = Group.objects.get(id=analysts.id).processing_run
    # The worker finishes the run.
    from licensing.processing import run_group

    assert run_group(analysts.id, run) == {"assigned": 2, "failed": 1}
    for url in pages:
        page = client.get(url, headers=htmx_headers).content.decode()
        assert "every 2s" not in page
        assert "<progress" not in page
    page = client.get(pages[0], headers=htmx_headers).content.decode()
    assert "1 user has license assignment errors" in page


def test_removing_members_says_how_many_plural_correct(client, as_role, analysts):
    as_role()
    people = [m.user for m in analysts.memberships.select_related("user").order_by("id")]
    url = reverse("portal:group_remove_members", args=[analysts.public_id])
    follow = client.post(url, {"user": [people[0].public_id]}, follow=True)
    assert "Removed 1 member from Analysts." in follow.content.decode()
    follow = client.post(
        url,
        {"user": [p.public_id for p in people[1:]]},
        headers={"Accept-Language": "nl"},
        follow=True,
    )
    assert "2 leden verwijderd uit Analysts." in follow.content.decode()
