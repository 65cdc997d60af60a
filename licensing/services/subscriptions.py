"""Purchases and their lifecycle (docs/rules.md §1): Total moves, nothing is removed silently."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils.translation import gettext as _

from licensing import audit
from licensing.errors import InvalidInput
from licensing.locking import hold_seats
from licensing.models import Product, Subscription, SubscriptionStatus, Tenant
from licensing.reconcile import reconcile
from licensing.seats import products_touching
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
    locked = hold_seats(tenant, products_touching(tenant, products=[product.id]))
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
    locked = hold_seats(tenant, products_touching(tenant, products=[subscription.product_id]))
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


# Azure's lifecycle of a subscription that is not renewed: expired, it stays usable in a
# 30-day grace period (Warning), then is disabled for 90 days (Suspended), then deleted.
GRACE_PERIOD = timedelta(days=30)
DISABLED_PERIOD = timedelta(days=90)
NEXT_STEP = {
    SubscriptionStatus.ENABLED: (SubscriptionStatus.WARNING, GRACE_PERIOD),
    SubscriptionStatus.WARNING: (SubscriptionStatus.SUSPENDED, DISABLED_PERIOD),
}


@service
def subscription_delete(*, tenant: Tenant, subscription: Subscription, actor) -> None:
    """The end of the lifecycle: the units are gone. Licenses stay (over-assigned)."""
    check_tenant(tenant, subscription)
    locked = hold_seats(tenant, products_touching(tenant, products=[subscription.product_id]))
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.CHANGE_SUBSCRIPTION,
        target=subscription.product,
        target_type="Subscription",
        details={
            "subscription": str(subscription.public_id),
            "deleted": True,
            "units": subscription.units,
        },
    )
    subscription.delete()
    reconcile(
        tenant=tenant, user_ids=[], products=[subscription.product_id], locked_products=locked
    )


def subscriptions_advance(*, today: date, actor=None) -> list[str]:
    """Move every subscription whose lifecycle date has come: Enabled → Warning → Suspended →
    deleted, each step dated from the previous one, so a late run catches up. Each step is
    its own audited service call. LockedOut subscriptions wait for support staff."""
    done: list[str] = []
    due = (
        Subscription.objects.filter(next_lifecycle_date__lte=today)
        .exclude(status=SubscriptionStatus.LOCKED_OUT)
        .select_related("tenant", "product")
        .order_by("id")
    )
    for subscription in due:
        tenant, name = (
            subscription.tenant,
            f"{subscription.tenant.name}: {subscription.product.display_name}",
        )
        while subscription.next_lifecycle_date and subscription.next_lifecycle_date <= today:
            if subscription.status == SubscriptionStatus.SUSPENDED:
                subscription_delete(tenant=tenant, subscription=subscription, actor=actor)
                done.append(f"{name} ({subscription.units} units): deleted")
                break
            status, period = NEXT_STEP[subscription.status]
            subscription = subscription_update(
                tenant=tenant,
                subscription=subscription,
                status=status,
                next_lifecycle_date=subscription.next_lifecycle_date + period,
                actor=actor,
            )
            done.append(
                f"{name} ({subscription.units} units): {status} until {subscription.next_lifecycle_date}"
            )
    return done
