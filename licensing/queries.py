"""Read-side helpers over the derived rows, shared by views, admin and exports."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.paginator import Paginator
from django.db.models import Q

from licensing.models import (
    DirectoryUser,
    LicenseState,
    Product,
    Subscription,
    SubscriptionStatus,
    UserLicense,
)
from licensing.reconcile import Catalog

ACTIVE_STATES = (LicenseState.ACTIVE, LicenseState.ACTIVE_WITH_ERROR)


def enabled_plans(rows: Iterable[UserLicense], location: str, catalog: Catalog) -> list[str]:
    """A user's enabled services for one product: the union over their active paths, less
    the plans not offered in their usage location (SPEC §3.2, §3.4). In the product's order."""
    rows = [r for r in rows if r.state in ACTIVE_STATES]
    if not rows:
        return []
    order = catalog.product_plans.get(rows[0].product_id, ())
    on = set()
    for row in rows:
        on |= {p for p in order if p not in row.disabled_plans}
    return [p for p in order if p in on and location not in catalog.not_offered_in.get(p, ())]


def tenant_products(tenant) -> list[Product]:
    """The products a tenant has bought or still assigns, by name (one query)."""
    return list(
        Product.objects.filter(Q(subscriptions__tenant=tenant) | Q(assignments__tenant=tenant))
        .distinct()
        .order_by("display_name")
    )


def licensed_users_page(
    tenant,
    product: Product,
    *,
    search: str = "",
    page: int = 1,
    per_page: int = 50,
    order_by: tuple[str, ...] | list[str] = ("display_name", "id"),
):
    """One page of a product's Licensed users: (paginator page, rows per user id).

    Four queries whatever the number of users: count, the page of users, their rows, and
    nothing per row.
    """

    users = DirectoryUser.objects.filter(
        tenant=tenant,
        id__in=UserLicense.objects.filter(tenant=tenant, product=product).values("user_id"),
    )
    if search:
        users = users.filter(
            Q(display_name__icontains=search) | Q(user_principal_name__icontains=search)
        )
    page_obj = Paginator(users.order_by(*order_by), per_page).get_page(page)
    rows: dict[int, list[UserLicense]] = {}
    for row in (
        UserLicense.objects.filter(
            product=product, user_id__in=[u.id for u in page_obj.object_list]
        )
        .select_related("via_group")
        .order_by("via_group__name")
    ):
        rows.setdefault(row.user_id, []).append(row)
    return page_obj, rows


def product_line(rows: list[UserLicense], location: str, catalog: Catalog) -> dict:
    """What the blades show for one user and one product: the paths, one state and error,
    and the names of the enabled services (Licensed users, the user's Licenses)."""
    state, error = summary_state(rows)
    return {
        "rows": rows,
        "state": state,
        "error": error,
        "enabled": [catalog.names[p] for p in enabled_plans(rows, location, catalog)],
    }


def summary_state(rows: list[UserLicense]) -> tuple[str, str]:
    """One state for a user's paths of one product, as the Licensed users blade shows it:
    any seat-holding path wins, an error is shown only when no path works."""
    order = [
        LicenseState.ACTIVE,
        LicenseState.SUSPENDED,
        LicenseState.ACTIVE_WITH_ERROR,
        LicenseState.ERROR,
    ]
    best = min(rows, key=lambda r: order.index(r.state))
    return best.state, best.error


def expiring_subscriptions(tenant, *, within_days: int = 30) -> list:
    """Subscriptions in their grace period (Warning) or whose lifecycle date is within 30
    days: the Overview's expiring-soon alerts, soonest first (one query)."""

    horizon = datetime.date.today() + datetime.timedelta(days=within_days)
    return list(
        Subscription.objects.filter(tenant=tenant)
        .filter(
            Q(status=SubscriptionStatus.WARNING)
            | Q(status=SubscriptionStatus.ENABLED, next_lifecycle_date__lte=horizon)
        )
        .select_related("product")
        .order_by("next_lifecycle_date", "product__display_name")
    )
