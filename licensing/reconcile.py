"""The one place that derives ``UserLicense`` rows from intent (STYLE 2).

Intent is: direct ``LicenseAssignment`` rows, group assignments with the group's direct
members, the users' usage locations and soft-deleted flags, and the tenant's subscriptions.
Every service that changes intent calls :func:`reconcile` for the users it affected, after
locking the seats of every product it may touch (``licensing.seats.lock_seats``).

The rules, in the order they are applied for one user (SPEC §3):

* **Paths.** One row per (assignment, user): a direct assignment, or a group assignment of a
  group the user is a direct member of. Enabled plans = product plans − disabled plans.
* **Usage location (§3.2).** A plan not offered in the user's effective location (their own,
  else the tenant's country) is off for that user. Some plans off → ``ActiveWithError`` with
  ``ProhibitedInUsageLocationViolation``; every enabled plan off → ``Error``.
* **Mutually exclusive plans.** Paths are taken in claim order; a path that enables a plan
  exclusive with a plan of an earlier path fails with ``MutuallyExclusiveViolation``.
* **Dependencies.** A plan that requires others needs at least one of them enabled by some
  path of the user, else ``DependencyViolation``.
* **Claims and seats (§3.1, §3.5).** A direct path is a claim; all paths of one group for one
  user form one claim (all-or-nothing per member and group: if one product fails, every
  product of that group fails for the user, with the failing path's reason). A claim needs a
  seat in each of its products; a user holds at most one seat per product whatever the number
  of paths. Seats already held are kept (nothing is removed silently, §3.9); claims that need
  a new seat take them in claim order (earliest membership, then earliest assignment) while
  seats last; the rest get ``CountViolation``. Seats freed by the change go to waiting claims
  of other users at once, so the rows are always a fixed point: running this function over
  every user of a tenant changes nothing (§3.11).
* **Soft delete (§3.8).** A soft-deleted user keeps the seats they hold (``Suspended``) and
  takes no new ones. Restoring re-checks the seats: where the product became over-assigned
  meanwhile the restored user's paths get ``CountViolation`` (``recheck_seats_for``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Sum
from django.utils import timezone

from licensing.models import (
    COUNTING_STATUSES,
    SEAT_STATES,
    DirectoryUser,
    GroupMembership,
    LicenseAssignment,
    LicenseError,
    LicenseState,
    ProductServicePlan,
    ServicePlan,
    Subscription,
    Tenant,
    TenantProduct,
    UserLicense,
)
from licensing.seats import adjust_assigned

CHUNK = 5000


class NeedsMoreLocks(Exception):
    """The reconciliation would write rows of products whose seats are not locked."""

    def __init__(self, product_ids: set[int]):
        super().__init__(f"products not locked: {sorted(product_ids)}")
        self.product_ids = product_ids


@dataclass(frozen=True)
class Catalog:
    """Plans per product and the facts about each plan, keyed by service plan GUID string."""

    product_plans: dict[int, tuple[str, ...]]
    not_offered_in: dict[str, frozenset[str]]
    depends_on: dict[str, frozenset[str]]
    exclusive_with: dict[str, frozenset[str]]
    names: dict[str, str]

    @classmethod
    def load(cls) -> Catalog:
        product_plans: dict[int, list[str]] = defaultdict(list)
        for product_id, plan_id in ProductServicePlan.objects.order_by(
            "product_id", "position"
        ).values_list("product_id", "service_plan__service_plan_id"):
            product_plans[product_id].append(str(plan_id))
        not_offered, names = {}, {}
        for plan in ServicePlan.objects.all():
            key = str(plan.service_plan_id)
            not_offered[key] = frozenset(str(c) for c in plan.not_offered_in)
            names[key] = plan.display_name
        depends: dict[str, set[str]] = defaultdict(set)
        for a, b in ServicePlan.depends_on.through.objects.values_list(
            "from_serviceplan__service_plan_id", "to_serviceplan__service_plan_id"
        ):
            depends[str(a)].add(str(b))
        exclusive: dict[str, set[str]] = defaultdict(set)
        for a, b in ServicePlan.exclusive_with.through.objects.values_list(
            "from_serviceplan__service_plan_id", "to_serviceplan__service_plan_id"
        ):
            exclusive[str(a)].add(str(b))
            exclusive[str(b)].add(str(a))
        return cls(
            product_plans={k: tuple(v) for k, v in product_plans.items()},
            not_offered_in=not_offered,
            depends_on={k: frozenset(v) for k, v in depends.items()},
            exclusive_with={k: frozenset(v) for k, v in exclusive.items()},
            names=names,
        )

    @classmethod
    def for_display(cls, plans_by_product: dict[int, list]) -> Catalog:
        """Only what the blades show (plans in order, names, countries where not offered),
        from rows ``[plan GUID, display name, not-offered codes]`` per product that a page's
        own query brought along: no dependencies or exclusions, so never for deciding."""
        product_plans: dict[int, tuple[str, ...]] = {}
        not_offered, names = {}, {}
        for product_id, plans in plans_by_product.items():
            product_plans[product_id] = tuple(str(plan) for plan, _, _ in plans)
            for plan, name, countries in plans:
                names[str(plan)] = name
                not_offered[str(plan)] = frozenset(c for c in (countries or "").split(",") if c)
        return cls(
            product_plans=product_plans,
            not_offered_in=not_offered,
            depends_on={},
            exclusive_with={},
            names=names,
        )


@dataclass
class PathIntent:
    assignment_id: int
    user_id: int
    product_id: int
    group_id: int | None
    disabled: tuple[str, ...]
    sort_key: tuple


@dataclass
class Desired:
    product_id: int
    group_id: int | None
    disabled: list[str]
    state: str
    error: str


@dataclass
class Result:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    users: int = 0
    products: set[int] = field(default_factory=set)


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def _load_paths(user_ids: list[int]) -> dict[int, list[PathIntent]]:
    paths: dict[int, list[PathIntent]] = defaultdict(list)
    for chunk in _chunks(user_ids):
        for a_id, u_id, p_id, disabled, created in LicenseAssignment.objects.filter(
            user_id__in=chunk
        ).values_list("id", "user_id", "product_id", "disabled_plans", "created_at"):
            key = (created, created, u_id, a_id)
            paths[u_id].append(PathIntent(a_id, u_id, p_id, None, tuple(disabled), key))
        memberships = list(
            GroupMembership.objects.filter(user_id__in=chunk).values_list(
                "user_id", "group_id", "added_at"
            )
        )
        group_ids = {g for _, g, _ in memberships}
        by_group: dict[int, list[tuple]] = defaultdict(list)
        for gchunk in _chunks(sorted(group_ids)):
            for row in LicenseAssignment.objects.filter(group_id__in=gchunk).values_list(
                "id", "group_id", "product_id", "disabled_plans", "created_at"
            ):
                by_group[row[1]].append(row)
        for u_id, g_id, added in memberships:
            for a_id, _, p_id, disabled, created in by_group.get(g_id, ()):
                # Members take seats in a stable order: when the claim arose, then earliest
                # membership first (SPEC §3.5).
                key = (max(created, added), added, u_id, a_id)
                paths[u_id].append(PathIntent(a_id, u_id, p_id, g_id, tuple(disabled), key))
    for user_paths in paths.values():
        user_paths.sort(key=lambda p: p.sort_key)
    return paths


@dataclass
class Claim:
    user_id: int
    paths: list[PathIntent]
    errors: dict[int, str]  # assignment_id -> hard error
    soft_errors: dict[int, str]

    @property
    def sort_key(self) -> tuple:
        return self.paths[0].sort_key

    @property
    def products(self) -> set[int]:
        return {p.product_id for p in self.paths}

    @property
    def valid(self) -> bool:
        return not self.errors


def _claims_for_user(paths: list[PathIntent], location: str, catalog: Catalog) -> list[Claim]:
    hard: dict[int, str] = {}
    soft: dict[int, str] = {}
    effective: dict[int, set[str]] = {}
    accepted: set[str] = set()
    for path in paths:
        enabled = [
            p for p in catalog.product_plans.get(path.product_id, ()) if p not in path.disabled
        ]
        usable = {p for p in enabled if location not in catalog.not_offered_in.get(p, ())}
        effective[path.assignment_id] = usable
        if any(catalog.exclusive_with.get(p, frozenset()) & accepted for p in usable):
            hard[path.assignment_id] = LicenseError.MUTUALLY_EXCLUSIVE
            continue
        accepted |= usable
        if enabled and not usable:
            hard[path.assignment_id] = LicenseError.PROHIBITED_LOCATION
        elif len(usable) < len(enabled):
            soft[path.assignment_id] = LicenseError.PROHIBITED_LOCATION
    union: set[str] = set()
    for path in paths:
        if hard.get(path.assignment_id) != LicenseError.MUTUALLY_EXCLUSIVE:
            union |= effective[path.assignment_id]
    for path in paths:
        if path.assignment_id in hard:
            continue
        for plan in effective[path.assignment_id]:
            needs = catalog.depends_on.get(plan)
            if needs and not needs & union:
                hard[path.assignment_id] = LicenseError.DEPENDENCY
                break

    claims: list[Claim] = []
    by_group: dict[int, list[PathIntent]] = {}
    for path in paths:
        if path.group_id is None:
            claims.append(Claim(path.user_id, [path], {}, {}))
        else:
            by_group.setdefault(path.group_id, []).append(path)
    claims.extend(
        Claim(group_paths[0].user_id, group_paths, {}, {}) for group_paths in by_group.values()
    )
    for claim in claims:
        first = next((hard[p.assignment_id] for p in claim.paths if p.assignment_id in hard), None)
        if first is not None:
            # All-or-nothing per member and group: one failing product fails them all.
            for p in claim.paths:
                claim.errors[p.assignment_id] = hard.get(p.assignment_id, first)
        for p in claim.paths:
            if p.assignment_id in soft:
                claim.soft_errors[p.assignment_id] = soft[p.assignment_id]
    return claims


def path_state(
    claim: Claim, assignment_id: int, *, granted: bool, soft_deleted: bool = False
) -> tuple[str, str]:
    """The (state, error) of one path of a claim: its hard error if the claim is invalid,
    CountViolation if it got no seat, else Suspended, ActiveWithError or Active."""
    if not claim.valid:
        return str(LicenseState.ERROR), str(claim.errors[assignment_id])
    if not granted:
        return str(LicenseState.ERROR), str(LicenseError.COUNT)
    if soft_deleted:
        return str(LicenseState.SUSPENDED), ""
    if assignment_id in claim.soft_errors:
        return str(LicenseState.ACTIVE_WITH_ERROR), str(claim.soft_errors[assignment_id])
    return str(LicenseState.ACTIVE), ""


def _seat_totals(tenant: Tenant, product_ids: set[int]) -> tuple[dict[int, int], dict[int, int]]:
    total = dict(
        Subscription.objects.filter(
            tenant=tenant, product_id__in=product_ids, status__in=COUNTING_STATUSES
        )
        .values("product_id")
        .annotate(n=Sum("units"))
        .values_list("product_id", "n")
    )
    assigned = dict(
        TenantProduct.objects.filter(tenant=tenant, product_id__in=product_ids).values_list(
            "product_id", "assigned"
        )
    )
    return total, assigned


def _evaluate(
    tenant: Tenant,
    user_ids: list[int],
    catalog: Catalog,
    recheck_seats_for: set[int],
    also_products: set[int],
) -> tuple[
    dict[tuple[int, int], Desired], dict[tuple[int, int], dict], dict[int, int], dict[int, int]
]:
    users: dict[int, tuple[str, bool]] = {}
    for chunk in _chunks(user_ids):
        for u_id, location, deleted_at in DirectoryUser.objects.filter(
            tenant=tenant, id__in=chunk
        ).values_list("id", "usage_location", "soft_deleted_at"):
            users[u_id] = (location or str(tenant.country), deleted_at is not None)
    paths = _load_paths(list(users))
    existing: dict[tuple[int, int], dict] = {}
    for chunk in _chunks(list(users)):
        for row in UserLicense.objects.filter(user_id__in=chunk).values(
            "id",
            "assignment_id",
            "user_id",
            "product_id",
            "via_group_id",
            "disabled_plans",
            "state",
            "error",
        ):
            existing[(row["assignment_id"], row["user_id"])] = row

    held: dict[int, set[int]] = defaultdict(set)
    for row in existing.values():
        if row["state"] in SEAT_STATES:
            held[row["user_id"]].add(row["product_id"])
    product_ids = {p.product_id for ps in paths.values() for p in ps}
    product_ids |= {row["product_id"] for row in existing.values()}
    product_ids |= also_products
    total, assigned = _seat_totals(tenant, product_ids)

    def available(product_id: int) -> int:
        return total.get(product_id, 0) - assigned.get(product_id, 0)

    def release(user_id: int, product_id: int) -> None:
        held[user_id].discard(product_id)
        assigned[product_id] = assigned.get(product_id, 0) - 1

    for user_id in sorted(recheck_seats_for & users.keys()):
        for product_id in sorted(held[user_id]):
            if available(product_id) < 0:
                release(user_id, product_id)

    claims: list[Claim] = []
    for user_id, (location, _) in users.items():
        claims.extend(_claims_for_user(paths.get(user_id, []), location, catalog))
    claims.sort(key=lambda c: c.sort_key)

    granted: set[int] = set()
    for i, claim in enumerate(claims):
        if claim.valid and claim.products <= held[claim.user_id]:
            granted.add(i)

    def grant_waiting() -> None:
        for i, claim in enumerate(claims):
            if i in granted or not claim.valid or users[claim.user_id][1]:
                continue
            missing = claim.products - held[claim.user_id]
            if all(available(p) > 0 for p in missing):
                granted.add(i)
                for p in missing:
                    held[claim.user_id].add(p)
                    assigned[p] = assigned.get(p, 0) + 1

    grant_waiting()
    covered: dict[int, set[int]] = defaultdict(set)
    for i in granted:
        covered[claims[i].user_id] |= claims[i].products
    for user_id in list(held):
        for product_id in held[user_id] - covered[user_id]:
            release(user_id, product_id)
    grant_waiting()

    desired: dict[tuple[int, int], Desired] = {}
    for i, claim in enumerate(claims):
        soft_deleted = users[claim.user_id][1]
        for path in claim.paths:
            state, error = path_state(
                claim, path.assignment_id, granted=i in granted, soft_deleted=soft_deleted
            )
            desired[(path.assignment_id, path.user_id)] = Desired(
                path.product_id, path.group_id, sorted(path.disabled), str(state), str(error)
            )
    return desired, existing, total, assigned


def compute(
    tenant: Tenant,
    user_ids: Iterable[int],
    *,
    catalog: Catalog | None = None,
    recheck_seats_for: Iterable[int] = (),
    products: Iterable[int] = (),
) -> tuple[dict[tuple[int, int], Desired], dict[tuple[int, int], dict]]:
    """The desired rows for these users, and the rows they have now. Reads only.

    ``products``: products whose seats may have been freed or bought even though no user in
    scope holds them (a subscription change, a permanent deletion).
    """
    catalog = catalog or Catalog.load()
    scope = set(user_ids)
    recheck = set(recheck_seats_for)
    also = set(products)
    while True:
        desired, existing, total, assigned = _evaluate(
            tenant, sorted(scope), catalog, recheck, also
        )
        # Seats this change frees go to claims of other users that wait for them.
        free = [p for p in total if total[p] - assigned.get(p, 0) > 0]
        waiting = set()
        if free:
            waiting = (
                set(
                    UserLicense.objects.filter(
                        tenant=tenant,
                        product_id__in=free,
                        state=LicenseState.ERROR,
                        error=LicenseError.COUNT,
                        user__soft_deleted_at__isnull=True,
                    )
                    .values_list("user_id", flat=True)
                    .distinct()
                )
                - scope
            )
        if not waiting:
            return desired, existing
        scope |= waiting


def _seat_deltas(existing: dict, desired: dict) -> Counter:
    """How Assigned changes per product: users who start or stop holding it by any path."""
    before: dict[int, set[int]] = defaultdict(set)
    after: dict[int, set[int]] = defaultdict(set)
    for row in existing.values():
        if row["state"] in SEAT_STATES:
            before[row["user_id"]].add(row["product_id"])
    for (_, user_id), want in desired.items():
        if want.state in SEAT_STATES:
            after[user_id].add(want.product_id)
    deltas: Counter = Counter()
    for user_id in before.keys() | after.keys():
        deltas.update(after[user_id] - before[user_id])
        deltas.subtract(before[user_id] - after[user_id])
    return deltas


def reconcile(
    *,
    tenant: Tenant,
    user_ids: Iterable[int],
    locked_products: set[int] | None,
    recheck_seats_for: Iterable[int] = (),
    products: Iterable[int] = (),
    now: datetime | None = None,
) -> Result:
    """Bring the ``UserLicense`` rows of these users (and of users waiting for seats they free)
    in line with intent. The caller holds the seat locks of ``locked_products``; a write to any
    other product raises :class:`NeedsMoreLocks` so that the service retries with them.
    """
    now = now or timezone.now()
    # Every locked product may have had seats freed (rows can go with deleted intent before
    # this runs), so waiting claims for all of them are considered.
    products = set(products) | set(locked_products or ())
    desired, existing = compute(
        tenant, user_ids, recheck_seats_for=recheck_seats_for, products=products
    )
    result = Result(users=len({u for _, u in desired} | {u for _, u in existing}))
    to_delete = [row["id"] for key, row in existing.items() if key not in desired]
    to_create, to_update = [], []
    for key, want in desired.items():
        row = existing.get(key)
        if row is None:
            to_create.append(
                UserLicense(
                    tenant=tenant,
                    user_id=key[1],
                    assignment_id=key[0],
                    product_id=want.product_id,
                    via_group_id=want.group_id,
                    disabled_plans=want.disabled,
                    state=want.state,
                    error=want.error,
                    last_updated=now,
                )
            )
            result.products.add(want.product_id)
        elif (row["state"], row["error"], row["disabled_plans"]) != (
            want.state,
            want.error,
            want.disabled,
        ):
            to_update.append(
                UserLicense(
                    id=row["id"],
                    disabled_plans=want.disabled,
                    state=want.state,
                    error=want.error,
                    last_updated=now,
                )
            )
            result.products.add(want.product_id)
    result.products |= {row["product_id"] for key, row in existing.items() if key not in desired}
    if locked_products is not None and result.products - locked_products:
        raise NeedsMoreLocks(result.products - locked_products)
    adjust_assigned(tenant, _seat_deltas(existing, desired))
    for chunk in _chunks(to_delete):
        UserLicense.objects.filter(id__in=chunk).delete()
    UserLicense.objects.bulk_create(to_create, batch_size=2000)
    UserLicense.objects.bulk_update(
        to_update, ["disabled_plans", "state", "error", "last_updated"], batch_size=2000
    )
    result.created, result.updated, result.deleted = len(to_create), len(to_update), len(to_delete)
    return result
