"""Reads the facts of a set of users, decides their ``UserLicense`` rows, writes the difference
(docs/rules.md).

Intent is: direct ``LicenseAssignment`` rows, group assignments with the group's direct
members, the users' usage locations and soft-deleted flags, and the tenant's subscriptions.
Every service that changes intent calls :func:`reconcile` for the users it affected, after
locking the seats of every product it may touch (``licensing.locking.hold_seats``).

The rules live in ``licensing.rules``; this module reads the facts with the ORM
(:func:`read_facts`), lets :func:`decide` (that is, ``licensing.rules.evaluate``) decide, and
writes the difference (:func:`row_changes`). Seats it frees go to claims of other users
waiting for them at once (docs/rules.md §6), so after every change the rows are what the
rules give. :class:`Facts` is what every reader produces: this one, the one-user statement of
``licensing.single`` and the set-based ``licensing.fastpath`` all decide through
:func:`decide`."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from licensing.catalog_store import current_catalog
from licensing.locking import NeedsMoreLocks
from licensing.models import (
    SEAT_STATES,
    DirectoryUser,
    GroupMembership,
    LicenseAssignment,
    LicenseError,
    LicenseState,
    Tenant,
    UserLicense,
)
from licensing.rules import Catalog, Outcome, Path, UserFacts, claim_key, effective_location
from licensing.rules import evaluate as evaluate_rules
from licensing.seats import adjust_assigned, error_groups, recount_errors, seat_figures

CHUNK = 5000


@dataclass
class Desired:
    product_id: int
    group_id: int | None
    disabled: list[str]
    state: str
    error: str
    reason: tuple = ()


@dataclass
class Result:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    users: int = 0
    products: set[int] = field(default_factory=set)
    released: Counter = field(default_factory=Counter)
    desired: dict = field(default_factory=dict)
    existing: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """How a reconciliation decides, beyond the users in scope (docs/rules.md §6–§8).

    ``restoring``: users restored just now (seats of products over-assigned meanwhile are let
    go). ``products``: products whose seats may have been freed or bought though no user in
    scope holds them (a subscription change, a permanent deletion). ``frozen``: groups whose
    change waits for its run: their paths stay exactly as they are. ``waiting_first``: users
    waiting for a free seat of ``products`` join the scope from the start (a group run, which
    decides its members and every waiting claim at once). ``reserved``: products none of whose
    free seats may be given (``licensing.rules.evaluate``)."""

    restoring: frozenset[int] = frozenset()
    products: frozenset[int] = frozenset()
    frozen: frozenset[int] = frozenset()
    waiting_first: bool = False
    reserved: frozenset[int] = frozenset()


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def direct_path(assignment_id, user_id, product_id, disabled, created) -> tuple:
    """A direct assignment as a path of intent: (assignment id, user id, product id, group
    id, disabled, claim key)."""
    return (
        assignment_id,
        user_id,
        product_id,
        None,
        disabled,
        claim_key(created, None, user_id, assignment_id),
    )


def group_path(assignment_id, user_id, product_id, group_id, disabled, created, added) -> tuple:
    """A group assignment for one member (who joined the group at ``added``) as a path."""
    return (
        assignment_id,
        user_id,
        product_id,
        group_id,
        disabled,
        claim_key(created, added, user_id, assignment_id),
    )


def _intent(user_ids: list[int]) -> list[tuple]:
    """The paths of intent of these users (``direct_path``, ``group_path``)."""
    found = []
    for chunk in _chunks(user_ids):
        for a_id, u_id, p_id, disabled, created in LicenseAssignment.objects.filter(
            user_id__in=chunk
        ).values_list("id", "user_id", "product_id", "disabled_plans", "created_at"):
            found.append(direct_path(a_id, u_id, p_id, disabled, created))
        memberships = list(
            GroupMembership.objects.filter(user_id__in=chunk).values_list(
                "user_id", "group_id", "added_at"
            )
        )
        by_group: dict[int, list[tuple]] = defaultdict(list)
        for gchunk in _chunks(sorted({g for _, g, _ in memberships})):
            for row in LicenseAssignment.objects.filter(group_id__in=gchunk).values_list(
                "id", "group_id", "product_id", "disabled_plans", "created_at"
            ):
                by_group[row[1]].append(row)
        for u_id, g_id, added in memberships:
            for a_id, _, p_id, disabled, created in by_group.get(g_id, ()):
                found.append(group_path(a_id, u_id, p_id, g_id, disabled, created, added))
    return found


def seat_totals(tenant: Tenant, product_ids: set[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Total (rules.seat_total, summed in SQL) and the Assigned counters of these products."""
    totals, assigned = seat_figures(tenant, product_ids)
    return {p: total for p, (total, _) in totals.items()}, assigned


# The columns of a UserLicense row the reconciler compares and writes.
ROW_FIELDS = (
    "id",
    "assignment_id",
    "user_id",
    "product_id",
    "via_group_id",
    "disabled_plans",
    "state",
    "error",
)


@dataclass
class Facts:
    """What a decision needs, however it was read: with the ORM (:func:`read_facts`), for one
    user in one statement (``licensing.single``), or for a kind of group member in set-based
    SQL (``licensing.fastpath``). Every one of them is decided by :func:`decide`.

    ``users``: the users in scope; ``intent``: their paths (``direct_path``, ``group_path``);
    ``rows``: their rows now (``ROW_FIELDS`` by (assignment id, user id)); ``total`` and
    ``assigned``: Total and the Assigned counters of every product involved."""

    users: dict[int, UserFacts]
    intent: list[tuple]
    rows: dict[tuple[int, int], dict]
    total: dict[int, int]
    assigned: dict[int, int]


def read_facts(tenant: Tenant, user_ids: list[int], options: Options) -> Facts:
    """The facts of these users, read with the ORM (and Total and Assigned of
    ``options.products`` too)."""
    users: dict[int, UserFacts] = {}
    for chunk in _chunks(user_ids):
        for u_id, location, deleted_at in DirectoryUser.objects.filter(
            tenant=tenant, id__in=chunk
        ).values_list("id", "usage_location", "soft_deleted_at"):
            users[u_id] = UserFacts(
                location=effective_location(location, tenant.country),
                soft_deleted=deleted_at is not None,
                restoring=u_id in options.restoring,
            )
    intent = _intent(list(users))
    rows: dict[tuple[int, int], dict] = {}
    for chunk in _chunks(list(users)):
        for row in UserLicense.objects.filter(user_id__in=chunk).values(*ROW_FIELDS):
            rows[(row["assignment_id"], row["user_id"])] = row
    product_ids = {p for _, _, p, *_ in intent} | {r["product_id"] for r in rows.values()}
    total, assigned = seat_totals(tenant, product_ids | options.products)
    return Facts(users, intent, rows, total, assigned)


def decide(
    facts: Facts, catalog: Catalog, options: Options = Options()
) -> tuple[dict[tuple[int, int], Desired], Counter, Counter]:
    """The desired rows of the users of ``facts``. Returns the desired rows, Assigned after,
    and the seats let go (``options``: its ``frozen`` groups and ``reserved`` products count
    here). Reads nothing."""
    users, intent, existing = facts.users, facts.intent, facts.rows
    total, assigned = facts.total, facts.assigned
    paths = []
    for a_id, u_id, p_id, g_id, disabled, key in intent:
        row = existing.get((a_id, u_id))
        paths.append(
            Path(
                assignment_id=a_id,
                user_id=u_id,
                product_id=p_id,
                group_id=g_id,
                disabled=tuple(sorted(disabled)),
                key=key,
                row_state=row["state"] if row else None,
                row_error=row["error"] if row else "",
                row_disabled=tuple(sorted(row["disabled_plans"])) if row else None,
                frozen=g_id in options.frozen,
            )
        )
    alive = {(p.assignment_id, p.user_id) for p in paths}
    held: dict[int, set[int]] = defaultdict(set)
    held_any: dict[int, set[int]] = defaultdict(set)
    for key, row in existing.items():
        if row["state"] in SEAT_STATES:
            held_any[row["user_id"]].add(row["product_id"])
            if key in alive:
                held[row["user_id"]].add(row["product_id"])
    # Seats of paths whose intent is gone are let go first (docs/rules.md §6).
    vanished = Counter(p for u, products in held_any.items() for p in products - held[u])
    assigned = Counter(assigned)
    assigned.subtract(vanished)
    decided = evaluate_rules(
        users, paths, held, total, assigned, catalog, reserved=options.reserved
    )
    desired: dict[tuple[int, int], Desired] = {}
    for path in paths:
        outcome: Outcome | None = decided.outcomes.get((path.assignment_id, path.user_id))
        if outcome is not None:
            desired[(path.assignment_id, path.user_id)] = Desired(
                path.product_id,
                path.group_id,
                sorted(path.disabled),
                outcome.state,
                outcome.error,
                outcome.reason,
            )
    return desired, decided.assigned, decided.released + vanished


def compute(
    tenant: Tenant,
    user_ids: Iterable[int],
    options: Options = Options(),
    *,
    catalog: Catalog | None = None,
) -> tuple[dict[tuple[int, int], Desired], dict[tuple[int, int], dict], Counter]:
    """The desired rows for these users, the rows they have now, and the seats let go.
    Reads only.

    Users of other claims waiting for a seat that is free, or that this evaluation lets go,
    join the scope until none is left out, so that every seat goes in claim order to the
    earliest claim wherever it is (docs/rules.md §6).
    """
    catalog = catalog or current_catalog()
    scope = set(user_ids)
    reserved = options.reserved

    def free(total, assigned) -> list[int]:
        return [p for p in total if p not in reserved and total[p] - assigned.get(p, 0) > 0]

    if options.waiting_first:
        scope |= waiting_users(tenant, free(*seat_totals(tenant, set(options.products))))
    while True:
        facts = read_facts(tenant, sorted(scope), options)
        desired, assigned, released = decide(facts, catalog, options)
        existing, total = facts.rows, facts.total
        # Users waiting for a seat that is free now, or that this evaluation let go: a seat
        # let go went to the claims in scope, but a claim waiting out of scope may come
        # first (docs/rules.md §6). With them in scope, the next evaluation decides in claim
        # order.
        let_go = [p for p, n in released.items() if n > 0 and p not in reserved]
        waiting = waiting_users(tenant, set(free(total, assigned)) | set(let_go))
        if not waiting - scope:
            return desired, existing, released
        scope |= waiting


def waiting(tenant: Tenant, product_ids: Iterable[int]):
    """The rows of claims waiting for a seat (CountViolation) of any of these products."""
    return UserLicense.objects.filter(
        tenant=tenant,
        product_id__in=product_ids,
        state=LicenseState.ERROR,
        error=LicenseError.COUNT,
    )


def waiting_users(tenant: Tenant, product_ids: Iterable[int]) -> set[int]:
    """Users with a claim waiting for a seat of any of these products."""
    product_ids = list(product_ids)
    if not product_ids:
        return set()
    return set(waiting(tenant, product_ids).order_by().values_list("user_id", flat=True).distinct())


def seat_deltas(existing: dict, desired: dict) -> Counter:
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
    restoring: Iterable[int] = (),
    products: Iterable[int] = (),
    frozen: Iterable[int] = (),
    waiting_first: bool = False,
    reserved: Iterable[int] = (),
    write: bool = True,
    now: datetime | None = None,
) -> Result:
    """Bring the ``UserLicense`` rows of these users (and of users waiting for seats they
    free) in line with intent. The caller holds the seat locks of ``locked_products``; a
    write to any other product raises :class:`NeedsMoreLocks` so that the service retries
    with them. The result carries the rows before and after, for refusals to explain; with
    ``write=False`` nothing is written (a service checks what a change would do). The other
    keywords are those of :class:`Options`.
    """
    now = now or timezone.now()
    # Every locked product may have had seats freed (rows can go with deleted intent before
    # this runs), so waiting claims for all of them are considered.
    options = Options(
        restoring=frozenset(restoring),
        products=frozenset(products) | frozenset(locked_products or ()),
        frozen=frozenset(frozen),
        waiting_first=waiting_first,
        reserved=frozenset(reserved),
    )
    desired, existing, released = compute(tenant, user_ids, options)
    result = Result(users=len({u for _, u in desired} | {u for _, u in existing}))
    result.desired, result.existing, result.released = desired, existing, released
    changes = row_changes(existing, desired)
    result.products = changes.products
    if not write:
        return result
    if locked_products is not None and result.products - locked_products:
        raise NeedsMoreLocks(result.products - locked_products)
    adjust_assigned(tenant, seat_deltas(existing, desired))
    for chunk in _chunks(changes.delete):
        UserLicense.objects.filter(id__in=chunk).delete()
    UserLicense.objects.bulk_create(
        [
            UserLicense(
                tenant=tenant,
                user_id=user_id,
                assignment_id=assignment_id,
                product_id=want.product_id,
                via_group_id=want.group_id,
                disabled_plans=want.disabled,
                state=want.state,
                error=want.error,
                last_updated=now,
            )
            for (assignment_id, user_id), want in changes.create
        ],
        batch_size=2000,
    )
    UserLicense.objects.bulk_update(
        [
            UserLicense(
                id=row_id,
                disabled_plans=want.disabled,
                state=want.state,
                error=want.error,
                last_updated=now,
            )
            for row_id, want in changes.update
        ],
        ["disabled_plans", "state", "error", "last_updated"],
        batch_size=2000,
    )
    result.created = len(changes.create)
    result.updated = len(changes.update)
    result.deleted = len(changes.delete)
    recount_errors(error_groups(errors_of_rows(existing.values()), errors_desired(desired)))
    return result


def errors_of_rows(rows: Iterable[dict]) -> set[tuple]:
    """(group, product, user) of the inherited rows in Error among these rows."""
    return {
        (row["via_group_id"], row["product_id"], row["user_id"])
        for row in rows
        if row["state"] == LicenseState.ERROR and row["via_group_id"]
    }


def errors_desired(desired: dict) -> set[tuple]:
    """(group, product, user) of the inherited paths the decision puts in Error."""
    return {
        (want.group_id, want.product_id, user_id)
        for (_, user_id), want in desired.items()
        if want.state == LicenseState.ERROR and want.group_id
    }


@dataclass
class RowChanges:
    """What turns the rows there are into the desired ones."""

    delete: list[int]  # row ids
    create: list[tuple[tuple[int, int], Desired]]  # (assignment id, user id), row
    update: list[tuple[int, Desired]]  # row id, new values
    products: set[int]  # products of every row created, changed or deleted


def row_changes(existing: dict, desired: dict) -> RowChanges:
    changes = RowChanges([], [], [], set())
    for key, row in existing.items():
        if key not in desired:
            changes.delete.append(row["id"])
            changes.products.add(row["product_id"])
    for key, want in desired.items():
        row = existing.get(key)
        if row is None:
            changes.create.append((key, want))
        elif (row["state"], row["error"], row["disabled_plans"]) != (
            want.state,
            want.error,
            want.disabled,
        ):
            changes.update.append((row["id"], want))
        else:
            continue
        changes.products.add(want.product_id)
    return changes
