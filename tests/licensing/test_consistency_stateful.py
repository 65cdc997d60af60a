"""The engine against the independent model (tests/model/), by a hypothesis state machine.

Random sequences of every licensing operation across two tenants: direct and group
assignment, options, joins and leaves, usage locations, soft delete, restore, permanent
delete, subscription changes, catalog plan additions, reprocessing. Group runs write a
random number of members a statement (1 to 7), and in "queued" mode they wait for a worker while other changes
happen, then run. The model applies every change at once, synchronously, to the whole tenant.

After every step where no run is pending: the engine's rows and Assigned counters equal the
model's (docs/rules.md §8: the result never depends on how the work was split), nothing
crosses tenants, Assigned ≤ Total for every product whose Total never dropped, and every change
that went through left an AuditEvent while every refusal left none.
"""

from __future__ import annotations

import inspect
import os

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from licensing import processing, services
from licensing.consistency import consistency_problems
from licensing.errors import LicensingError
from licensing.models import (
    AuditEvent,
    DirectoryUser,
    Group,
    LicenseAssignment,
    ProcessingState,
    ProductServicePlan,
    ServicePlan,
    Subscription,
)
from licensing.seats import seat_counts
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory, plan_id, product
from tests.helpers import DATABASE_TASKS
from tests.model.licensing_model import Model, differences

# Few products, so that changes meet: plain ones, mutually exclusive Exchange plans (E3 holds
# Plan 2), and an add-on that requires Exchange.
SKUS = [
    "AAD_PREMIUM",
    "EMS",
    "ENTERPRISEPACK",
    "EXCHANGESTANDARD",
    "EXCHANGEARCHIVE_ADDON",
]
IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
OPTIONS = {
    "STANDARDPACK": [[], ["YAMMER_ENTERPRISE"], ["TEAMS1", "YAMMER_ENTERPRISE"]],
    "ENTERPRISEPACK": [
        [],
        ["TEAMS1"],
        ["SHAREPOINTENTERPRISE", "SHAREPOINTWAC"],
        ["EXCHANGE_S_ENTERPRISE"],
    ],
}
LOCATIONS = ["", "NL", "CN", "US"]

# Minutes, not seconds: `make check` leaves them to `make test` and `make explore`.
pytestmark = pytest.mark.stateful

index = st.integers(min_value=0, max_value=10_000)
# CI runs the same examples every time (a red run is the change's doing);
# STATEFUL_EXPLORE=1 draws new ones (with pytest's --hypothesis-seed=N to replay a run).
DERANDOMIZE = not os.environ.get("STATEFUL_EXPLORE")


class LicensingMachine(RuleBasedStateMachine):
    @initialize(
        units=st.lists(st.integers(0, 3), min_size=len(SKUS), max_size=len(SKUS)),
        queued=st.booleans(),
        batch=st.integers(1, 7),
        joins=st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 4)),
            min_size=5,
            max_size=int(os.environ.get("STATEFUL_JOINS", "10")),
            unique=True,
        ),
        gives=st.lists(
            st.lists(st.sampled_from(SKUS), min_size=1, max_size=2, unique=True),
            min_size=3,
            max_size=3,
        ),
        order=st.randoms(use_true_random=False),
    )
    def setup(self, units, queued, batch, joins, gives, order):
        # Few seats, so that members compete for them and order matters.
        self.savepoint = transaction.savepoint()
        self.tenants = [TenantFactory(country="NL"), TenantFactory(country="CN")]
        self.dropped: set[tuple[int, int]] = set()
        self.queued, self.batch, self.new_plans = queued, batch, 0
        for t in self.tenants:
            DirectoryUserFactory.create_batch(5, tenant=t)
            GroupFactory.create_batch(3, tenant=t)
            for sku, n in zip(SKUS, units, strict=True):
                services.subscription_create(
                    tenant=t, product=product(sku), units=n, start_date="2026-01-01", actor=None
                )
        self.models = [Model(t) for t in self.tenants]
        for model in self.models:
            model.step()
        # A random start: memberships, group and direct licenses in a random order, through
        # the services like every later step, so that later steps meet a busy tenant.
        tenant = self.tenants[0]
        people = list(DirectoryUser.objects.filter(tenant=tenant).order_by("id"))
        groups = list(Group.objects.filter(tenant=tenant).order_by("id"))
        steps = [("join", g, u) for g, u in joins] + [
            ("give", g, skus) for g, skus in enumerate(gives)
        ]
        order.shuffle(steps)
        for kind, g, what in steps:
            if kind == "join":
                self._apply(
                    lambda g=g, u=what: services.group_add_members(
                        tenant=tenant, group=groups[g], users=[people[u]], actor=None
                    )
                )
            else:
                self._apply(
                    lambda g=g, skus=what: services.group_assign_products(
                        tenant=tenant,
                        group=groups[g],
                        products={product(x): [] for x in skus},
                        actor=None,
                    )
                )

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    # -- picking --------------------------------------------------------------------------
    def _tenant(self, i):
        # Most changes in one tenant, so that they meet; some in the other (isolation).
        return self.tenants[1] if i % 4 == 0 else self.tenants[0]

    def _users(self, tenant, i, k=2):
        people = list(DirectoryUser.objects.filter(tenant=tenant).order_by("id"))
        if not people:
            return []
        return [people[(i + j * 7) % len(people)] for j in range(min(k, len(people)))]

    def _group(self, tenant, i):
        groups = list(Group.objects.filter(tenant=tenant).order_by("id"))
        return groups[i % len(groups)] if groups else None

    def _apply(self, action):
        before = AuditEvent.objects.count()
        tasks = DATABASE_TASKS if self.queued else IMMEDIATE_TASKS
        try:
            with override_settings(TASKS=tasks, GROUP_PROCESSING_BATCH=self.batch):
                action()
        except LicensingError:
            assert AuditEvent.objects.count() == before, "a refusal wrote an audit event"
            return
        finally:
            # The model applies every change at once, as if nothing were ever queued.
            for model in self.models:
                model.step()
        assert AuditEvent.objects.count() > before, "a change left no audit event"

    def _pending(self, tenant=None):
        groups = Group.objects.filter(
            processing_state__in=[ProcessingState.QUEUED, ProcessingState.IN_PROGRESS]
        )
        return groups.filter(tenant=tenant) if tenant else groups

    # -- how the work is split -------------------------------------------------------------
    @rule(queued=st.booleans(), batch=st.integers(1, 7))
    def split_the_work(self, queued, batch):
        """From now on: group runs wait for a worker (or run at once), writing ``batch``
        members a statement."""
        self.queued, self.batch = queued, batch

    @rule(batch=st.integers(1, 7), which=index)
    def worker_runs_a_queued_group(self, batch, which):
        pending = list(self._pending().order_by("processing_updated_at", "id"))
        if pending:
            group = pending[which % len(pending)]
            with override_settings(GROUP_PROCESSING_BATCH=batch):
                processing.run_group(group.id, group.processing_run)

    @rule(batch=st.integers(1, 7))
    def worker_runs_everything(self, batch):
        with override_settings(GROUP_PROCESSING_BATCH=batch):
            for group in self._pending().order_by("processing_updated_at", "id"):
                group.refresh_from_db()
                processing.run_group(group.id, group.processing_run)

    @rule(s=st.sampled_from(SKUS), loc=st.sampled_from(["CN", "US", "IR"]))
    def catalog_adds_a_plan(self, s, loc):
        """A plan added to a product, not offered in one country: enabled in every assignment
        of it, and every user of it decided again (rules §9)."""
        self.new_plans += 1
        plan = ServicePlan.objects.create(
            service_plan_id=f"00000000-0000-4000-8000-{self.new_plans:012d}",
            service_plan_name=f"NEW_PLAN_{self.new_plans}",
            display_name=f"New plan {self.new_plans}",
            not_offered_in=loc,
        )
        ProductServicePlan.objects.create(
            product=product(s),
            service_plan=plan,
            position=ProductServicePlan.objects.filter(product=product(s)).count(),
        )
        # (Audited per tenant that uses the product; none may, so not through _apply.)
        with override_settings(GROUP_PROCESSING_BATCH=self.batch):
            services.catalog_products_changed(products=[product(s).id], actor=None)
        for model in self.models:
            model.step()

    # -- rules ----------------------------------------------------------------------------
    @rule(t=index, u=index, s=st.sampled_from(SKUS), o=index, k=st.integers(1, 3))
    def assign_direct(self, t, u, s, o, k):
        tenant = self._tenant(t)
        people = list(dict.fromkeys(self._users(tenant, u, k)))
        disabled = [plan_id(n) for n in OPTIONS.get(s, [[]])[o % len(OPTIONS.get(s, [[]]))]]
        self._apply(
            lambda: services.product_assign_to_users(
                tenant=tenant, product=product(s), users=people, disabled_plans=disabled, actor=None
            )
        )

    @rule(t=index, u=index, s=st.sampled_from(SKUS))
    def remove_direct(self, t, u, s):
        tenant = self._tenant(t)
        people = self._users(tenant, u, 1)
        self._apply(
            lambda: services.product_remove_from_users(
                tenant=tenant, product=product(s), users=people, actor=None
            )
        )

    @rule(t=index, u=index, add=st.sampled_from(SKUS), drop=st.sampled_from(SKUS))
    def swap_direct(self, t, u, add, drop):
        tenant = self._tenant(t)
        people = self._users(tenant, u, 1)
        self._apply(
            lambda: services.direct_licenses_change(
                tenant=tenant,
                users=people,
                add={product(add): []},
                remove=[product(drop)],
                actor=None,
            )
        )

    @rule(t=index, a=index, o=index)
    def change_options(self, t, a, o):
        tenant = self._tenant(t)
        assignments = list(
            LicenseAssignment.objects.filter(
                tenant=tenant, product__sku_part_number__in=OPTIONS
            ).order_by("id")
        )
        if not assignments:
            return
        assignment = assignments[a % len(assignments)]
        choices = OPTIONS[assignment.product.sku_part_number]
        disabled = [plan_id(n) for n in choices[o % len(choices)]]
        self._apply(
            lambda: services.assignment_set_disabled_plans(
                tenant=tenant, assignment=assignment, disabled_plans=disabled, actor=None
            )
        )

    @rule(t=index, g=index, s=st.lists(st.sampled_from(SKUS), min_size=1, max_size=2, unique=True))
    def group_assign(self, t, g, s):
        tenant = self._tenant(t)
        group = self._group(tenant, g)
        if group:
            self._apply(
                lambda: services.group_assign_products(
                    tenant=tenant, group=group, products={product(x): [] for x in s}, actor=None
                )
            )

    @rule(
        t=index,
        g=index,
        gives=st.lists(
            st.tuples(st.sampled_from(SKUS), index, st.sets(st.integers(0, 7), max_size=3)),
            min_size=2,
            max_size=3,
            unique_by=lambda give: give[0],
        ),
    )
    def give_a_group_several_products(self, t, g, gives):
        """Several products for a group in one request, each with some services off: the
        group's own products may exclude each other or lack a prerequisite (refused), and its
        run decides every member's claim for all of them at once."""
        tenant = self._tenant(t)
        group = self._group(tenant, g)
        if not group:
            return
        products = {}
        for s, o, off in gives:
            if s in OPTIONS:
                disabled = [plan_id(n) for n in OPTIONS[s][o % len(OPTIONS[s])]]
            else:
                plans = [
                    str(p)
                    for p in ProductServicePlan.objects.filter(product=product(s))
                    .order_by("position")
                    .values_list("service_plan__service_plan_id", flat=True)
                ]
                disabled = sorted({plans[i % len(plans)] for i in off}) if plans else []
            products[product(s)] = disabled
        self._apply(
            lambda: services.group_assign_products(
                tenant=tenant, group=group, products=products, actor=None
            )
        )

    @rule(t=index, g=index, s=st.sampled_from(SKUS))
    def group_remove(self, t, g, s):
        tenant = self._tenant(t)
        group = self._group(tenant, g)
        if group:
            self._apply(
                lambda: services.group_remove_products(
                    tenant=tenant, group=group, products=[product(s)], actor=None
                )
            )

    @rule(t=index, g=index, u=index, k=st.integers(1, 3))
    def add_members(self, t, g, u, k):
        tenant = self._tenant(t)
        group = self._group(tenant, g)
        if not group:
            return
        # Adding someone who is already a member changes nothing (and is not audited).
        people = [
            p
            for p in dict.fromkeys(self._users(tenant, u, k))
            if not group.memberships.filter(user=p).exists()
        ]
        if people:
            self._apply(
                lambda: services.group_add_members(
                    tenant=tenant, group=group, users=people, actor=None
                )
            )

    @rule(t=index, g=index, u=index)
    def remove_member(self, t, g, u):
        tenant = self._tenant(t)
        group = self._group(tenant, g)
        if group:
            self._apply(
                lambda: services.group_remove_members(
                    tenant=tenant, group=group, users=self._users(tenant, u, 1), actor=None
                )
            )

    @rule(t=index, g=index)
    def delete_group(self, t, g):
        tenant = self._tenant(t)
        group = self._group(tenant, g)
        if group:
            self._apply(lambda: services.group_delete(tenant=tenant, group=group, actor=None))

    @rule(t=index)
    def create_group(self, t):
        tenant = self._tenant(t)
        self._apply(lambda: services.group_create(tenant=tenant, name="New group", actor=None))

    @rule(t=index, u=index, loc=st.sampled_from(LOCATIONS))
    def set_location(self, t, u, loc):
        tenant = self._tenant(t)
        (user,) = self._users(tenant, u, 1)
        if str(user.usage_location or "") != loc:
            self._apply(
                lambda: services.user_set_usage_location(
                    tenant=tenant, user=user, usage_location=loc, actor=None
                )
            )

    @rule(t=index, u=index)
    def soft_delete(self, t, u):
        tenant = self._tenant(t)
        (user,) = self._users(tenant, u, 1)
        self._apply(lambda: services.user_soft_delete(tenant=tenant, user=user, actor=None))

    @rule(t=index, u=index)
    def restore(self, t, u):
        tenant = self._tenant(t)
        (user,) = self._users(tenant, u, 1)
        self._apply(lambda: services.user_restore(tenant=tenant, user=user, actor=None))

    @rule(t=index, u=index)
    def delete_permanently(self, t, u):
        tenant = self._tenant(t)
        people = self._users(tenant, u, 1)
        if people and DirectoryUser.objects.filter(tenant=tenant).count() > 3:
            self._apply(
                lambda: services.user_delete_permanently(tenant=tenant, user=people[0], actor=None)
            )

    @rule(t=index)
    def new_user(self, t):
        tenant = self._tenant(t)
        n = DirectoryUser.objects.filter(tenant=tenant).count()
        self._apply(
            lambda: services.user_create(
                tenant=tenant,
                user_principal_name=f"new{n}@{tenant.initial_domain}",
                display_name="New",
                actor=None,
            )
        )

    @rule(
        t=index,
        s=st.sampled_from(SKUS),
        units=st.integers(0, 6),
        status=st.sampled_from(["Enabled", "Enabled", "Warning", "Suspended"]),
    )
    def change_subscription(self, t, s, units, status):
        tenant = self._tenant(t)
        subscription = Subscription.objects.get(tenant=tenant, product=product(s))
        counting = subscription.status in ("Enabled", "Warning")
        old_total = subscription.units if counting else 0
        new_total = units if status in ("Enabled", "Warning") else 0
        if new_total < old_total:
            self.dropped.add((tenant.id, subscription.product_id))
        self._apply(
            lambda: services.subscription_update(
                tenant=tenant, subscription=subscription, units=units, status=status, actor=None
            )
        )

    @rule(t=index, u=index, g=index, s=st.sampled_from(SKUS), which=st.integers(0, 2))
    def reprocess(self, t, u, g, s, which):
        tenant = self._tenant(t)
        if which == 0:
            (user,) = self._users(tenant, u, 1)
            self._apply(lambda: services.reprocess_user(tenant=tenant, user=user, actor=None))
        elif which == 1 and (group := self._group(tenant, g)):
            self._apply(lambda: services.reprocess_group(tenant=tenant, group=group, actor=None))
        else:
            self._apply(
                lambda: services.reprocess_product(tenant=tenant, product=product(s), actor=None)
            )

    # -- invariants -----------------------------------------------------------------------
    @invariant()
    def rows_equal_the_independent_model(self):
        for model in getattr(self, "models", []):
            if not self._pending(model.tenant).exists():
                assert differences(model) == []

    @invariant()
    def the_engine_agrees_with_itself(self):
        """The operator's check (manage.py check_consistency) holds too, on the busy tenant."""
        for tenant in getattr(self, "tenants", [])[:1]:
            if not self._pending(tenant).exists():
                assert consistency_problems(tenant) == []

    @invariant()
    def assigned_never_exceeds_total_unless_total_dropped(self):
        for tenant in getattr(self, "tenants", []):
            for product_id, counts in seat_counts(tenant).items():
                if (tenant.id, product_id) not in self.dropped:
                    assert counts["assigned"] <= counts["total"], counts


@pytest.mark.django_db
def test_random_operation_sequences_keep_the_rows_consistent():
    run_state_machine_as_test(
        LicensingMachine,
        settings=settings(
            max_examples=int(os.environ.get("STATEFUL_EXAMPLES", "300")),
            stateful_step_count=int(os.environ.get("STATEFUL_STEPS", "18")),
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
            derandomize=DERANDOMIZE,
            print_blob=not DERANDOMIZE,
        ),
    )


# The same machine with only the rules that move group runs, deletions and options: longer
# runs of queued work between checks, where the full machine rarely gets (it found two
# seat-order defects the full one had passed over).
RUN_RULES = {
    "reprocess",
    "change_options",
    "remove_direct",
    "assign_direct",
    "group_assign",
    "give_a_group_several_products",
    "add_members",
    "set_location",
    "soft_delete",
    "restore",
    "delete_permanently",
    "split_the_work",
    "worker_runs_a_queued_group",
    "worker_runs_everything",
}


def _not_a_rule(self, **kwargs):
    """Stands in for a rule the narrower machine leaves out (hypothesis sees no rule here)."""


RunsMachine = type(
    "RunsMachine",
    (LicensingMachine,),
    {
        name: _not_a_rule
        for name, member in vars(LicensingMachine).items()
        if getattr(member, "hypothesis_stateful_rule", None) is not None and name not in RUN_RULES
    },
)


@pytest.mark.django_db
def test_random_group_runs_deletions_and_options_keep_the_rows_consistent():
    # Hypothesis takes as rules the members carrying its marker, as this does.
    marked = {
        name
        for name, member in inspect.getmembers(RunsMachine)
        if getattr(member, "hypothesis_stateful_rule", None) is not None
    }
    assert marked == RUN_RULES
    run_state_machine_as_test(
        RunsMachine,
        settings=settings(
            max_examples=int(os.environ.get("STATEFUL_RUNS_EXAMPLES", "100")),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
            derandomize=DERANDOMIZE,
            print_blob=not DERANDOMIZE,
        ),
    )
