"""Direct license assignment and removal, and assignment options (SPEC §3.3, §3.4, §3.6, §3.7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from licensing import audit
from licensing.errors import (
    AssignmentRefused,
    InheritedLicense,
    InsufficientSeats,
    NotFound,
    ProductNotAssignable,
)
from licensing.models import (
    SEAT_STATES,
    DirectoryUser,
    Group,
    LicenseAssignment,
    LicenseError,
    Product,
    Subscription,
    Tenant,
    UserLicense,
)
from licensing.processing import queue_group
from licensing.reconcile import Catalog, reconcile
from licensing.seats import delete_with_paths, lock_seats, products_touching, seat_counts
from licensing.services.base import check_tenant, service, validate_disabled_plans

ERROR_REASONS = {
    LicenseError.COUNT: gettext_lazy("not enough licenses"),
    LicenseError.MUTUALLY_EXCLUSIVE: gettext_lazy(
        "conflicts with a service plan the user already has"
    ),
    LicenseError.DEPENDENCY: gettext_lazy("needs a service plan the user does not have"),
    LicenseError.PROHIBITED_LOCATION: gettext_lazy(
        "no service of it is offered in the user's usage location"
    ),
    LicenseError.OTHER: gettext_lazy("another product of the same assignment failed"),
}


def check_assignable(tenant: Tenant, product: Product) -> None:
    """A Company product (Entra ID Free) and a product without an active subscription cannot
    be assigned (SPEC §3.1)."""
    if not product.is_assignable:
        raise ProductNotAssignable(
            _("%(product)s applies to the whole organization and is not assigned to users.")
            % {"product": product.display_name}
        )
    statuses = set(
        Subscription.objects.filter(tenant=tenant, product=product).values_list("status", flat=True)
    )
    if not statuses & {"Enabled", "Warning"}:
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
    moment without a license (SPEC §3.7).
    """
    add = dict(add or {})
    remove = list(remove)
    users = list(users)
    check_tenant(tenant, *users)
    catalog = Catalog.load()
    disabled = {p: validate_disabled_plans(p, d, catalog) for p, d in add.items()}
    for product in add:
        check_assignable(tenant, product)
    soft_deleted = [u for u in users if u.is_soft_deleted]
    if add and soft_deleted:
        raise AssignmentRefused(
            _("Deleted users cannot be assigned licenses: %(names)s")
            % {"names": ", ".join(u.user_principal_name for u in soft_deleted)}
        )

    user_ids = [u.id for u in users]
    locked = lock_seats(
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
        available = counts.get(product.id, {}).get("available", 0)
        if needed > available:
            raise InsufficientSeats(product, needed, available)

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

    reconcile(tenant=tenant, user_ids=user_ids, locked_products=locked)
    _refuse_unless_active(tenant, user_ids, list(add))

    added = [p.sku_part_number for p in add]
    removed = [p.sku_part_number for p in remove]
    audit.events(
        tenant=tenant,
        actor=actor,
        activity=audit.CHANGE_USER_LICENSE,
        targets=users,
        target_type="User",
        details_for=lambda u: {
            "added": added,
            "removed": removed,
            "disabled_plans": {p.sku_part_number: d for p, d in disabled.items()},
        },
    )


def product_assign_to_users(*, tenant, product, users, disabled_plans=(), actor) -> None:
    direct_licenses_change(tenant=tenant, users=users, add={product: disabled_plans}, actor=actor)


def product_remove_from_users(*, tenant, product, users, actor) -> None:
    direct_licenses_change(tenant=tenant, users=users, remove=[product], actor=actor)


@service
def assignment_set_disabled_plans(
    *, tenant: Tenant, assignment: LicenseAssignment, disabled_plans: Iterable[str], actor
) -> None:
    """Change the options of a direct or a group assignment (SPEC §3.4)."""
    check_tenant(tenant, assignment)
    plans = validate_disabled_plans(assignment.product, disabled_plans)
    before = list(assignment.disabled_plans)
    if assignment.group_id:
        LicenseAssignment.objects.filter(id=assignment.id).update(disabled_plans=plans)
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
        locked = lock_seats(tenant, products_touching(tenant, users=[assignment.user_id]))
        LicenseAssignment.objects.filter(id=assignment.id).update(disabled_plans=plans)
        reconcile(tenant=tenant, user_ids=[assignment.user_id], locked_products=locked)
        _refuse_unless_active(tenant, [assignment.user_id], [assignment.product])
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


def _refuse_unless_active(tenant: Tenant, user_ids: list[int], products: list[Product]) -> None:
    """Direct assignment is immediate (unlike group licensing): a direct path that did not end
    up holding a seat means the whole request is refused, naming who and why."""
    failed = (
        UserLicense.objects.filter(
            user_id__in=user_ids, product__in=products, via_group__isnull=True
        )
        .exclude(state__in=SEAT_STATES)
        .select_related("user", "product")
        .order_by("user__user_principal_name")
    )
    problems = [
        _("%(user)s cannot get %(product)s: %(reason)s")
        % {
            "user": row.user.user_principal_name,
            "product": row.product.display_name,
            "reason": ERROR_REASONS.get(row.error, row.error),
        }
        for row in failed[:20]
    ]
    if problems:
        raise AssignmentRefused(_("Nothing was changed. ") + "; ".join(problems))


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
