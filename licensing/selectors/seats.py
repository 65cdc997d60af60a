"""Seats as the pages read them (docs/rules.md §1): Total, Assigned, Available per product."""

from __future__ import annotations

from collections.abc import Iterable

from licensing.models import Tenant
from licensing.seats import seat_counts


def seats(*, tenant: Tenant, product_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """Per product id: total, expiring, assigned, available and over_assigned (one query);
    only products with a subscription or an Assigned counter appear."""
    return seat_counts(tenant, product_ids)
