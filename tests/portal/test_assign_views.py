"""The Assign blade: picker, options, preview, and the commit."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from licensing import services
from licensing.models import (
    AuditEvent,
    DirectoryUser,
    GroupMembership,
    LicenseAssignment,
    Subscription,
    UserLicense,
)
from licensing.seats import recount_members
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, plan_id, product
from tests.helpers import DATABASE_TASKS

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
    assert "Not enough licenses: needs 2, 2 available" not in page
    assert _review(page).count("2") >= 2  # needed and available
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


# -- Review + assign ----------------------------------------------------------------------------


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def _text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts)).replace(" )", ")").strip()


def _review(page: str) -> str:
    """The words of the review section, as read."""
    start = page.index('<section id="preview"')
    return _text(page[start : page.index("</section>", start)])


def _assign_button(page: str) -> str:
    return re.search(r'<button[^>]*value="assign"[^>]*>', page).group(0)


def _members(tenant, group, n: int, **kwargs) -> list[DirectoryUser]:
    """n users of the tenant in the group, made in bulk (a few statements, however many)."""
    people = DirectoryUser.objects.bulk_create(
        DirectoryUserFactory.build_batch(n, tenant=tenant, **kwargs)
    )
    now = timezone.now()
    GroupMembership.objects.bulk_create(
        GroupMembership(group=group, user=person, added_at=now) for person in people
    )
    recount_members([group.id])  # as the services do: the pages read the group's counter
    return people


def test_review_names_services_off_users_and_groups_with_their_member_counts(
    client, as_role, tenant, buy, users
):
    buy("ENTERPRISEPACK", 1500)
    e3 = product("ENTERPRISEPACK")
    as_role()
    adele = users(1, display_name="Adele Wilber")[0]
    sales = GroupFactory(tenant=tenant, name="Sales")
    _members(tenant, sales, 1200)
    solo = GroupFactory(tenant=tenant, name="Solo")
    _members(tenant, solo, 1)
    data = {
        "product": [e3.sku_id],
        "user": [adele.public_id],
        "group": [sales.public_id, solo.public_id],
        f"options-{e3.sku_id}": "1",
        f"plan-{e3.sku_id}": _all_on(e3, "TEAMS1", "YAMMER_ENTERPRISE"),
    }
    page = client.get(reverse("portal:assign"), data, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    review = _review(page)
    assert review.startswith("Review + assign")
    assert (
        "Office 365 E3 Microsoft Teams, Viva Engage (Yammer) 1,202 1,500 Enough licenses" in review
    )
    assert "Adele Wilber" in review
    assert "Sales (1,200 members)" in review and "Solo (1 member)" in review
    assert "Not enough" not in review
    assert "disabled" not in _assign_button(page)
    dutch = _review(
        client.get(reverse("portal:assign"), data, HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    )
    assert dutch.startswith("Controleren en toewijzen")
    assert "1.202 1.500 Voldoende licenties" in dutch
    assert "Sales (1.200 leden)" in dutch and "Solo (1 lid)" in dutch


def test_review_when_short_says_so_and_disables_assign(client, as_role, e3, users):
    as_role()
    people = users(3)
    data = {"product": [e3.sku_id], "user": [p.public_id for p in people]}
    page = client.get(reverse("portal:assign"), data, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Not enough licenses: needs 3, 2 available" in _review(page)
    assert "disabled" in _assign_button(page)
    dutch = client.get(reverse("portal:assign"), data, HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "Niet genoeg licenties: 3 nodig, 2 beschikbaar" in _review(dutch)
    # The server still refuses the POST the button would send.
    response = client.post(reverse("portal:assign"), {**data, "action": "assign"})
    assert response.status_code == 200
    assert not LicenseAssignment.objects.exists()


def test_review_of_an_over_assigned_product_shows_no_negative_number(
    client, as_role, tenant, e3, users
):
    as_role()
    holders = users(2)
    services.product_assign_to_users(tenant=tenant, product=e3, users=holders, actor=None)
    Subscription.objects.filter(tenant=tenant, product=e3).update(units=1)  # over-assigned
    newcomer = users(1)[0]
    page = client.get(
        reverse("portal:assign"), {"product": [e3.sku_id], "user": [newcomer.public_id]}
    ).content.decode()
    review = _review(page)
    assert "Not enough licenses: needs 1, 0 available" in review
    assert not re.search(r"-\s*\d", review)
    assert "disabled" in _assign_button(page)


def test_review_counts_no_seat_for_holders_nor_deleted_members(client, as_role, tenant, e3, users):
    as_role()
    sales = GroupFactory(tenant=tenant, name="Sales")
    holder, gone, _newcomer = _members(tenant, sales, 3)
    services.product_assign_to_users(tenant=tenant, product=e3, users=[holder], actor=None)
    DirectoryUser.objects.filter(id=gone.id).update(soft_deleted_at=timezone.now())
    page = client.get(
        reverse("portal:assign"), {"product": [e3.sku_id], "group": [sales.public_id]}
    ).content.decode()
    # Of three members: one holds E3 already, one is deleted (no new seat while deleted).
    assert "Office 365 E3 None 1 1 Enough licenses" in _review(page)
    assert "Sales (3 members)" in _review(page)


def test_a_group_short_of_seats_may_be_assigned_and_the_review_says_who_fails(
    client, as_role, tenant, e3
):
    as_role()
    sales = GroupFactory(tenant=tenant, name="Sales")
    _members(tenant, sales, 3)
    page = client.get(
        reverse("portal:assign"), {"product": [e3.sku_id], "group": [sales.public_id]}
    ).content.decode()
    # Group-based licensing does not refuse for seats (docs/rules.md §6): members are in error.
    assert "Not enough licenses: needs 3, 2 available" in _review(page)
    assert "Group members beyond the available licenses will be in error" in _review(page)
    assert "disabled" not in _assign_button(page)


def test_the_review_counts_members_of_the_picked_groups_in_one_query(
    tenant, e3, django_assert_num_queries
):
    from licensing import selectors

    groups = [GroupFactory(tenant=tenant) for _ in range(3)]
    for n, group in enumerate(groups):
        _members(tenant, group, n * 50)
    with django_assert_num_queries(1):
        counts = selectors.groups.member_counts(tenant=tenant, groups=groups)
    assert [counts[g.id] for g in groups] == [0, 50, 100]
    other = GroupFactory(tenant=TenantFactory())
    with django_assert_num_queries(0):
        assert selectors.groups.member_counts(tenant=tenant, groups=[other]) == {}


def test_group_outcomes_are_read_in_three_queries_whatever_the_groups(
    tenant, e3, settings, django_assert_num_queries
):
    from licensing import selectors

    done = [GroupFactory(tenant=tenant, name=f"Done {n}") for n in range(3)]
    for group in done:
        _members(tenant, group, 2)
        services.group_assign_products(tenant=tenant, group=group, products={e3: []}, actor=None)
    settings.TASKS = DATABASE_TASKS
    waiting = GroupFactory(tenant=tenant, name="Waiting")
    _members(tenant, waiting, 2)
    services.group_assign_products(tenant=tenant, group=waiting, products={e3: []}, actor=None)
    with django_assert_num_queries(3):  # the groups now, their counts, their errors by reason
        found = selectors.groups.license_outcomes(
            tenant=tenant, groups=[*done, waiting], products=[e3]
        )
    assert [(o["group"].name, o["complete"], o["licensed"], o["failed"]) for o in found] == [
        ("Done 0", True, 2, 0),
        ("Done 1", True, 0, 2),
        ("Done 2", True, 0, 2),
        ("Waiting", False, 0, 0),
    ]
    assert found[1]["errors"] == [("Not enough licenses", 2)]
    theirs = GroupFactory(tenant=TenantFactory())
    with django_assert_num_queries(0):
        assert (
            selectors.groups.license_outcomes(tenant=tenant, groups=[theirs], products=[e3]) == []
        )


# -- After Assign -------------------------------------------------------------------------------


def _assign(client, e3, *, users=(), groups=(), language="en"):
    response = client.post(
        reverse("portal:assign"),
        {
            "action": "assign",
            "product": [e3.sku_id],
            "user": [u.public_id for u in users],
            "group": [g.public_id for g in groups],
        },
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 303, response.content.decode()[:2000]
    *_earlier, message = get_messages(response.wsgi_request)
    return message


def test_the_message_names_whom_and_what(client, as_role, tenant, e3, users):
    as_role()
    adele = users(1, display_name="Adele Wilber")[0]
    message = _assign(client, e3, users=[adele, *users(1)])
    assert str(message) == "Office 365 E3 assigned to Adele Wilber and 1 other."
    assert message.level == messages.SUCCESS
    assert str(_assign(client, e3, users=[adele])) == "Office 365 E3 assigned to Adele Wilber."


def test_the_message_for_users_and_groups_is_short_and_plural_correct(
    client, as_role, tenant, buy, users
):
    buy("ENTERPRISEPACK", 10)
    buy("EMS", 10)
    e3, ems = product("ENTERPRISEPACK"), product("EMS")
    as_role()
    adele = users(1, display_name="Adele Wilber")[0]
    sales = GroupFactory(tenant=tenant, name="Sales")
    _members(tenant, sales, 2)
    people = [adele, *users(2)]
    groups = [sales, GroupFactory(tenant=tenant, name="Tiny")]
    response = client.post(
        reverse("portal:assign"),
        {
            "action": "assign",
            "product": [e3.sku_id, ems.sku_id],
            "user": [u.public_id for u in people],
            "group": [g.public_id for g in groups],
        },
        HTTP_ACCEPT_LANGUAGE="nl",
    )
    [message] = get_messages(response.wsgi_request)
    assert str(message).startswith(
        "Office 365 E3, Enterprise Mobility + Security E3 toegewezen aan Adele Wilber, Sales en 3"
        " anderen. Sales: 2 gebruikers gelicentieerd. Tiny: 0 gebruikers gelicentieerd."
    )


def test_a_groups_outcome_with_errors_is_a_warning_naming_the_reason(client, as_role, tenant, e3):
    as_role()
    sales = GroupFactory(tenant=tenant, name="Sales")
    _members(tenant, sales, 3)
    message = _assign(client, e3, groups=[sales])
    # The run went at once (the immediate task backend): its real outcome, from the rows.
    assert str(message) == (
        "Office 365 E3 assigned to Sales. "
        "Sales: 2 users licensed, 1 with an error: Not enough licenses."
    )
    assert message.level == messages.WARNING
    assert UserLicense.objects.filter(via_group=sales, error="CountViolation").count() == 1
    bigger = GroupFactory(tenant=tenant, name="Bigger")
    _members(tenant, bigger, 2)
    dutch = _assign(client, e3, groups=[bigger], language="nl")
    assert str(dutch) == (
        "Office 365 E3 toegewezen aan Bigger. "
        "Bigger: 0 gebruikers gelicentieerd, 2 met fouten: Niet genoeg licenties."
    )
    assert dutch.level == messages.ERROR


def test_a_group_still_processing_links_to_its_progress(client, as_role, tenant, e3, settings):
    as_role()
    settings.TASKS = DATABASE_TASKS  # a worker runs it later
    sales = GroupFactory(tenant=tenant, name="Sales")
    _members(tenant, sales, 3)
    message = _assign(client, e3, groups=[sales])
    url = reverse("portal:group_licenses", args=[sales.public_id])
    assert str(message) == (
        f'Office 365 E3 assigned to Sales. Sales is being processed. <a href="{url}">'
        "See its progress</a>"
    )
    assert message.level == messages.INFO
    page = client.get(reverse("portal:products")).content.decode()
    assert f'<a href="{url}">See its progress</a>' in page


def test_htmx_assign_carries_the_message_to_all_products(
    client, as_role, tenant, e3, users, htmx_headers
):
    as_role()
    adele = users(1, display_name="Adele Wilber")[0]
    response = client.post(
        reverse("portal:assign"),
        {"action": "assign", "product": [e3.sku_id], "user": [adele.public_id]},
        headers=htmx_headers,
    )
    assert response["HX-Redirect"] == reverse("portal:products")
    page = client.get(reverse("portal:products")).content.decode()
    assert "Office 365 E3 assigned to Adele Wilber." in page


# -- Assignment options: Cancel -----------------------------------------------------------------


def _kept(page: str, e3) -> str:
    return re.search(rf'name="kept-{e3.sku_id}" value="([^"]*)"', page).group(1)


def test_options_remember_how_they_were_on_opening_and_cancel_restores_them(
    client, as_role, e3, users, htmx_headers
):
    as_role()
    person = users(1)[0]
    base = {
        "product": [e3.sku_id],
        "user": [person.public_id],
        f"options-{e3.sku_id}": "1",
    }
    teams = plan_id("TEAMS1")
    # Closed: what it remembers is what is set now (Teams off).
    page = client.post(
        reverse("portal:assign"), {**base, f"plan-{e3.sku_id}": _all_on(e3, "TEAMS1")}
    ).content.decode()
    assert _kept(page, e3) == teams
    # Open, the admin turns Teams back on and Yammer off: it still remembers Teams off.
    toggled = {
        **base,
        f"plan-{e3.sku_id}": _all_on(e3, "YAMMER_ENTERPRISE"),
        f"kept-{e3.sku_id}": teams,
    }
    page = client.post(
        reverse("portal:assign"), {**toggled, "open": "options"}, headers=htmx_headers
    ).content.decode()
    assert _kept(page, e3) == teams
    assert "data-reopen" in page
    # Cancel: back to Teams off, closed.
    page = client.post(
        reverse("portal:assign"), {**toggled, "action": "cancel-options"}, headers=htmx_headers
    ).content.decode()
    assert "Office 365 E3: 7 of 8 services on" in page
    assert f'value="{teams}" checked' not in page
    assert f'value="{plan_id("YAMMER_ENTERPRISE")}" checked' in page
    assert "data-reopen" not in page
    assert "Microsoft Teams" in _review(page)
    # OK keeps the choice: it is what is remembered from now on.
    page = client.post(
        reverse("portal:assign"), {**toggled, "action": "options"}, headers=htmx_headers
    ).content.decode()
    assert _kept(page, e3) == plan_id("YAMMER_ENTERPRISE")
    assert "Viva Engage (Yammer)" in _review(page)
