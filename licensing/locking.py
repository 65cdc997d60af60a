"""The seat lock and the transaction every service runs in (docs/rules.md §8).

Every change that can take or free a seat locks the rows that guard those products' seats
and completes the group runs pending on them (:func:`hold_seats`) before it counts, inside
one transaction (:func:`service`). The reconciler refuses to write a product whose seats are
not locked (:class:`NeedsMoreLocks`); the service then retries whole with the larger set,
which :func:`lock_seats` takes from ``extra_locks`` (the one piece of lock state carried by
the context: a retry runs the service function again, whatever it is).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterable

from django.db import OperationalError, transaction
from django.utils.translation import gettext as _

from licensing.catalog_store import catalog_remembered
from licensing.errors import ConcurrentChange
from licensing.models import Tenant, TenantProduct

ATTEMPTS = 5

# Products a retried operation found it needed beyond what it locked the first time.
extra_locks: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "extra_locks", default=frozenset()
)


class NeedsMoreLocks(Exception):
    """The reconciliation would write rows of products whose seats are not locked."""

    def __init__(self, product_ids: set[int]):
        super().__init__(f"products not locked: {sorted(product_ids)}")
        self.product_ids = product_ids


def hold_seats(
    tenant: Tenant, product_ids: Iterable[int], *, inside: frozenset[int] = frozenset()
) -> set[int]:
    """Lock the seats of these products (:func:`lock_seats`) and complete every group run
    still pending on them, before the caller changes anything: a change never overtakes a
    queued group change (docs/rules.md §8). ``inside``: the groups whose runs the caller is
    applying (a run holding the seats for itself, and the runs it was completed inside),
    which are not completed again. Returns the locked products."""
    from licensing.processing import complete_pending_runs  # processing builds on this module

    locked = lock_seats(tenant, product_ids)
    complete_pending_runs(tenant, locked, inside=inside)
    return locked


def lock_seats(tenant: Tenant, product_ids: Iterable[int]) -> set[int]:
    """Lock the rows that guard this tenant's seats for these products; return the locked set.

    Always in product order, so that two operations on overlapping products cannot deadlock.
    """
    ids = sorted(set(product_ids) | extra_locks.get())
    if not ids:
        return set()
    # The race this prevents: two transactions each count the last free seat as available
    # and both take it. Whoever holds these rows counts and writes; the other one waits.
    locked = _lock_rows(tenant, ids)
    if missing := [p for p in ids if p not in locked]:
        # A product this tenant never had a seat row for (its first subscription or claim).
        ensure_seat_rows(tenant, missing)
        _lock_rows(tenant, missing)
    return set(ids)


def _lock_rows(tenant: Tenant, product_ids: list[int]) -> set[int]:
    return set(
        TenantProduct.objects.select_for_update()
        .filter(tenant=tenant, product_id__in=product_ids)
        .order_by("product_id")
        .values_list("product_id", flat=True)
    )


def ensure_seat_rows(tenant: Tenant, product_ids: list[int]) -> None:
    TenantProduct.objects.bulk_create(
        [TenantProduct(tenant=tenant, product_id=p) for p in product_ids], ignore_conflicts=True
    )


def service(fn):
    """Run a service in one transaction; retry it whole when it needs more seat locks than it
    took, or when PostgreSQL broke a deadlock by aborting it. Nothing is half-applied."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        extra: frozenset[int] = frozenset()
        for _attempt in range(ATTEMPTS):
            token = extra_locks.set(extra)
            try:
                with transaction.atomic(), catalog_remembered():
                    return fn(*args, **kwargs)
            except NeedsMoreLocks as needed:
                extra = extra | needed.product_ids
            except OperationalError as exc:
                if getattr(getattr(exc, "__cause__", None), "sqlstate", None) not in (
                    "40P01",  # deadlock_detected
                    "40001",  # serialization_failure
                ):
                    raise
            finally:
                extra_locks.reset(token)
        raise ConcurrentChange(_("Licenses changed while this operation ran. Try again."))

    return wrapper
