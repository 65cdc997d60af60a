"""Scenarios of an outside audit of the engine, each named after the rule it broke
(docs/rules.md). Every test checks the rows Azure's documented behaviour gives, and that the
independent model (tests/model/) agrees after every step."""

from __future__ import annotations

import copy

import pytest
from django.core.management import call_command

from licensing import processing, services
from licensing.catalog import read_catalog
from licensing.errors import AssignmentRefused, DependencyRefused
from licensing.models import AuditEvent, Group, LicenseAssignment, UserLicense
from tests.factories import DirectoryUserFactory, GroupFactory, plan_id, product
from tests.helpers import DATABASE_TASKS, paths_of, seats
from tests.model.licensing_model import Model, differences

pytestmark = pytest.mark.django_db


_models: list[Model] = []


@pytest.fixture
def model(tenant):
    """The independent model of the tenant. It takes every change as it happens (the
    helpers below and ``step()`` after a direct service call); ``model.check()`` compares."""
    m = Model(tenant)

    def check():
        m.step()
        assert differences(m) == []

    m.check = check
    _models.append(m)
    yield m
    _models.remove(m)


def step() -> None:
    for m in _models:
        m.step()


def person(tenant, name, **kwargs):
    return DirectoryUserFactory(
        tenant=tenant, display_name=name, user_principal_name=f"{name}@contoso.com", **kwargs
    )


def join(tenant, group, *people, actor=None):
    for who in people:  # one at a time: the join order is the seat order
        services.group_add_members(tenant=tenant, group=group, users=[who], actor=actor)
        step()


def give(tenant, group, *skus, disabled=None, actor=None):
    services.group_assign_products(
        tenant=tenant,
        group=group,
        products={product(s): [plan_id(p) for p in (disabled or {}).get(s, [])] for s in skus},
        actor=actor,
    )
    step()


def direct(tenant, sku, *people, disabled=(), actor=None):
    services.product_assign_to_users(
        tenant=tenant,
        product=product(sku),
        users=list(people),
        disabled_plans=[plan_id(p) for p in disabled],
        actor=actor,
    )
    step()


# -- D1: seat order never depends on batching or timing --------------------------------------


def test_seat_order_is_claim_order_whatever_the_batch_size(tenant, buy, settings, model):
    settings.GROUP_PROCESSING_BATCH = 1
    buy("STANDARDPACK", 2)
    buy("EMS", 0)
    buy("AAD_PREMIUM", 5)
    c, e, late = person(tenant, "c"), person(tenant, "e"), person(tenant, "late")
    direct(tenant, "AAD_PREMIUM", c)
    h = GroupFactory(tenant=tenant, name="H")
    join(tenant, h, late)
    give(tenant, h, "STANDARDPACK", "EMS")  # late waits: no EMS seat
    g = GroupFactory(tenant=tenant, name="G")
    join(tenant, g, c, e, late)
    give(tenant, g, "STANDARDPACK")
    model.check()
    assert ("STANDARDPACK", "G", "Active", "") in paths_of(c)
    assert ("STANDARDPACK", "G", "Active", "") in paths_of(e)
    assert ("STANDARDPACK", "G", "Error", "CountViolation") in paths_of(late)


@pytest.mark.parametrize("meanwhile", ["late joins", "late moves"])
def test_a_queued_group_change_is_not_overtaken_by_a_later_change(
    tenant, buy, settings, model, meanwhile
):
    settings.TASKS = DATABASE_TASKS  # a worker runs group changes later
    buy("AAD_PREMIUM", 1)
    early, late = person(tenant, "early"), person(tenant, "late")
    g = GroupFactory(tenant=tenant, name="G")
    join(tenant, g, early)
    if meanwhile == "late moves":
        join(tenant, g, late)
    give(tenant, g, "AAD_PREMIUM")  # queued
    if meanwhile == "late joins":
        join(tenant, g, late)
    else:
        services.user_set_usage_location(tenant=tenant, user=late, usage_location="BE", actor=None)
        step()
    model.step()
    group = Group.objects.get(id=g.id)
    processing.run_group(group.id, group.processing_run)  # the worker, at last
    step()
    model.check()
    assert paths_of(early) == {("AAD_PREMIUM", "G", "Active", "")}
    assert paths_of(late) == {("AAD_PREMIUM", "G", "Error", "CountViolation")}


def test_runs_of_groups_sharing_a_member_give_seats_in_claim_order(tenant, buy, settings, model):
    """Found by the state machine: with Mobility's run queued, E3's run (queued later, one
    member in both) gave that member the one EMS seat ahead of Mobility's earlier member.
    Queuing E3's change now completes Mobility's run first."""
    settings.TASKS = DATABASE_TASKS  # a worker runs group changes later
    buy("EMS", 1)
    buy("ENTERPRISEPACK", 1)
    first, second = person(tenant, "first"), person(tenant, "second")
    mobility, e3 = (
        GroupFactory(tenant=tenant, name="Mobility"),
        GroupFactory(tenant=tenant, name="E3"),
    )
    join(tenant, mobility, first, second)
    join(tenant, e3, second)
    give(tenant, mobility, "EMS")  # queued
    give(tenant, e3, "ENTERPRISEPACK")  # queued, after Mobility's run
    for group in Group.objects.filter(processing_state__in=processing.UNFINISHED):
        processing.run_group(group.id, group.processing_run)  # the worker
    model.check()
    assert paths_of(first) == {("EMS", "Mobility", "Active", "")}
    assert paths_of(second) == {
        ("EMS", "Mobility", "Error", "CountViolation"),
        ("ENTERPRISEPACK", "E3", "Active", ""),
    }


def test_a_queued_group_change_is_decided_before_a_later_one_sharing_a_member(
    tenant, buy, settings, model
):
    """Found by the state machine: E3's run, queued first, had to complete Mail's (queued
    later, same member) inside its batch; Mail's run took Exchange for the member while E3's
    earlier claim was held back, and E3 then failed against it. Queuing Mail now completes
    E3's run first, as if each change had been applied when it was made."""
    settings.TASKS = DATABASE_TASKS  # a worker runs group changes later
    buy("ENTERPRISEPACK", 1)
    buy("EXCHANGESTANDARD", 2)
    a = person(tenant, "a")
    e3, mail = GroupFactory(tenant=tenant, name="E3"), GroupFactory(tenant=tenant, name="Mail")
    join(tenant, e3, a)
    join(tenant, mail, a)
    give(tenant, e3, "ENTERPRISEPACK")  # queued
    give(tenant, mail, "EXCHANGESTANDARD")  # queued, after E3's run
    assert Group.objects.get(id=e3.id).processing_state == "ProcessingComplete"
    group = Group.objects.get(id=mail.id)
    processing.run_group(group.id, group.processing_run)
    model.check()
    assert paths_of(a) == {
        ("ENTERPRISEPACK", "E3", "Active", ""),
        ("EXCHANGESTANDARD", "Mail", "Error", "MutuallyExclusiveViolation"),
    }


# -- D2: a soft-deleted member keeps what they hold --------------------------------------------


def test_a_deleted_member_keeps_their_suspended_seat_when_the_group_gains_a_product(
    tenant, buy, model
):
    buy("AAD_PREMIUM", 1)
    buy("EMS", 5)
    u = person(tenant, "u")
    g = GroupFactory(tenant=tenant, name="G")
    join(tenant, g, u)
    give(tenant, g, "AAD_PREMIUM")
    services.user_soft_delete(tenant=tenant, user=u, actor=None)
    step()
    model.check()
    give(tenant, g, "EMS")
    model.check()
    assert paths_of(u) == {("AAD_PREMIUM", "G", "Suspended", "")}
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1
    assert seats(tenant, "EMS")["assigned"] == 0
    services.user_restore(tenant=tenant, user=u, actor=None)
    step()
    model.check()
    assert paths_of(u) == {("AAD_PREMIUM", "G", "Active", ""), ("EMS", "G", "Active", "")}


# -- D3, D4: only licenses with a seat conflict or provide a prerequisite -----------------------


def test_a_license_without_a_seat_blocks_no_other(tenant, buy, model):
    buy("EXCHANGESTANDARD", 1)
    buy("EXCHANGEENTERPRISE", 5)
    first, second = person(tenant, "first"), person(tenant, "second")
    g1, g2 = GroupFactory(tenant=tenant, name="G1"), GroupFactory(tenant=tenant, name="G2")
    join(tenant, g1, first, second)
    give(tenant, g1, "EXCHANGESTANDARD")
    assert paths_of(second) == {("EXCHANGESTANDARD", "G1", "Error", "CountViolation")}
    join(tenant, g2, second)
    give(tenant, g2, "EXCHANGEENTERPRISE")
    model.check()
    # Exchange (Plan 2) works; the waiting Plan 1 now could never work beside it, and says so.
    assert paths_of(second) == {
        ("EXCHANGESTANDARD", "G1", "Error", "MutuallyExclusiveViolation"),
        ("EXCHANGEENTERPRISE", "G2", "Active", ""),
    }


def test_a_prerequisite_from_a_license_without_a_seat_does_not_count(tenant, buy, model):
    buy("ENTERPRISEPACK", 1)
    buy("EXCHANGEARCHIVE_ADDON", 5)
    first, second = person(tenant, "first"), person(tenant, "second")
    g = GroupFactory(tenant=tenant, name="G")
    join(tenant, g, first, second)
    give(tenant, g, "ENTERPRISEPACK")  # second waits
    with pytest.raises(DependencyRefused) as refused:
        direct(tenant, "EXCHANGEARCHIVE_ADDON", second)
    # The refusal names the plan that is needed (D10).
    assert "Exchange Online Archiving requires Exchange Online (Plan 1) or Exchange Online " in (
        str(refused.value)
    )
    model.check()
    assert paths_of(second) == {("ENTERPRISEPACK", "G", "Error", "CountViolation")}


# -- D5: a change never silently breaks a license the user has ---------------------------------


def test_turning_on_a_conflicting_plan_in_a_direct_license_is_refused(tenant, buy, model):
    buy("ENTERPRISEPACK", 5)
    buy("EXCHANGESTANDARD", 5)
    u = person(tenant, "u")
    direct(tenant, "ENTERPRISEPACK", u, disabled=["EXCHANGE_S_ENTERPRISE"])
    g = GroupFactory(tenant=tenant, name="Mail")
    join(tenant, g, u)
    give(tenant, g, "EXCHANGESTANDARD")
    model.check()
    e3 = LicenseAssignment.objects.get(user=u, product=product("ENTERPRISEPACK"))
    with pytest.raises(AssignmentRefused) as refused:
        services.assignment_set_disabled_plans(
            tenant=tenant, assignment=e3, disabled_plans=[], actor=None
        )
    message = str(refused.value)
    assert "Exchange Online (Plan 2) conflicts with Exchange Online (Plan 1)" in message
    assert "Exchange Online (Plan 1) (inherited from Mail)" in message
    model.check()
    assert paths_of(u) == {
        ("ENTERPRISEPACK", None, "Active", ""),
        ("EXCHANGESTANDARD", "Mail", "Active", ""),
    }


def test_a_group_options_change_that_conflicts_fails_the_groups_path_only(tenant, buy, model):
    buy("ENTERPRISEPACK", 5)
    buy("EXCHANGESTANDARD", 5)
    u = person(tenant, "u")
    g = GroupFactory(tenant=tenant, name="E3")
    join(tenant, g, u)
    give(tenant, g, "ENTERPRISEPACK", disabled={"ENTERPRISEPACK": ["EXCHANGE_S_ENTERPRISE"]})
    direct(tenant, "EXCHANGESTANDARD", u)
    model.check()
    give(tenant, g, "ENTERPRISEPACK")  # Exchange (Plan 2) turned on in the group's E3
    model.check()
    assert paths_of(u) == {
        ("ENTERPRISEPACK", "E3", "Error", "MutuallyExclusiveViolation"),
        ("EXCHANGESTANDARD", None, "Active", ""),
    }


# -- D6: removing a prerequisite is refused, naming the license that needs it ------------------


@pytest.fixture
def archived(tenant, buy):
    """u has Office 365 E3 directly and from the group "E3", and the archive add-on directly."""
    buy("ENTERPRISEPACK", 5)
    buy("EXCHANGEARCHIVE_ADDON", 5)
    u = person(tenant, "u")
    g = GroupFactory(tenant=tenant, name="E3")
    return u, g


def test_removing_a_direct_prerequisite_is_refused_with_dependency_violation(
    tenant, archived, model
):
    u, _g = archived
    direct(tenant, "ENTERPRISEPACK", u)
    direct(tenant, "EXCHANGEARCHIVE_ADDON", u)
    model.check()
    with pytest.raises(DependencyRefused) as refused:
        services.product_remove_from_users(
            tenant=tenant, product=product("ENTERPRISEPACK"), users=[u], actor=None
        )
    assert refused.value.code == "DependencyViolation"
    assert "Exchange Online Archiving for Exchange Online (direct) would stop working" in str(
        refused.value
    )
    model.check()
    assert ("EXCHANGEARCHIVE_ADDON", None, "Active", "") in paths_of(u)


@pytest.mark.parametrize("how", ["leave the group", "remove the group's E3", "turn off Exchange"])
def test_a_group_change_that_takes_a_prerequisite_is_refused(tenant, archived, model, how):
    u, g = archived
    join(tenant, g, u)
    give(tenant, g, "ENTERPRISEPACK")
    direct(tenant, "EXCHANGEARCHIVE_ADDON", u)
    model.check()
    before = paths_of(u)
    with pytest.raises(DependencyRefused):
        if how == "leave the group":
            services.group_remove_members(tenant=tenant, group=g, users=[u], actor=None)
        elif how == "remove the group's E3":
            services.group_remove_products(
                tenant=tenant, group=g, products=[product("ENTERPRISEPACK")], actor=None
            )
        else:
            give(
                tenant, g, "ENTERPRISEPACK", disabled={"ENTERPRISEPACK": ["EXCHANGE_S_ENTERPRISE"]}
            )
    model.check()
    assert paths_of(u) == before


# -- D7: a plan added to the catalog re-decides the licenses it touches ------------------------


def test_load_catalog_adding_a_plan_re_decides_the_rows(tenant, buy, model, monkeypatch):
    buy("AAD_PREMIUM", 5)
    u = person(tenant, "u", usage_location="IR")
    direct(tenant, "AAD_PREMIUM", u)
    model.check()
    assert paths_of(u) == {("AAD_PREMIUM", None, "Active", "")}
    data = copy.deepcopy(read_catalog())
    data["service_plans"].append(
        {
            "service_plan_name": "NEW_NOT_IN_IR",
            "service_plan_id": "00000000-0000-4000-8000-00000000aaaa",
            "display_name": "A new plan",
            "not_offered_in": ["IR"],
        }
    )
    (p1,) = [p for p in data["products"] if p["sku_part_number"] == "AAD_PREMIUM"]
    p1["service_plans"].append("NEW_NOT_IN_IR")
    monkeypatch.setattr("licensing.catalog.read_catalog", lambda: data)
    call_command("load_catalog", verbosity=0)
    model.check()
    assert paths_of(u) == {
        ("AAD_PREMIUM", None, "ActiveWithError", "ProhibitedInUsageLocationViolation")
    }


# -- D8: a group carries its add-on's prerequisite ----------------------------------------------


def test_removing_the_prerequisite_from_a_group_with_the_add_on_is_refused(tenant, buy, model):
    buy("EXCHANGESTANDARD", 5)
    buy("EXCHANGEARCHIVE_ADDON", 5)
    g = GroupFactory(tenant=tenant, name="Mail")
    join(tenant, g, person(tenant, "u"))
    give(tenant, g, "EXCHANGESTANDARD", "EXCHANGEARCHIVE_ADDON")
    with pytest.raises(DependencyRefused, match="The service Exchange Online Archiving requires"):
        services.group_remove_products(
            tenant=tenant, group=g, products=[product("EXCHANGESTANDARD")], actor=None
        )
    model.check()


# -- D9, D11: deleted members are not failures; runs are the system's ------------------------


def test_a_run_counts_no_deleted_member_as_failed_and_is_audited_as_the_system(
    tenant, buy, model, actor
):
    buy("AAD_PREMIUM", 5)
    a, b = person(tenant, "a"), person(tenant, "b")
    g = GroupFactory(tenant=tenant, name="G")
    join(tenant, g, a, b)
    services.user_soft_delete(tenant=tenant, user=b, actor=None)
    step()
    give(tenant, g, "AAD_PREMIUM", actor=actor)
    model.check()
    assert paths_of(b) == set()
    finish = AuditEvent.objects.get(activity="Finish applying group based license to users")
    assert finish.details["summary"] == (
        "Users successfully assigned licenses: 1, Users for whom license assignment failed: 0."
    )
    assert finish.actor_name == "Group-based licensing" and finish.actor is None
    start = AuditEvent.objects.get(activity="Start applying group based license to users")
    assert start.actor_name == "Group-based licensing"
    assert AuditEvent.objects.get(activity="Set group license").actor == actor


# -- D12: the same user twice is one user ------------------------------------------------------


def test_the_same_user_twice_in_one_direct_assignment_takes_one_seat(tenant, buy, model):
    buy("AAD_PREMIUM", 1)
    u = person(tenant, "u")
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[u, u], actor=None
    )
    model.check()
    assert paths_of(u) == {("AAD_PREMIUM", None, "Active", "")}
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == 1
    assert UserLicense.objects.filter(user=u).count() == 1


def test_claim_time_uses_the_later_of_assignment_and_membership(tenant, buy, model):
    """A member who joined after the product was given waits behind the earlier members."""
    buy("AAD_PREMIUM", 1)
    g = GroupFactory(tenant=tenant, name="G")
    old = person(tenant, "old")
    join(tenant, g, old)
    give(tenant, g, "AAD_PREMIUM")
    newcomer = person(tenant, "newcomer")
    join(tenant, g, newcomer)
    model.check()
    assert paths_of(newcomer) == {("AAD_PREMIUM", "G", "Error", "CountViolation")}


def test_a_new_group_product_that_would_take_a_members_prerequisite_is_refused(
    tenant, archived, buy, model
):
    """All-or-nothing: a member without a seat of the group's new product would lose the
    group's E3 too, and with it the Exchange their direct archive add-on requires."""
    u, g = archived
    buy("EMS", 0)
    join(tenant, g, u)
    give(tenant, g, "ENTERPRISEPACK")
    direct(tenant, "EXCHANGEARCHIVE_ADDON", u)
    before = paths_of(u)
    with pytest.raises(DependencyRefused, match="Exchange Online Archiving"):
        give(tenant, g, "EMS")
    model.check()
    assert paths_of(u) == before


def test_a_waiting_license_judged_again_whatever_the_batch_size(tenant, buy, settings, model):
    """Found by the state machine: a member's waiting Exchange (Plan 1) must say it conflicts
    with the E3 the member has just been given, also when that member is in a batch before
    the run's last one."""
    settings.GROUP_PROCESSING_BATCH = 1
    buy("EXCHANGESTANDARD", 0)
    buy("ENTERPRISEPACK", 1)
    first, second = person(tenant, "first"), person(tenant, "second")
    mail, e3 = GroupFactory(tenant=tenant, name="Mail"), GroupFactory(tenant=tenant, name="E3")
    join(tenant, mail, first)
    give(tenant, mail, "EXCHANGESTANDARD")  # first waits: no seat
    join(tenant, e3, first, second)
    give(tenant, e3, "ENTERPRISEPACK")  # first gets the seat, in the run's first batch
    model.check()
    assert paths_of(first) == {
        ("EXCHANGESTANDARD", "Mail", "Error", "MutuallyExclusiveViolation"),
        ("ENTERPRISEPACK", "E3", "Active", ""),
    }


# E1 with every service off but Teams, which is not offered in Iran: for a member there, the
# group's whole claim fails (no enabled service can work), which frees the seats it held.
NOT_IN_IRAN = {
    "STANDARDPACK": [
        "EXCHANGE_S_STANDARD",
        "SHAREPOINTSTANDARD",
        "SHAREPOINTWAC",
        "YAMMER_ENTERPRISE",
        "MCOSTANDARD",
        "BPOS_S_TODO_1",
    ]
}


@pytest.mark.parametrize("batch", [1, 50_000])
def test_seats_a_run_frees_go_in_claim_order_whatever_the_batch_size(
    tenant, buy, settings, model, batch
):
    """Found by the state machine: when a run makes a member's license through *another*
    group valid again, that license must not take a seat ahead of an earlier claim of a
    member the run reaches later."""
    settings.GROUP_PROCESSING_BATCH = batch
    buy("ENTERPRISEPACK", 2)
    buy("EXCHANGESTANDARD", 1)
    buy("STANDARDPACK", 2)
    a, b = person(tenant, "a", usage_location="IR"), person(tenant, "b", usage_location="IR")
    e3, mail = GroupFactory(tenant=tenant, name="E3"), GroupFactory(tenant=tenant, name="Mail")
    join(tenant, e3, a, b)
    give(tenant, e3, "ENTERPRISEPACK")
    join(tenant, mail, b, a)  # b's Mail claim comes first
    give(tenant, mail, "EXCHANGESTANDARD")  # both conflict with their E3
    model.check()
    # E3's claim now fails for both (E1 cannot work in Iran), so both Mail licenses become
    # valid, and the one seat goes to b, though the run reaches a first.
    give(tenant, e3, "STANDARDPACK", disabled=NOT_IN_IRAN)
    model.check()
    assert ("EXCHANGESTANDARD", "Mail", "Active", "") in paths_of(b)
    assert ("EXCHANGESTANDARD", "Mail", "Error", "CountViolation") in paths_of(a)


@pytest.mark.parametrize("batch", [1, 50_000])
def test_a_seat_let_go_goes_to_the_earliest_waiting_claim_not_to_one_the_change_touches(
    tenant, buy, settings, model, batch
):
    """Found by the state machine: a change let a seat go, and a waiting claim of a user the
    change was about took it, ahead of an earlier claim of a user it was not about."""
    settings.GROUP_PROCESSING_BATCH = batch
    buy("ENTERPRISEPACK", 1)
    buy("STANDARDPACK", 5)
    buy("AAD_PREMIUM", 5)
    holder = person(tenant, "holder", usage_location="IR")
    early, late = person(tenant, "early"), person(tenant, "late", usage_location="IR")
    direct(tenant, "AAD_PREMIUM", holder)  # a license of its own: the run decides it in Python
    first, second = (
        GroupFactory(tenant=tenant, name="First"),
        GroupFactory(tenant=tenant, name="Second"),
    )
    join(tenant, first, holder, late)
    give(tenant, first, "ENTERPRISEPACK")  # holder takes the seat; late waits
    join(tenant, second, early, late)
    give(tenant, second, "ENTERPRISEPACK")  # both wait; early's claim comes first
    model.check()
    # First also gives E1 with only Teams on: its claim fails for holder and late, who are in
    # Iran. The seat holder lets go is early's, though the change is about late.
    give(tenant, first, "STANDARDPACK", disabled=NOT_IN_IRAN)
    model.check()
    assert ("ENTERPRISEPACK", "Second", "Active", "") in paths_of(early)
    assert ("ENTERPRISEPACK", "Second", "Error", "CountViolation") in paths_of(late)


@pytest.mark.parametrize("batch", [1, 2, 50_000])
def test_a_claim_left_for_the_last_batch_keeps_its_place_for_every_product_it_needs(
    tenant, buy, settings, model, batch
):
    """Found by the state machine: a member's claim waited for the run's last batch because
    a seat it needed might belong to an earlier claim outside the run; a later member of the
    same batch took the seat of its *other* product meanwhile."""
    settings.GROUP_PROCESSING_BATCH = batch
    buy("ENTERPRISEPACK", 2)
    buy("EXCHANGEARCHIVE_ADDON", 1)
    buy("AAD_PREMIUM", 1)
    first, waiting = person(tenant, "first"), person(tenant, "waiting")
    early, last = person(tenant, "early"), person(tenant, "last")
    premium = GroupFactory(tenant=tenant, name="Premium")
    join(tenant, premium, first, waiting)
    give(tenant, premium, "AAD_PREMIUM", "ENTERPRISEPACK")  # waiting waits: no P1 seat
    archive = GroupFactory(tenant=tenant, name="Archive")
    join(tenant, archive, early, first, last)
    give(tenant, archive, "EXCHANGEARCHIVE_ADDON", "ENTERPRISEPACK")
    model.check()
    # waiting's claim comes first but cannot work; early's comes next and takes the last E3
    # seat and the one archive seat; first (E3 held already) and last wait for the archive.
    assert ("EXCHANGEARCHIVE_ADDON", "Archive", "Active", "") in paths_of(early)
    assert ("EXCHANGEARCHIVE_ADDON", "Archive", "Error", "CountViolation") in paths_of(first)


# -- Members joining a licensed group in bulk: the run starts behind the members before ------


@pytest.mark.parametrize("worker", [False, True], ids=["at once", "with a worker"])
def test_members_joining_in_bulk_take_seats_in_join_order_behind_the_members_before(
    tenant, buy, settings, monkeypatch, model, worker
):
    """More than ``BULK_MEMBERS`` joiners of a licensed group are applied by the group's run,
    which starts behind the members the group already had (their run is complete, and the
    joiners' claims come after theirs). The rows must be those of one evaluation of all."""
    from licensing.services import groups as group_services

    monkeypatch.setattr(group_services, "BULK_MEMBERS", 1)
    settings.GROUP_PROCESSING_BATCH = 2
    if worker:
        settings.TASKS = DATABASE_TASKS
    buy("EMS", 5)
    buy("AAD_PREMIUM", 1)
    people = [person(tenant, f"p{i}") for i in range(9)]
    g = GroupFactory(tenant=tenant, name="G")
    waiting = GroupFactory(tenant=tenant, name="Waiting")
    direct(tenant, "AAD_PREMIUM", people[0])
    join(tenant, waiting, people[8])
    give(tenant, waiting, "EMS", "AAD_PREMIUM")  # p8 waits for AAD_PREMIUM, so for EMS too
    give(tenant, g, "EMS")
    model.check()

    def bulk(*who):
        services.group_add_members(tenant=tenant, group=g, users=list(who), actor=None)
        step()

    bulk(people[1], people[2], people[3])
    state = Group.objects.get(id=g.id)
    if worker:  # queued behind the members before: none yet
        assert (state.processing_done, state.processing_total) == (0, 3)
    bulk(people[0], people[4], people[5])  # completes the pending run first
    state = Group.objects.get(id=g.id)
    if worker:
        assert (state.processing_done, state.processing_total) == (3, 6)
        processing.run_group(g.id, state.processing_run)
    model.check()
    held = {p.display_name for p in people if ("EMS", "G", "Active", "") in paths_of(p)}
    # Five seats: the first three joiners, then p0 (joined with p4, p5 at the same moment,
    # lowest id first) and p4; p5 waits, and p8's waiting claim keeps waiting too.
    assert held == {"p1", "p2", "p3", "p0", "p4"}
    assert paths_of(people[5]) == {("EMS", "G", "Error", "CountViolation")}
    services.group_remove_members(tenant=tenant, group=g, users=[people[1]], actor=None)
    step()
    model.check()  # the freed seat goes to the earliest waiting claim
    assert ("EMS", "G", "Active", "") in paths_of(people[5])


def test_a_deleted_user_added_by_a_provider_is_licensed_only_when_restored(tenant, buy, model):
    """An identity provider's disabled user (soft-deleted here) may join its groups: the
    group's paths are not applied while the user is deleted (rules §7), restoring applies
    them under the seat rules."""
    buy("EMS", 1)
    gone, other = person(tenant, "gone"), person(tenant, "other")
    g = GroupFactory(tenant=tenant, name="G")
    give(tenant, g, "EMS")
    services.user_soft_delete(tenant=tenant, user=gone, actor=None)
    step()
    with pytest.raises(AssignmentRefused):  # the portal's rule, as in Azure
        services.group_add_members(tenant=tenant, group=g, users=[gone], actor=None)
    services.group_add_members(
        tenant=tenant, group=g, users=[gone, other], actor=None, deleted_too=True
    )
    step()
    model.check()
    assert paths_of(gone) == set()
    assert paths_of(other) == {("EMS", "G", "Active", "")}
    services.user_restore(tenant=tenant, user=gone, actor=None)
    step()
    model.check()
    assert paths_of(gone) == {("EMS", "G", "Error", "CountViolation")}
