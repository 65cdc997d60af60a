"""Purchases and their lifecycle (SPEC §3.9): Total moves, nothing is removed silently."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext as _

from licensing import audit
from licensing.errors import InvalidInput
from licensing.models import Product, Subscription, SubscriptionStatus, Tenant
from licensing.reconcile import reconcile
from licensing.seats import lock_seats, products_touching
from licensing.services.base import check_tenant, service


def _check_units(units: int) -> int:
    if not isinstance(units, int) or isinstance(units, bool) or units < 0:
        raise InvalidInput(_("Units must be a whole number of 0 or more."))
    return units


@service
def subscription_create(
    *,
    tenant: Tenant,
    product: Product,
    units: int,
    start_date: date,
    status: str = SubscriptionStatus.ENABLED,
    next_lifecycle_date: date | None = None,
    actor,
) -> Subscription:
    if status not in SubscriptionStatus.values:
        raise InvalidInput(_("Unknown subscription status “%(s)s”.") % {"s": status})
    locked = lock_seats(tenant, products_touching(tenant, products=[product.id]))
    subscription = Subscription.objects.create(
        tenant=tenant,
        product=product,
        units=_check_units(units),
        status=status,
        start_date=start_date,
        next_lifecycle_date=next_lifecycle_date,
    )
    # New seats go to members waiting for them at once.
    reconcile(tenant=tenant, user_ids=[], products=[product.id], locked_products=locked)
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.CHANGE_SUBSCRIPTION,
        target=product,
        target_type="Subscription",
        details={"subscription": str(subscription.public_id), "units": units, "status": status},
    )
    return subscription


@service
def subscription_update(
    *,
    tenant: Tenant,
    subscription: Subscription,
    actor,
    units: int | None = None,
    status: str | None = None,
    next_lifecycle_date: date | None = None,
) -> Subscription:
    """Change units, status or lifecycle date. Fewer units than assigned makes the product
    over-assigned; no license is removed."""
    check_tenant(tenant, subscription)
    if status is not None and status not in SubscriptionStatus.values:
        raise InvalidInput(_("Unknown subscription status “%(s)s”.") % {"s": status})
    locked = lock_seats(tenant, products_touching(tenant, products=[subscription.product_id]))
    subscription.refresh_from_db()
    before = {"units": subscription.units, "status": subscription.status}
    if units is not None:
        subscription.units = _check_units(units)
    if status is not None:
        subscription.status = status
    if next_lifecycle_date is not None:
        subscription.next_lifecycle_date = next_lifecycle_date
    subscription.save()
    reconcile(
        tenant=tenant, user_ids=[], products=[subscription.product_id], locked_products=locked
    )
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.CHANGE_SUBSCRIPTION,
        target=subscription.product,
        target_type="Subscription",
        details={
            "subscription": str(subscription.public_id),
            "before": before,
            "after": {"units": subscription.units, "status": subscription.status},
        },
    )
    return subscription
