"""A change of one user's direct licenses takes the short path (``licensing.single``): three
statements instead of some twenty. It must do exactly what the general path does. Here both
paths get the same random change in the same random tenant, and everything they leave behind
is compared: intent, rows, Assigned counters, the audit event, or the refusal and its words.
(The state machines also send one-user changes through it, against the independent model.)
"""

from __future__ import annotations

import contextlib
from collections import Counter
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licensing import services, single
from licensing.errors import LicensingError
from licensing.models import (
    AuditEvent,
    LicenseAssignment,
    LicenseError,
    ProcessingState,
    TenantProduct,
    UserLicense,
)
from licensing.services import assignments
from tests.factories import (
    DirectoryUserFactory,
    GroupFactory,
    SubscriptionFactory,
    TenantFactory,
    plan_id,
    product,
)
from tests.helpers import DATABASE_TASKS, assert_consistent, paths_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# Products that meet: exclusive Exchange plans (E3 holds Plan 2, Exchange Online Plan 1 the
# other), an add-on that needs Exchange, E1 and E3 (exclusive with each other), plain ones.
SKUS = [
    "AAD_PREMIUM",
    "EMS",
    "ENTERPRISEPACK",
    "STANDARDPACK",
    "EXCHANGESTANDARD",
    "EXCHANGEARCHIVE_ADDON",
]
OPTIONS = {
    "STANDARDPACK": [[], ["YAMMER_ENTERPRISE"], ["TEAMS1", "YAMMER_ENTERPRISE"]],
    "ENTERPRISEPACK": [[], ["TEAMS1"], ["EXCHANGE_S_ENTERPRISE"]],
}
# None: no subscription.
STATUSES = ["Enabled"] * 5 + ["Warning", "Suspended", None]
UNITS = [1, 1, 1, 2, 0, 3]
LOCATIONS = ["", "NL", "CN", "US"]
PEOPLE = 3


def _options(sku: str, choice: int) -> list[str]:
    choices = OPTIONS.get(sku, [[]])
    return [plan_id(name) for name in choices[choice % len(choices)]]


def snapshot(tenant) -> tuple:
    """Everything a change leaves behind, without database ids and times."""

    def plain(rows):
        return sorted(tuple("" if v is None else str(v) for v in row) for row in rows)

    return (
        plain(
            LicenseAssignment.objects.filter(tenant=tenant).values_list(
                "user__user_principal_name",
                "group__name",
                "product__sku_part_number",
                "disabled_plans",
            )
        ),
        plain(
            UserLicense.objects.filter(tenant=tenant).values_list(
                "user__user_principal_name",
                "product__sku_part_number",
                "via_group__name",
                "disabled_plans",
                "state",
                "error",
            )
        ),
        plain(
            TenantProduct.objects.filter(tenant=tenant).values_list(
                "product__sku_part_number", "assigned"
            )
        ),
        list(
            AuditEvent.objects.filter(tenant=tenant)
            .order_by("id")
            .values_list("actor_name", "activity", "target_type", "target_id", "details")
        ),
    )


def both_paths(tenant, change) -> tuple[tuple, tuple, bool]:
    """Run ``change`` through the short path and through the general one, each from the same
    state (rolled back after); the outcome and snapshot of each, and whether the short path
    took it."""
    results, took = [], []
    real = assignments._change_one_user

    def spy(*args, **kwargs):
        took.append(True)  # a refusal from inside is the short path's decision too
        return real(*args, **kwargs)

    for short in (True, False):
        point = transaction.savepoint()
        with (
            mock.patch.object(single, "available", return_value=short),
            mock.patch.object(assignments, "_change_one_user", spy),
        ):
            try:
                change()
                outcome = "changed"
            except LicensingError as error:
                outcome = (type(error).__name__, str(error), getattr(error, "code", None))
        results.append((outcome, snapshot(tenant)))
        transaction.savepoint_rollback(point)
    return results[0], results[1], bool(took)


@st.composite
def situations(draw):
    """A small tenant where changes meet: tight stock, a few users, groups and direct licenses,
    and a change to one user that mostly touches what that user has."""
    sku = st.sampled_from(SKUS)
    mine = draw(st.lists(st.tuples(sku, st.integers(0, 2)), max_size=3, unique_by=lambda x: x[0]))
    add = draw(st.lists(st.tuples(sku, st.integers(0, 2)), max_size=2, unique_by=lambda x: x[0]))
    # Mostly products the user holds directly (new options, or a removal), sometimes others.
    if mine:
        again = draw(st.lists(st.sampled_from([s for s, _ in mine]), max_size=2))
        add += [(s, draw(st.integers(0, 2))) for s in again]
    remove = draw(st.lists(st.sampled_from([s for s, _ in mine]), max_size=2)) if mine else []
    if draw(st.integers(0, 5)) == 0:
        remove.append(draw(sku))  # mostly not held directly: refused
    add = list(dict(add).items())
    return {
        "stock": [(draw(st.sampled_from(STATUSES)), draw(st.sampled_from(UNITS))) for _ in SKUS],
        "locations": draw(st.lists(st.sampled_from(LOCATIONS), min_size=PEOPLE, max_size=PEOPLE)),
        "groups": draw(
            st.lists(
                st.tuples(
                    st.lists(st.integers(0, PEOPLE - 1), min_size=2, max_size=PEOPLE, unique=True),
                    # Mostly products the user has: others wait for them.
                    st.lists(
                        st.sampled_from([s for s, _ in mine] * 3 + SKUS),
                        min_size=1,
                        max_size=2,
                        unique=True,
                    ),
                ),
                min_size=1,
                max_size=2,
            )
        ),
        "mine": mine,
        "direct": draw(
            st.lists(st.tuples(st.integers(1, PEOPLE - 1), sku, st.integers(0, 2)), max_size=4)
        ),
        # A group change left queued for a worker (a run pending when the change comes).
        "pending": draw(st.sampled_from([False, False, False, True])) and draw(sku),
        "deleted": draw(st.sampled_from([False, False, False, 0, 1])),
        "add": add,
        "remove": [s for s in dict.fromkeys(remove) if s not in dict(add)],
    }


def build(situation) -> tuple:
    tenant = TenantFactory(country="NL")
    for sku, (status, units) in zip(SKUS, situation["stock"], strict=True):
        if status is not None:
            SubscriptionFactory(tenant=tenant, product=product(sku), units=units, status=status)
    people = [
        DirectoryUserFactory(tenant=tenant, usage_location=location)
        for location in situation["locations"]
    ]

    def assign(who, sku, choice):
        with contextlib.suppress(LicensingError):
            services.product_assign_to_users(
                tenant=tenant,
                product=product(sku),
                users=[people[who]],
                disabled_plans=_options(sku, choice),
                actor=None,
            )

    # The user the change is about claims first, then the groups, then the others.
    for sku, choice in situation["mine"]:
        assign(0, sku, choice)
    groups = []
    for members, skus in situation["groups"]:
        group = GroupFactory(tenant=tenant)
        groups.append(group)
        with contextlib.suppress(LicensingError):
            services.group_add_members(
                tenant=tenant, group=group, users=[people[i] for i in members], actor=None
            )
            services.group_assign_products(
                tenant=tenant, group=group, products={product(s): [] for s in skus}, actor=None
            )
    for who, sku, choice in situation["direct"]:
        assign(who, sku, choice)
    if situation["pending"] and groups:
        with override_settings(TASKS=DATABASE_TASKS), contextlib.suppress(LicensingError):
            services.group_assign_products(
                tenant=tenant,
                group=groups[0],
                products={product(situation["pending"]): []},
                actor=None,
            )
    if situation["deleted"] is not False:
        services.user_soft_delete(tenant=tenant, user=people[situation["deleted"]], actor=None)
    return tenant, people


def test_random_one_user_changes_do_what_the_general_path_does(actor):
    taken: Counter = Counter()

    @settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(situations())
    def check(situation):
        with transaction.atomic():
            tenant, people = build(situation)
            user = people[0]
            user.refresh_from_db()

            def change():
                services.direct_licenses_change(
                    tenant=tenant,
                    users=[user],
                    add={product(s): _options(s, c) for s, c in situation["add"]},
                    remove=[product(s) for s in situation["remove"]],
                    actor=actor,
                )

            short, general, took = both_paths(tenant, change)
            assert short == general
            taken[took, short[0] == "changed"] += 1
            transaction.set_rollback(True)

    check()
    # The short path decided both kinds of outcome, and handed some changes on.
    assert taken[True, True] >= 15, taken
    assert taken[True, False] >= 5, taken
    assert taken[False, True] + taken[False, False] >= 5, taken


def test_a_one_user_assignment_is_three_statements_in_the_transaction(tenant, buy, users, actor):
    buy("ENTERPRISEPACK", 2)
    e3 = product("ENTERPRISEPACK")
    first, user = users(2)
    services.product_assign_to_users(tenant=tenant, product=e3, users=[first], actor=actor)
    with CaptureQueriesContext(connection) as queries:
        services.product_assign_to_users(tenant=tenant, product=e3, users=[user], actor=actor)
    # The seat lock, the facts (with the catalog's stamp), the write (the transaction's own
    # statements aside).
    ours = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0] not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
    ]
    assert len(ours) == 3, ours
    assert paths_of(user) == {("ENTERPRISEPACK", None, "Active", "")}
    assert AuditEvent.objects.filter(target_id=str(user.public_id)).count() == 1
    assert_consistent(tenant)


def test_a_seat_let_go_while_another_user_waits_goes_to_them(tenant, buy, users, actor):
    """The short path hands the change on when someone else waits for one of its products:
    the seat the change frees goes to the waiting claim at once (docs/rules.md §6)."""
    buy("AAD_PREMIUM", 1)
    first, second = users(2)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[first], actor=actor
    )
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=[second], actor=actor)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
    )
    assert paths_of(second) == {("AAD_PREMIUM", group.name, "Error", LicenseError.COUNT)}
    services.product_remove_from_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[first], actor=actor
    )
    assert paths_of(first) == set()
    assert paths_of(second) == {("AAD_PREMIUM", group.name, "Active", "")}
    assert_consistent(tenant)


def test_a_pending_group_run_on_a_product_is_completed_before_the_change(tenant, buy, users, actor):
    buy("AAD_PREMIUM", 2)
    first, second = users(2)
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=[first], actor=actor)
    with override_settings(TASKS=DATABASE_TASKS):
        services.group_assign_products(
            tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=actor
        )
    group.refresh_from_db()
    assert group.processing_state == ProcessingState.QUEUED
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[second], actor=actor
    )
    group.refresh_from_db()
    assert group.processing_state == ProcessingState.COMPLETE
    assert paths_of(first) == {("AAD_PREMIUM", group.name, "Active", "")}
    assert paths_of(second) == {("AAD_PREMIUM", None, "Active", "")}
    assert_consistent(tenant)
