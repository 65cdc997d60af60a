"""Direct license assignment and removal, and assignment options (docs/rules.md §6, §3)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence

from django.utils import timezone
from django.utils.translation import gettext as _

from licensing import audit, single
from licensing.catalog_store import current_catalog
from licensing.errors import (
    AssignmentRefused,
    InheritedLicense,
    InsufficientSeats,
    InvalidInput,
    NotFound,
    ProductNotAssignable,
    names_and_more,
)
from licensing.locking import NeedsMoreLocks, hold_seats
from licensing.models import (
    COUNTING_STATUSES,
    SEAT_STATES,
    DirectoryUser,
    Group,
    LicenseAssignment,
    Product,
    Subscription,
    Tenant,
    UserLicense,
)
from licensing.processing import queue_group
from licensing.reconcile import (
    Facts,
    Result,
    decide,
    direct_path,
    errors_desired,
    errors_of_rows,
    group_path,
    reconcile,
    row_changes,
    seat_deltas,
)
from licensing.rules import Catalog, UserFacts, effective_location, seat_total
from licensing.seats import (
    delete_with_paths,
    error_groups,
    products_touching,
    recount_errors,
    seat_counts,
)
from licensing.services.base import (
    check_tenant,
    group_assignment_ids,
    refuse_breaking,
    refuse_failures,
    service,
    validate_disabled_plans,
    validate_group_plans,
)


def check_assignable(tenant: Tenant, product: Product) -> None:
    """A Company product (Entra ID Free) and a product without an active subscription cannot
    be assigned (docs/rules.md §1)."""
    refuse_unassignable(
        product,
        set(
            Subscription.objects.filter(tenant=tenant, product=product).values_list(
                "status", flat=True
            )
        ),
    )


def refuse_unassignable(product: Product, statuses: set[str]) -> None:
    """``check_assignable`` given the statuses of the tenant's subscriptions of the product:
    assignable while one of them counts towards Total (``COUNTING_STATUSES``, as
    ``rules.seat_total``; docs/rules.md §1)."""
    if not product.is_assignable:
        raise ProductNotAssignable(
            _("%(product)s applies to the whole organization and is not assigned to users.")
            % {"product": product.display_name}
        )
    if not any(status in COUNTING_STATUSES for status in statuses):
        if statuses:
            raise ProductNotAssignable(
                _("The subscriptions for %(product)s are suspended; it cannot be assigned.")
                % {"product": product.display_name}
            )
        raise ProductNotAssignable(
            _("Your organization has no subscription for %(product)s.")
            % {"product": product.display_name}
        )


@service
def direct_licenses_change(
    *,
    tenant: Tenant,
    users: Sequence[DirectoryUser],
    add: Mapping[Product, Iterable[str]] | None = None,
    remove: Iterable[Product] = (),
    actor,
) -> None:
    """Add and remove direct licenses for users in one step, all or nothing.

    ``add`` maps each product to its disabled plan GUIDs. A product that a user already holds
    directly gets the new options. Removing and adding in one call swaps products with no
    moment without a license (docs/rules.md §6).
    """
    add = dict(add or {})
    remove = list(dict.fromkeys(remove))
    if both := [p for p in remove if p in add]:
        raise InvalidInput(
            _("%(products)s cannot be added and removed in the same change.")
            % {"products": ", ".join(p.display_name for p in both)}
        )
    # The same user twice is one user: one seat, one assignment.
    users = list({u.id: u for u in users}.values())
    check_tenant(tenant, *users)
    facts = None
    if len(users) == 1 and single.available():
        # One user: the short path reads the seats, the user and the catalog's stamp at once.
        facts = single.read(tenant, users[0].id, [p.id for p in [*add, *remove]], new=len(add))
        catalog = current_catalog(stamp=facts.catalog_stamp)
    else:
        catalog = current_catalog()
    disabled = {p: validate_disabled_plans(p, d, catalog) for p, d in add.items()}
    if facts and facts.decidable:
        _change_one_user(tenant, users[0], facts, disabled, remove, actor, catalog)
        return
    for product in add:
        check_assignable(tenant, product)
    soft_deleted = [u for u in users if u.is_soft_deleted]
    if add and soft_deleted:
        raise AssignmentRefused(
            _("Deleted users cannot be assigned licenses: %(names)s")
            % {"names": names_and_more(u.user_principal_name for u in soft_deleted)}
        )

    user_ids = [u.id for u in users]
    locked = hold_seats(
        tenant,
        products_touching(tenant, users=user_ids, products=[p.id for p in [*add, *remove]]),
    )
    existing = {
        (a.user_id, a.product_id): a
        for a in LicenseAssignment.objects.filter(user_id__in=user_ids, product__in=[*add, *remove])
    }
    to_delete = []
    for product in remove:
        for user in users:
            assignment = existing.get((user.id, product.id))
            if assignment is None:
                _raise_not_direct(user, product)
            to_delete.append(assignment.id)
    if to_delete:
        delete_with_paths(
            tenant, LicenseAssignment.objects.filter(id__in=to_delete), [p.id for p in remove]
        )

    counts = seat_counts(tenant, [p.id for p in add])
    holders = set(
        UserLicense.objects.filter(
            user_id__in=user_ids, product__in=list(add), state__in=SEAT_STATES
        ).values_list("user_id", "product_id")
    )
    for product in add:
        needed = sum(1 for u in users if (u.id, product.id) not in holders)
        refuse_short(product, needed, counts.get(product.id, {}).get("available", 0))

    now = timezone.now()
    new, changed = [], []
    for product, plans in disabled.items():
        for user in users:
            assignment = existing.get((user.id, product.id))
            if assignment is None:
                new.append(
                    LicenseAssignment(
                        tenant=tenant,
                        user=user,
                        product=product,
                        disabled_plans=plans,
                        created_by=_account(actor),
                        created_at=now,
                    )
                )
            elif assignment.disabled_plans != plans:
                assignment.disabled_plans = plans
                changed.append(assignment)
    LicenseAssignment.objects.bulk_create(new, batch_size=2000)
    LicenseAssignment.objects.bulk_update(changed, ["disabled_plans"], batch_size=2000)

    result = reconcile(tenant=tenant, user_ids=user_ids, locked_products=locked)
    # The users' assignments of the added products (bulk_create gave the new ones their ids).
    added_ids = {p.id for p in add}
    changed_intent = (
        {a.id for a in new}
        | {a.id for (_, p_id), a in existing.items() if p_id in added_ids}
        | set(to_delete)
    )
    # Direct assignment is immediate: a target that would not end up working refuses it all;
    # and no other license of the targets may stop working because of it (rules §3, §5).
    refuse_failures(result, changed_intent, catalog)
    refuse_breaking(result, changed_intent, catalog)

    details = _change_details(disabled, remove)
    audit.events(
        tenant=tenant,
        actor=actor,
        activity=audit.CHANGE_USER_LICENSE,
        targets=users,
        target_type="User",
        details_for=lambda u: details,
    )


def refuse_short(product: Product, needed: int, available: int) -> None:
    if needed > available:
        raise InsufficientSeats(product, needed, available)


def _change_details(disabled: dict[Product, list[str]], remove: list[Product]) -> dict:
    """What the audit event of a change of direct licenses records."""
    return {
        "added": [p.sku_part_number for p in disabled],
        "removed": [p.sku_part_number for p in remove],
        "disabled_plans": {p.sku_part_number: d for p, d in disabled.items()},
    }


def _change_one_user(
    tenant: Tenant,
    user: DirectoryUser,
    facts: single.Facts,
    disabled: dict[Product, list[str]],
    remove: list[Product],
    actor,
    catalog: Catalog,
) -> None:
    """``direct_licenses_change`` for one user from the facts ``single.read`` found
    decidable, with one more statement: the same checks in the same order, the same decision
    (``reconcile.decide``), the same writes."""
    for product in disabled:
        refuse_unassignable(product, {status for status, _ in facts.subscriptions[product.id]})
    gone = []
    for product in remove:
        if product.id not in facts.direct:
            _raise_not_direct(user, product)
        gone.append(facts.direct[product.id].id)
    removed = {p.id for p in remove}
    holding = {row["product_id"] for row in facts.rows.values() if row["state"] in SEAT_STATES}
    total = {p: seat_total(units) for p, units in facts.subscriptions.items()}
    for product in disabled:
        needed = 0 if product.id in holding else 1
        refuse_short(product, needed, total.get(product.id, 0) - facts.assigned.get(product.id, 0))

    now = timezone.now()
    wanted = {p.id: plans for p, plans in disabled.items()}
    intent = [
        group_path(a_id, user.id, p_id, g_id, plans, created, added)
        for a_id, p_id, g_id, plans, created, added in facts.group_paths
    ]
    made, changed = [], []
    for product_id, assignment in facts.direct.items():
        if product_id in removed:
            continue
        plans = wanted.get(product_id, assignment.disabled)
        if plans != assignment.disabled:
            changed.append((assignment.id, plans))
        intent.append(direct_path(assignment.id, user.id, product_id, plans, assignment.created))
    new_ids = iter(facts.new_ids)
    for product_id, plans in wanted.items():
        if product_id not in facts.direct:
            assignment_id = next(new_ids)
            made.append((assignment_id, str(uuid.uuid4()), product_id, plans))
            intent.append(direct_path(assignment_id, user.id, product_id, plans, now))

    users = {user.id: UserFacts(location=effective_location(facts.location, tenant.country))}
    desired, _assigned, released = decide(
        Facts(users, intent, facts.rows, total, facts.assigned), catalog
    )
    rows = row_changes(facts.rows, desired)
    if rows.products - facts.locked:
        raise NeedsMoreLocks(rows.products - facts.locked)
    result = Result(users=1, desired=desired, existing=facts.rows, released=released)
    # As in the general path: the assignments of the added products, and the removed ones.
    changed_intent = (
        {a_id for a_id, _, _, _ in made}
        | {facts.direct[p].id for p in wanted if p in facts.direct}
        | set(gone)
    )
    single.write(
        tenant,
        user.id,
        now=now,
        account_id=getattr(_account(actor), "pk", None),
        gone_assignments=gone,
        new_assignments=made,
        changed_assignments=changed,
        rows=rows,
        deltas=seat_deltas(facts.rows, desired),
        audit=audit.fields(
            tenant,
            actor,
            audit.CHANGE_USER_LICENSE,
            user,
            "User",
            _change_details(disabled, remove),
        ),
    )
    recount_errors(error_groups(errors_of_rows(facts.rows.values()), errors_desired(desired)))
    # Refused after writing, as in the general path: the refusal names the licenses from
    # what was written, and rolls it all back.
    refuse_failures(result, changed_intent, catalog)
    refuse_breaking(result, changed_intent, catalog)


def product_assign_to_users(*, tenant, product, users, disabled_plans=(), actor) -> None:
    direct_licenses_change(tenant=tenant, users=users, add={product: disabled_plans}, actor=actor)


def product_remove_from_users(*, tenant, product, users, actor) -> None:
    direct_licenses_change(tenant=tenant, users=users, remove=[product], actor=actor)


@service
def user_set_direct_products(
    *, tenant: Tenant, user: DirectoryUser, products: Iterable[Product], actor
) -> bool:
    """The user's direct products become exactly ``products``, in one step, so that a swap
    never leaves the user without a license (docs/rules.md §6). A product the user inherits
    and does not hold directly stays inherited only (an extra direct assignment of it is made
    from Products). Returns whether anything changed."""
    check_tenant(tenant, user)
    wanted = {p.id: p for p in products}
    held = set(LicenseAssignment.objects.filter(user=user).values_list("product_id", flat=True))
    inherited = set(
        UserLicense.objects.filter(user=user, via_group__isnull=False).values_list(
            "product_id", flat=True
        )
    )
    add = {p: [] for p_id, p in wanted.items() if p_id not in held | inherited}
    remove = list(Product.objects.filter(id__in=held - wanted.keys()).order_by("display_name"))
    if not add and not remove:
        return False
    direct_licenses_change(tenant=tenant, users=[user], add=add, remove=remove, actor=actor)
    return True


@service
def assignment_set_disabled_plans(
    *, tenant: Tenant, assignment: LicenseAssignment, disabled_plans: Iterable[str], actor
) -> None:
    """Change the options of a direct or a group assignment (docs/rules.md §3)."""
    check_tenant(tenant, assignment)
    catalog = current_catalog()
    plans = validate_disabled_plans(assignment.product, disabled_plans, catalog)
    before = list(assignment.disabled_plans)
    if assignment.group_id:
        locked = hold_seats(tenant, products_touching(tenant, groups=[assignment.group_id]))
        validate_group_plans(assignment.group, {assignment.product_id: plans}, catalog=catalog)
        LicenseAssignment.objects.filter(id=assignment.id).update(disabled_plans=plans)
        # Members whose other licenses need a plan this change turns off refuse it (rules
        # §5). Only checked here; the group's run writes the rows.
        refuse_breaking_members(
            tenant=tenant, group=assignment.group, locked=locked, catalog=catalog
        )
        audit.event(
            tenant=tenant,
            actor=actor,
            activity=audit.SET_GROUP_LICENSE,
            target=assignment.group,
            target_type="Group",
            details={
                "product": assignment.product.sku_part_number,
                "disabled_plans": {"before": before, "after": plans},
            },
        )
        queue_group(tenant=tenant, group=assignment.group, actor=actor)
    else:
        locked = hold_seats(tenant, products_touching(tenant, users=[assignment.user_id]))
        LicenseAssignment.objects.filter(id=assignment.id).update(disabled_plans=plans)
        result = reconcile(tenant=tenant, user_ids=[assignment.user_id], locked_products=locked)
        refuse_failures(result, {assignment.id}, catalog)
        refuse_breaking(result, {assignment.id}, catalog)
        audit.event(
            tenant=tenant,
            actor=actor,
            activity=audit.CHANGE_USER_LICENSE,
            target=assignment.user,
            target_type="User",
            details={
                "product": assignment.product.sku_part_number,
                "disabled_plans": {"before": before, "after": plans},
            },
        )
    assignment.disabled_plans = plans


def _raise_not_direct(user: DirectoryUser, product: Product):
    groups = list(
        Group.objects.filter(inherited_licenses__user=user, inherited_licenses__product=product)
        .distinct()
        .order_by("name")
    )
    if groups:
        raise InheritedLicense(groups)
    raise NotFound(
        _("%(user)s has no direct license for %(product)s.")
        % {"user": user.user_principal_name, "product": product.display_name}
    )


def _account(actor):
    return actor if getattr(actor, "pk", None) else None


def refuse_breaking_members(
    *,
    tenant: Tenant,
    group: Group,
    locked: set[int],
    catalog: Catalog,
    members: list[int] | None = None,
    group_paths: set[int] | None = None,
) -> None:
    """Refuse a group change (its intent written, its rows not yet) that would stop another
    license of a member working (rules §5). Only members holding a license with a plan that
    requires another can be affected (``members_with_dependents``); they are decided without
    writing. ``members`` and ``group_paths``: as they were before the change, when the change
    removes them."""
    if members is None:
        members = members_with_dependents(group)
    if group_paths is None:
        group_paths = group_assignment_ids(group.id)
    result = reconcile(tenant=tenant, user_ids=members, locked_products=locked, write=False)
    refuse_breaking(result, group_paths, catalog)


def members_with_dependents(group: Group) -> list[int]:
    """Members of the group who hold, by another path, a license with a plan that requires
    another plan: the only members a change of the group can leave without a prerequisite."""
    dependent_products = Product.objects.filter(service_plans__depends_on__isnull=False).values(
        "id"
    )
    return list(
        UserLicense.objects.filter(
            user__memberships__group=group,
            product_id__in=dependent_products,
            state__in=SEAT_STATES,
        )
        .exclude(via_group=group)
        .order_by()
        .values_list("user_id", flat=True)
        .distinct()
    )
