"""The licensing rules, as pure functions over plain values (docs/rules.md).

One home per rule: effective usage location, usable plans, claim order, path state, conflict
and dependency judgement, seat Total, and :func:`evaluate`, which applies them to a set of
users in the passes docs/rules.md describes. Nothing here reads or writes the database (an
import contract keeps the ORM and the services out; ``licensing.catalog_store`` reads the
catalog these functions take); the reconciler (``licensing.reconcile``), the set-based path
(``licensing.fastpath``), the read queries and the views call these functions, and where SQL
restates a rule a test pins the two together.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from licensing.vocabulary import COUNTING_STATUSES, SEAT_STATES, LicenseError, LicenseState

ACTIVE = str(LicenseState.ACTIVE)
ACTIVE_WITH_ERROR = str(LicenseState.ACTIVE_WITH_ERROR)
ERROR = str(LicenseState.ERROR)
SUSPENDED = str(LicenseState.SUSPENDED)
SEAT = frozenset(str(s) for s in SEAT_STATES)
COUNT = str(LicenseError.COUNT)
EXCLUSIVE = str(LicenseError.MUTUALLY_EXCLUSIVE)
DEPENDENCY = str(LicenseError.DEPENDENCY)
LOCATION = str(LicenseError.PROHIBITED_LOCATION)


# -- the catalog -------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """Plans per product and the facts about each plan, keyed by service plan GUID string."""

    product_plans: dict[int, tuple[str, ...]]
    not_offered_in: dict[str, frozenset[str]]
    depends_on: dict[str, frozenset[str]]
    exclusive_with: dict[str, frozenset[str]]
    names: dict[str, str]
    product_names: dict[int, str] = field(default_factory=dict)

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


# -- one rule each -----------------------------------------------------------------------


def effective_location(own: str | None, tenant_country: str) -> str:
    """A user's usage location is their own, else the organization's country (rules §2)."""
    return str(own or "") or str(tenant_country)


def seat_total(units_by_status: Iterable[tuple[str, int]]) -> int:
    """Total = units of Enabled and Warning subscriptions (rules §1)."""
    counting = {str(s) for s in COUNTING_STATUSES}
    return sum(units for status, units in units_by_status if str(status) in counting)


def enabled_plans(product_id: int, disabled: Iterable[str], catalog: Catalog) -> list[str]:
    off = set(disabled)
    return [p for p in catalog.product_plans.get(product_id, ()) if p not in off]


def usable_plans(enabled: Iterable[str], location: str, catalog: Catalog) -> list[str]:
    """The enabled plans offered in this usage location (rules §2)."""
    return [p for p in enabled if location not in catalog.not_offered_in.get(p, ())]


def location_error(enabled: list[str], usable: list[str]) -> tuple[bool, bool]:
    """(hard, soft): every enabled plan is not offered (the path fails), or some are (it works
    with ActiveWithError)."""
    return bool(enabled) and not usable, len(usable) < len(enabled)


def claim_key(created: datetime, added: datetime | None, user_id: int, assignment_id: int):
    """Claims take seats earliest first: when the claim arose (the later of the assignment
    and the membership), then the earlier membership, then user and assignment (rules §4)."""
    since = added if added is not None else created
    return (max(created, since), since, user_id, assignment_id)


def first_conflict(
    plans: Iterable[str], held: Iterable[tuple[str, object]], catalog: Catalog
) -> tuple[str, str, object] | None:
    """The first plan of ``plans`` mutually exclusive with a plan held by another license:
    (plan, held plan, that license), or None (rules §5)."""
    for plan in plans:
        others = catalog.exclusive_with.get(plan)
        if others:
            for held_plan, owner in held:
                if held_plan in others:
                    return plan, held_plan, owner
    return None


def missing_prerequisite(
    plans: Iterable[str], available: set[str], catalog: Catalog
) -> tuple[str, frozenset[str]] | None:
    """The first plan that requires one of some plans, none of which is available:
    (plan, what it requires), or None. "Requires" means at least one of (rules §5)."""
    for plan in plans:
        needs = catalog.depends_on.get(plan)
        if needs and not needs & available:
            return plan, needs
    return None


def visible_plans(rows: Iterable, location: str, catalog: Catalog) -> list[str]:
    """A user's enabled services for one product: the union over their working paths (rows
    with ``state`` and ``disabled_plans``), less plans not offered where they are. In the
    product's order (rules §3)."""
    rows = [r for r in rows if r.state in (ACTIVE, ACTIVE_WITH_ERROR)]
    if not rows:
        return []
    on: set[str] = set()
    for row in rows:
        on |= set(enabled_plans(row.product_id, row.disabled_plans, catalog))
    order = catalog.product_plans.get(rows[0].product_id, ())
    return usable_plans([p for p in order if p in on], location, catalog)


# -- evaluation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """One path of intent to a product for a user, with the row it has now (or None)."""

    assignment_id: int
    user_id: int
    product_id: int
    group_id: int | None
    disabled: tuple[str, ...]
    key: tuple
    row_state: str | None = None
    row_error: str = ""
    row_disabled: tuple[str, ...] | None = None
    # A path of a group whose change waits for its run: left exactly as it is (rules §8).
    frozen: bool = False


@dataclass(frozen=True)
class UserFacts:
    location: str
    soft_deleted: bool = False
    # Restored just now: seats of products that became over-assigned meanwhile are let go.
    restoring: bool = False


@dataclass(frozen=True)
class Outcome:
    state: str
    error: str
    # Why a path failed, for messages: ("plan", plan, other plan, other assignment id) for a
    # conflict, ("needs", plan, frozenset of plans) for a missing prerequisite.
    reason: tuple = ()


@dataclass
class _Claim:
    user_id: int
    group_id: int | None
    paths: list[Path]
    plans: list[str]
    hard: dict[int, tuple[str, tuple]]  # assignment id -> (error, reason): fails on its own
    soft: set[int]  # assignment ids with some plans not offered
    standing: bool
    key: tuple = ()
    status: str = ""  # granted | waiting | failed | frozen
    error: tuple[str, tuple] | None = None

    @property
    def products(self) -> set[int]:
        return {p.product_id for p in self.paths}


@dataclass
class Evaluation:
    """What :func:`evaluate` decided: an outcome per path (None: no row, for a deleted user's
    path that was not applied), and the seats that moved."""

    outcomes: dict[tuple[int, int], Outcome | None]
    assigned: dict[int, int]
    released: Counter = field(default_factory=Counter)


def _claims(paths: list[Path], facts: UserFacts, held: set[int], catalog: Catalog):
    by_key: dict[object, list[Path]] = {}
    for path in sorted(paths, key=lambda p: p.key):
        group = ("g", path.group_id) if path.group_id is not None else ("a", path.assignment_id)
        by_key.setdefault(group, []).append(path)
    claims = []
    for group_paths in by_key.values():
        hard: dict[int, tuple[str, tuple]] = {}
        soft: set[int] = set()
        plans: list[str] = []
        for path in group_paths:
            enabled = enabled_plans(path.product_id, path.disabled, catalog)
            usable = usable_plans(enabled, facts.location, catalog)
            is_hard, is_soft = location_error(enabled, usable)
            if is_hard:
                hard[path.assignment_id] = (LOCATION, ())
            elif is_soft:
                soft.add(path.assignment_id)
            # Two products of one group that exclude each other fail together.
            clash = first_conflict(usable, [(p, path.assignment_id) for p in plans], catalog)
            if clash and path.assignment_id not in hard:
                hard[path.assignment_id] = (EXCLUSIVE, ("plan", *clash))
            plans.extend(p for p in usable if p not in plans)
        standing = all(
            p.row_state in SEAT and p.row_disabled == p.disabled and p.product_id in held
            for p in group_paths
        )
        frozen = any(p.frozen for p in group_paths)
        claims.append(
            _Claim(
                user_id=group_paths[0].user_id,
                group_id=group_paths[0].group_id,
                paths=group_paths,
                plans=plans,
                hard=hard,
                soft=soft,
                standing=standing,
                key=group_paths[0].key,
                status="frozen" if frozen else "",
            )
        )
    return claims


def _judge(claim: _Claim, granted: list[_Claim], catalog: Catalog) -> tuple[str, tuple] | None:
    """Why this claim cannot work beside the user's granted claims, or None (rules §5):
    a path failing on its own, a plan exclusive with a granted license's, or a prerequisite
    that neither this claim nor a granted license provides."""
    if claim.hard:
        first = min(claim.hard, key=lambda a: [p.assignment_id for p in claim.paths].index(a))
        return claim.hard[first]
    held = [(p, c.paths[0].assignment_id) for c in granted for p in c.plans]
    clash = first_conflict(claim.plans, held, catalog)
    if clash:
        return EXCLUSIVE, ("plan", *clash)
    available = {p for c in granted for p in c.plans} | set(claim.plans)
    missing = missing_prerequisite(claim.plans, available, catalog)
    if missing:
        return DEPENDENCY, ("needs", *missing)
    return None


def evaluate(
    users: dict[int, UserFacts],
    paths: Iterable[Path],
    held: dict[int, set[int]],
    total: dict[int, int],
    assigned: dict[int, int],
    catalog: Catalog,
    *,
    reserved: frozenset[int] = frozenset(),
) -> Evaluation:
    """Decide every path of these users at once (rules §4–§7).

    ``held``: products each user holds a seat of now, through a path that still exists.
    ``assigned``: users holding a seat per product (all users of the tenant).
    ``reserved``: products none of whose free seats this evaluation may give (a group run
    completed inside another group's run leaves them to that run, rules §8): a claim that
    needs one waits.
    """
    assigned = Counter(assigned)
    released: Counter = Counter()
    held = {u: set(held.get(u, ())) for u in users}
    outcomes: dict[tuple[int, int], Outcome | None] = {}

    def release(user_id: int, product_id: int) -> None:
        held[user_id].discard(product_id)
        assigned[product_id] -= 1
        released[product_id] += 1

    def available(product_id: int) -> int:
        if product_id in reserved:
            return 0
        return total.get(product_id, 0) - assigned[product_id]

    paths_of: dict[int, list[Path]] = defaultdict(list)
    for path in paths:
        paths_of[path.user_id].append(path)

    # A restored user lets go of seats of products over-assigned meanwhile (rules §7).
    for user_id in sorted(u for u, f in users.items() if f.restoring):
        for product_id in sorted(held[user_id]):
            if assigned[product_id] > total.get(product_id, 0):
                release(user_id, product_id)

    claims: list[_Claim] = []
    granted: dict[int, list[_Claim]] = defaultdict(list)
    for user_id, facts in users.items():
        user_paths = paths_of.get(user_id, [])
        if facts.soft_deleted:
            # A deleted user keeps every seat they hold, Suspended, and takes nothing new: a
            # path without a seat is not applied until they are restored (rules §7).
            kept = set()
            for path in user_paths:
                if path.row_state in SEAT and path.product_id in held[user_id]:
                    outcomes[(path.assignment_id, user_id)] = Outcome(SUSPENDED, "")
                    kept.add(path.product_id)
                else:
                    outcomes[(path.assignment_id, user_id)] = None
            for product_id in sorted(held[user_id] - kept):
                release(user_id, product_id)
            continue
        user_claims = _claims(user_paths, facts, held[user_id], catalog)
        claims.extend(user_claims)
        for claim in user_claims:
            # A frozen claim keeps its rows: what holds a seat keeps it and counts as held.
            if claim.status == "frozen" and all(p.row_state in SEAT for p in claim.paths):
                granted[user_id].append(claim)
        # Pass 1: what the user holds, unchanged, stays, judged among itself in claim order.
        for claim in user_claims:
            if claim.standing and _judge(claim, granted[user_id], catalog) is None:
                claim.status = "granted"
                granted[user_id].append(claim)
    claims.sort(key=lambda c: c.key)

    def seat(claim: _Claim) -> bool:
        """Judge the claim against the user's working claims; if it can work, give it the
        seats it lacks when each is available. True if its status changed."""
        problem = _judge(claim, granted[claim.user_id], catalog)
        if problem:
            claim.status, claim.error = "failed", problem
            return True
        missing = claim.products - held[claim.user_id]
        if all(available(p) > 0 for p in missing):
            claim.status = "granted"
            granted[claim.user_id].append(claim)
            for p in missing:
                held[claim.user_id].add(p)
                assigned[p] += 1
            return True
        waited, claim.status = claim.status, "waiting"
        return waited != "waiting"

    # Pass 2: every other claim in claim order: judged against what the user holds, then
    # seated while seats last (seats freed by this evaluation are not handed out yet).
    for claim in claims:
        if not claim.status:
            seat(claim)

    def settle() -> bool:
        """Let go of seats no granted claim covers; fail granted claims whose prerequisite
        went. True if anything changed."""
        changed = False
        for user_id in sorted(granted):
            for claim in list(granted[user_id]):
                if claim.status == "frozen":
                    continue
                others = [c for c in granted[user_id] if c is not claim]
                plans = {p for c in others for p in c.plans} | set(claim.plans)
                missing = missing_prerequisite(claim.plans, plans, catalog)
                if missing:
                    claim.status, claim.error = "failed", (DEPENDENCY, ("needs", *missing))
                    granted[user_id].remove(claim)
                    changed = True
        for user_id, facts in users.items():
            if facts.soft_deleted:
                continue
            covered = {p for c in granted[user_id] for p in c.products}
            for product_id in sorted(held[user_id] - covered):
                release(user_id, product_id)
                changed = True
        return changed

    settle()
    # Pass 3: waiting claims, in claim order, are judged again against what now works and
    # given the seats freed here, until nothing moves.
    while True:
        moved = False
        for claim in claims:
            if claim.status == "waiting":
                moved |= seat(claim)
        if not (settle() or moved):
            break

    for claim in claims:
        for path in claim.paths:
            if claim.status == "frozen":
                outcomes[(path.assignment_id, path.user_id)] = (
                    Outcome(path.row_state, path.row_error) if path.row_state else None
                )
            else:
                outcomes[(path.assignment_id, path.user_id)] = path_outcome(claim, path)
    return Evaluation(outcomes=outcomes, assigned=dict(assigned), released=released)


def path_outcome(claim: _Claim, path: Path) -> Outcome:
    """The state and error of one path of a decided claim (rules §6): all-or-nothing per
    member and group, so a failed claim fails every path, each with its own reason where it
    has one and the claim's otherwise."""
    if claim.status == "granted":
        if path.assignment_id in claim.soft:
            return Outcome(ACTIVE_WITH_ERROR, LOCATION)
        return Outcome(ACTIVE, "")
    if claim.status == "waiting":
        return Outcome(ERROR, COUNT)
    error, reason = claim.hard.get(path.assignment_id) or claim.error
    return Outcome(ERROR, error, reason)


# -- what the blades show ----------------------------------------------------------------


def product_line(rows: list, location: str, catalog: Catalog) -> dict:
    """What the blades show for one user and one product: the paths, one state and error,
    and the names of the enabled services (Licensed users, the user's Licenses)."""
    state, error = summary_state(rows)
    return {
        "rows": rows,
        "state": state,
        "error": error,
        "enabled": [catalog.names[p] for p in visible_plans(rows, location, catalog)],
    }


# Which path's state a user's line of a product shows: the first in this order (the Licensed
# users filter restates it in SQL, pinned together in tests/selectors).
SUMMARY_ORDER = (ACTIVE, SUSPENDED, ACTIVE_WITH_ERROR, ERROR)


def summary_state(rows: list) -> tuple[str, str]:
    """One state for a user's paths of one product, as the Licensed users blade shows it:
    any seat-holding path wins, an error is shown only when no path works."""
    best = min(rows, key=lambda r: SUMMARY_ORDER.index(r.state))
    return best.state, best.error
