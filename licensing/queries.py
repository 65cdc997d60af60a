"""Read-side helpers over the derived rows, shared by views, admin and exports."""

from __future__ import annotations

from collections.abc import Iterable

from licensing.models import DirectoryUser, LicenseState, Product, UserLicense
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


def enabled_plan_ids(user: DirectoryUser, product: Product, catalog: Catalog) -> list[str]:
    rows = UserLicense.objects.filter(user=user, product=product)
    location = str(user.usage_location or user.tenant.country)
    return enabled_plans(rows, location, catalog)
