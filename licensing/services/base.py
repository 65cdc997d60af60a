"""What every service shares: the transaction-and-retry wrapper, tenant checks, and turning
ids from the outside world into objects of one tenant (or a clear error)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable

from django.db import OperationalError, transaction
from django.utils.translation import gettext as _
from django_countries import countries

from licensing.errors import ConcurrentChange, InvalidInput, NotFound, PlanConflict
from licensing.models import DirectoryUser, Group, Product, Tenant
from licensing.reconcile import Catalog, NeedsMoreLocks
from licensing.seats import extra_locks

ATTEMPTS = 5


def service(fn):
    """Run a service in one transaction; retry it whole when it needs more seat locks than it
    took, or when PostgreSQL broke a deadlock by aborting it. Nothing is half-applied."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        extra: frozenset[int] = frozenset()
        for _attempt in range(ATTEMPTS):
            token = extra_locks.set(extra)
            try:
                with transaction.atomic():
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


def check_tenant(tenant: Tenant, *objects) -> None:
    """Another tenant's object is reported exactly like an unknown one."""
    for obj in objects:
        if obj.tenant_id != tenant.id:
            raise NotFound(_("%(name)s was not found in this organization.") % {"name": obj})


def parse_guid(value) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(_("“%(value)s” is not a valid identifier.") % {"value": value}) from None


@functools.cache
def _country_codes() -> frozenset[str]:
    return frozenset(code for code, _name in countries)


def parse_country(code: str | None) -> str:
    """An ISO 3166 alpha-2 code, or '' for none."""
    code = (code or "").strip().upper()
    if code and code not in _country_codes():
        raise InvalidInput(_("“%(code)s” is not a known country code.") % {"code": code})
    return code


def get_users(tenant: Tenant, ids: Iterable) -> list[DirectoryUser]:
    wanted = [parse_guid(i) for i in ids]
    found = {
        u.public_id: u for u in DirectoryUser.objects.filter(tenant=tenant, public_id__in=wanted)
    }
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise NotFound(
            _("Users not found in this organization: %(ids)s") % {"ids": ", ".join(missing)}
        )
    return [found[i] for i in dict.fromkeys(wanted)]


def get_user(tenant: Tenant, public_id) -> DirectoryUser:
    return get_users(tenant, [public_id])[0]


def get_group(tenant: Tenant, public_id) -> Group:
    try:
        return Group.objects.get(tenant=tenant, public_id=parse_guid(public_id))
    except Group.DoesNotExist:
        raise NotFound(
            _("Group not found in this organization: %(id)s") % {"id": public_id}
        ) from None


def get_products(ids: Iterable) -> list[Product]:
    wanted = [parse_guid(i) for i in ids]
    found = {p.sku_id: p for p in Product.objects.filter(sku_id__in=wanted)}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise NotFound(_("Products not found: %(ids)s") % {"ids": ", ".join(missing)})
    return [found[i] for i in dict.fromkeys(wanted)]


def validate_disabled_plans(
    product: Product, disabled: Iterable, catalog: Catalog | None = None
) -> list[str]:
    """The options dialog's rules (SPEC §3.4) for one product: a list of plan GUID strings.

    Refused: a plan that is not in the product; an enabled plan whose prerequisites in this
    product are all off; two enabled plans that are mutually exclusive. The message names the
    plan to change.
    """
    catalog = catalog or Catalog.load()
    plans = catalog.product_plans.get(product.id, ())
    result = sorted({str(parse_guid(p)) for p in disabled})
    for plan in result:
        if plan not in plans:
            raise InvalidInput(
                _("%(plan)s is not a service plan of %(product)s.")
                % {"plan": catalog.names.get(plan, plan), "product": product.display_name}
            )
    enabled = [p for p in plans if p not in result]
    for plan in enabled:
        needs = catalog.depends_on.get(plan, frozenset()) & set(plans)
        if needs and not needs & set(enabled):
            raise PlanConflict(
                _("%(plan)s requires %(needs)s. Turn on %(needs)s or turn off %(plan)s.")
                % {
                    "plan": catalog.names[plan],
                    "needs": _(" or ").join(catalog.names[n] for n in plans if n in needs),
                }
            )
        for other in enabled:
            if other in catalog.exclusive_with.get(plan, frozenset()):
                raise PlanConflict(
                    _("%(a)s and %(b)s cannot both be on. Turn off one of them.")
                    % {"a": catalog.names[plan], "b": catalog.names[other]}
                )
    return result
