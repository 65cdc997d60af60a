"""The catalog as the rules read it (``licensing.rules.Catalog``), from the database: once per
service, and across requests once per change of the catalog."""

from __future__ import annotations

import contextlib
import contextvars
from collections import defaultdict

from django.db import connection

from licensing.models import CatalogStamp, ProductServicePlan, ServicePlan
from licensing.rules import Catalog

# The catalog's stamp (``current_catalog``); UNREAD: the caller has not read it.
STAMP_SQL = f"SELECT value FROM {CatalogStamp._meta.db_table} WHERE id = 1"
UNREAD = object()

# The catalog this process read last, with the stamp it had then.
_last_read: tuple[int, Catalog] | None = None

# The catalog read by the service running in this context (``catalog_remembered``).
_remembered: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "remembered_catalog", default=None
)


def current_catalog(*, stamp: int | object | None = UNREAD) -> Catalog:
    """The catalog as the rules read it. Inside a service (``catalog_remembered``) it is read
    once: nothing changes the catalog while a service runs. Across requests the process keeps
    the catalog it read while the catalog's stamp (``CatalogStamp``, changed by database
    triggers on every write to the catalog's tables) stays the same. ``stamp``: the stamp as
    the caller read it just now (``STAMP_SQL``; None when the row is gone), saving the
    query."""
    memo = _remembered.get()
    if memo is None:
        return _current(stamp)
    if not memo:
        memo.append(_current(stamp))
    return memo[0]


def _current(stamp: int | object | None = UNREAD) -> Catalog:
    global _last_read
    if stamp is UNREAD:
        with connection.cursor() as cursor:  # every service asks: one plain statement
            cursor.execute(STAMP_SQL)
            found = cursor.fetchone()
        stamp = found[0] if found else None
    if stamp is None:
        # The row is gone (a test database flushed between tests): nothing to trust.
        return _read()
    last = _last_read
    if last is not None and last[0] == stamp:
        return last[1]
    catalog = _read()
    _last_read = (stamp, catalog)
    return catalog


@contextlib.contextmanager
def catalog_remembered():
    """Within this block, ``current_catalog`` reads the catalog once (nested blocks share
    it)."""
    if _remembered.get() is not None:
        yield
        return
    token = _remembered.set([])
    try:
        yield
    finally:
        _remembered.reset(token)


def _read() -> Catalog:
    product_plans: dict[int, list[str]] = defaultdict(list)
    product_names: dict[int, str] = {}
    for product_id, plan_id, product_name in ProductServicePlan.objects.order_by(
        "product_id", "position"
    ).values_list("product_id", "service_plan__service_plan_id", "product__display_name"):
        product_plans[product_id].append(str(plan_id))
        product_names[product_id] = product_name
    not_offered, names = {}, {}
    for plan in ServicePlan.objects.all():
        key = str(plan.service_plan_id)
        not_offered[key] = frozenset(str(c) for c in plan.not_offered_in)
        names[key] = plan.display_name
    depends: dict[str, set[str]] = defaultdict(set)
    for a, b in ServicePlan.depends_on.through.objects.values_list(
        "from_serviceplan__service_plan_id", "to_serviceplan__service_plan_id"
    ):
        depends[str(a)].add(str(b))
    exclusive: dict[str, set[str]] = defaultdict(set)
    for a, b in ServicePlan.exclusive_with.through.objects.values_list(
        "from_serviceplan__service_plan_id", "to_serviceplan__service_plan_id"
    ):
        exclusive[str(a)].add(str(b))
        exclusive[str(b)].add(str(a))
    return Catalog(
        product_plans={k: tuple(v) for k, v in product_plans.items()},
        not_offered_in=not_offered,
        depends_on={k: frozenset(v) for k, v in depends.items()},
        exclusive_with={k: frozenset(v) for k, v in exclusive.items()},
        names=names,
        product_names=product_names,
    )
