"""An independent model of the licensing rules, written from docs/rules.md.

Plain, slow, deliberately naive Python that shares no code with the engine
(``licensing.rules``, ``licensing.reconcile``, ``licensing.fastpath``,
``licensing.processing``): it reads the *intent* of a tenant with plain queries, keeps its
own idea of who held what after the previous change, and recomputes every user of the tenant
from scratch after each change, as if every change were applied at once, synchronously.

``Model.step()`` after each operation; ``Model.rows`` is {(assignment id, user id): (state,
error)}, ``Model.assigned`` is {product id: users holding a seat}.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from licensing import models as m

WORKING = {"Active", "ActiveWithError", "Suspended"}


@dataclass
class Facts:
    """Everything the rules look at, read fresh from the database."""

    country: str
    users: dict  # id -> {"location": str, "deleted": bool}
    paths: list  # dicts: assignment, user, product, group, disabled (set), since, added
    total: dict  # product id -> units of Enabled + Warning subscriptions
    plans: dict  # product id -> [plan id, ...]
    not_offered: dict  # plan id -> set of country codes
    requires: dict  # plan id -> set of plan ids (at least one of)
    excludes: dict  # plan id -> set of plan ids (both ways)


def read_facts(tenant) -> Facts:
    tenant = m.Tenant.objects.get(pk=tenant.pk)
    users = {
        row["id"]: {
            "location": str(row["usage_location"] or "") or str(tenant.country),
            "deleted": row["soft_deleted_at"] is not None,
        }
        for row in m.DirectoryUser.objects.filter(tenant=tenant).values(
            "id", "usage_location", "soft_deleted_at"
        )
    }
    paths = []
    members: dict[int, list] = {}
    for row in m.GroupMembership.objects.filter(group__tenant=tenant).values(
        "group_id", "user_id", "added_at"
    ):
        members.setdefault(row["group_id"], []).append(row)
    for a in m.LicenseAssignment.objects.filter(tenant=tenant).values(
        "id", "user_id", "group_id", "product_id", "disabled_plans", "created_at"
    ):
        if a["user_id"] is not None:
            paths.append(
                {
                    "assignment": a["id"],
                    "user": a["user_id"],
                    "product": a["product_id"],
                    "group": None,
                    "disabled": set(a["disabled_plans"]),
                    "since": a["created_at"],
                    "added": a["created_at"],
                }
            )
        for member in members.get(a["group_id"], []) if a["group_id"] else []:
            paths.append(
                {
                    "assignment": a["id"],
                    "user": member["user_id"],
                    "product": a["product_id"],
                    "group": a["group_id"],
                    "disabled": set(a["disabled_plans"]),
                    "since": max(a["created_at"], member["added_at"]),
                    "added": member["added_at"],
                }
            )
    total: dict[int, int] = {}
    for s in m.Subscription.objects.filter(tenant=tenant).values("product_id", "units", "status"):
        if s["status"] in ("Enabled", "Warning"):
            total[s["product_id"]] = total.get(s["product_id"], 0) + s["units"]
    plans: dict[int, list] = {}
    for link in m.ProductServicePlan.objects.order_by("position").values(
        "product_id", "service_plan__service_plan_id"
    ):
        plans.setdefault(link["product_id"], []).append(str(link["service_plan__service_plan_id"]))
    not_offered, requires, excludes = {}, {}, {}
    for plan in m.ServicePlan.objects.prefetch_related("depends_on", "exclusive_with"):
        key = str(plan.service_plan_id)
        not_offered[key] = {str(c) for c in plan.not_offered_in}
        requires[key] = {str(p.service_plan_id) for p in plan.depends_on.all()}
        excludes[key] = {str(p.service_plan_id) for p in plan.exclusive_with.all()}
    for key, others in list(excludes.items()):
        for other in others:
            excludes.setdefault(other, set()).add(key)
    return Facts(str(tenant.country), users, paths, total, plans, not_offered, requires, excludes)


@dataclass
class Claim:
    user: int
    paths: list
    order: tuple
    plans: set = field(default_factory=set)
    own_error: dict = field(default_factory=dict)  # assignment -> error of that path alone
    partial: set = field(default_factory=set)  # assignments with some plans not offered
    unchanged: bool = False
    status: str = ""  # working / waiting / failed
    error: str = ""

    @property
    def products(self) -> set:
        return {p["product"] for p in self.paths}


class Model:
    def __init__(self, tenant):
        self.tenant = tenant
        self.rows: dict[tuple, tuple] = {}
        self.row_options: dict[tuple, frozenset] = {}
        self.deleted: set[int] = set()
        self.assigned: dict[int, int] = {}

    def step(self) -> None:
        facts = read_facts(self.tenant)
        previous, options, was_deleted = self.rows, self.row_options, self.deleted
        rows: dict[tuple, tuple] = {}
        alive = {(p["assignment"], p["user"]) for p in facts.paths}
        # Each user's paths (a lookup, so that a tenant of 100,000 users is not quadratic).
        paths_of: dict[int, list] = {u: [] for u in facts.users}
        for p in facts.paths:
            paths_of.setdefault(p["user"], []).append(p)

        def seat_of(key) -> bool:
            return key in alive and key in previous and previous[key][0] in WORKING

        # Who holds which product now (only through paths that still exist: §6 step 0).
        holds: dict[int, set] = {u: set() for u in facts.users}
        for p in facts.paths:
            if seat_of((p["assignment"], p["user"])):
                holds[p["user"]].add(p["product"])

        def used(product) -> int:
            return sum(1 for u in holds if product in holds[u])

        def free(product) -> int:
            return facts.total.get(product, 0) - used(product)

        # §7: deleted users keep what they hold, Suspended; nothing else is applied.
        for user, info in facts.users.items():
            if info["deleted"]:
                kept = set()
                for p in paths_of[user]:
                    key = (p["assignment"], user)
                    if seat_of(key):
                        rows[key] = ("Suspended", "")
                        kept.add(p["product"])
                holds[user] = kept
        # §7: restored users let go of over-assigned products.
        for user in sorted(
            u for u in facts.users if u in was_deleted and not facts.users[u]["deleted"]
        ):
            for product in sorted(holds[user]):
                if used(product) > facts.total.get(product, 0):
                    holds[user].discard(product)

        # §4: claims of users who are not deleted.
        claims: list[Claim] = []
        for user, info in facts.users.items():
            if info["deleted"]:
                continue
            grouped: dict = {}
            for p in paths_of[user]:
                k = ("group", p["group"]) if p["group"] else ("direct", p["assignment"])
                grouped.setdefault(k, []).append(p)
            for group_paths in grouped.values():
                group_paths.sort(key=lambda p: (p["since"], p["added"], p["user"], p["assignment"]))
                first = group_paths[0]
                claim = Claim(
                    user, group_paths, (first["since"], first["added"], user, first["assignment"])
                )
                for p in group_paths:
                    on = [x for x in facts.plans.get(p["product"], []) if x not in p["disabled"]]
                    here = [
                        x for x in on if info["location"] not in facts.not_offered.get(x, set())
                    ]
                    if on and not here:
                        claim.own_error[p["assignment"]] = "ProhibitedInUsageLocationViolation"
                    elif len(here) < len(on):
                        claim.partial.add(p["assignment"])
                    if any(facts.excludes.get(x, set()) & claim.plans for x in here):
                        claim.own_error.setdefault(p["assignment"], "MutuallyExclusiveViolation")
                    claim.plans |= set(here)
                claim.unchanged = all(
                    seat_of((p["assignment"], user))
                    and options.get((p["assignment"], user)) == frozenset(p["disabled"])
                    and p["product"] in holds[user]
                    for p in group_paths
                )
                claims.append(claim)

        claims_of: dict[int, list] = {}
        for claim in claims:
            claims_of.setdefault(claim.user, []).append(claim)

        def working(user):
            return [c for c in claims_of.get(user, []) if c.status == "working"]

        def problem(claim):
            if claim.own_error:
                return claim.own_error[
                    next(p["assignment"] for p in claim.paths if p["assignment"] in claim.own_error)
                ]
            theirs = (
                set().union(*[c.plans for c in working(claim.user)])
                if working(claim.user)
                else set()
            )
            if any(facts.excludes.get(x, set()) & theirs for x in claim.plans):
                return "MutuallyExclusiveViolation"
            for x in claim.plans:
                need = facts.requires.get(x, set())
                if need and not need & (theirs | claim.plans):
                    return "DependencyViolation"
            return ""

        claims.sort(key=lambda c: c.order)
        # §6 pass 1: what users hold, unchanged, keeps working.
        for claim in claims:
            if claim.unchanged and not problem(claim):
                claim.status = "working"
        # §6 pass 2: the rest in claim order; seats let go now are not available yet.
        before_release = {p: free(p) for p in facts.total}
        for claim in claims:
            if claim.status:
                continue
            claim.error = problem(claim)
            if claim.error:
                claim.status = "failed"
                continue
            need = claim.products - holds[claim.user]
            if all(before_release.get(p, 0) > 0 for p in need):
                claim.status = "working"
                for p in need:
                    holds[claim.user].add(p)
                    before_release[p] = before_release.get(p, 0) - 1
            else:
                claim.status = "waiting"

        # §6 pass 3: settle, then hand out to waiting claims in claim order until nothing moves.
        def settle():
            moved = False
            for claim in claims:
                if claim.status != "working":
                    continue
                others = set()
                for c in working(claim.user):
                    if c is not claim:
                        others |= c.plans
                for x in claim.plans:
                    need = facts.requires.get(x, set())
                    if need and not need & (others | claim.plans):
                        claim.status, claim.error, moved = "failed", "DependencyViolation", True
                        break
            for user, info in facts.users.items():
                if info["deleted"]:
                    continue
                covered = set()
                for c in working(user):
                    covered |= c.products
                if holds[user] - covered:
                    holds[user] &= covered
                    moved = True
            return moved

        settle()
        while True:
            moved = False
            for claim in claims:
                if claim.status != "waiting":
                    continue
                why = problem(claim)
                if why:
                    claim.status, claim.error, moved = "failed", why, True
                    continue
                need = claim.products - holds[claim.user]
                if all(free(p) > 0 for p in need):
                    claim.status, moved = "working", True
                    holds[claim.user] |= need
            if not settle() and not moved:
                break

        for claim in claims:
            for p in claim.paths:
                key = (p["assignment"], claim.user)
                if claim.status == "working":
                    partial = p["assignment"] in claim.partial
                    rows[key] = (
                        ("ActiveWithError", "ProhibitedInUsageLocationViolation")
                        if partial
                        else ("Active", "")
                    )
                elif claim.status == "waiting":
                    rows[key] = ("Error", "CountViolation")
                else:
                    rows[key] = ("Error", claim.own_error.get(p["assignment"], claim.error))
        self.rows = rows
        self.row_options = {
            (p["assignment"], p["user"]): frozenset(p["disabled"])
            for p in facts.paths
            if (p["assignment"], p["user"]) in rows
        }
        self.deleted = {u for u, info in facts.users.items() if info["deleted"]}
        self.assigned = {
            p: used(p) for p in set(facts.total) | {x for h in holds.values() for x in h}
        }
        self.assigned = {p: n for p, n in self.assigned.items() if n}


def engine_rows(tenant) -> dict[tuple, tuple]:
    return {
        (row["assignment_id"], row["user_id"]): (row["state"], row["error"])
        for row in m.UserLicense.objects.filter(tenant=tenant).values(
            "assignment_id", "user_id", "state", "error"
        )
    }


def engine_assigned(tenant) -> dict[int, int]:
    return {
        p: n
        for p, n in m.TenantProduct.objects.filter(tenant=tenant).values_list(
            "product_id", "assigned"
        )
        if n
    }


def differences(model: Model) -> list[str]:
    """What the engine's rows and counters say that the model does not."""
    have, want = engine_rows(model.tenant), model.rows
    problems = [
        f"{key}: engine {have.get(key)}, model {want.get(key)}"
        for key in sorted(have.keys() | want.keys())
        if have.get(key) != want.get(key)
    ]
    if engine_assigned(model.tenant) != model.assigned:
        problems.append(f"Assigned: engine {engine_assigned(model.tenant)}, model {model.assigned}")
    return problems
