"""Seats as the pages read them (docs/rules.md §1): Total, Assigned, Available per product."""

from __future__ import annotations

from collections.abc import Iterable

from licensing.models import Product, Tenant, UserLicense
from licensing.seats import seat_counts


def seats(*, tenant: Tenant, product_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """Per product id: total, expiring, assigned, available and over_assigned (one query);
    only products with a subscription or an Assigned counter appear."""
    return seat_counts(tenant, product_ids)


def seat_holders(
    *, tenant: Tenant, products: Iterable[Product], user_ids: Iterable[int]
) -> set[tuple[int, int]]:
    """(user id, product id) for each of these users who holds a seat of one of these
    products through any path (one query): the users an assignment would not take a new seat
    for."""
    user_ids = list(user_ids)
    if not user_ids:
        return set()
    return set(
        UserLicense.objects.filter(tenant=tenant, product__in=list(products), user_id__in=user_ids)
        .holding_seats()
        .values_list("user_id", "product_id")
    )
