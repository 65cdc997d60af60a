"""What every service shares: the transaction-and-retry wrapper (``licensing.locking``), tenant
checks, turning ids from the outside world into objects of one tenant (or a clear error), and
the words for a refusal."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from licensing.catalog_store import current_catalog
from licensing.errors import (
    AssignmentRefused,
    DependencyRefused,
    InvalidInput,
    NotFound,
    PlanConflict,
)
from licensing.locking import service
from licensing.models import SEAT_STATES, DirectoryUser, Group, LicenseAssignment, Product, Tenant
from licensing.rules import (
    COUNT,
    DEPENDENCY,
    EXCLUSIVE,
    LOCATION,
    Catalog,
    first_conflict,
    missing_prerequisite,
)

__all__ = ["service"]  # the transaction-and-retry wrapper every service module imports here


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


def validate_disabled_plans(
    product: Product, disabled: Iterable, catalog: Catalog | None = None
) -> list[str]:
    """The options dialog's rules (docs/rules.md §3) for one product: a list of plan GUID strings.

    Refused: a plan that is not in the product; an enabled plan whose prerequisites in this
    product are all off; two enabled plans that are mutually exclusive. The message names the
    plan to change.
    """
    catalog = catalog or current_catalog()
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
                },
                code=DEPENDENCY,
            )
        for other in enabled:
            if other in catalog.exclusive_with.get(plan, frozenset()):
                raise PlanConflict(
                    _("%(a)s and %(b)s cannot both be on. Turn off one of them.")
                    % {"a": catalog.names[plan], "b": catalog.names[other]},
                    code=EXCLUSIVE,
                )
    return result


def describe_failure(
    user_name: str, product_name: str, error: str, reason: tuple, catalog: Catalog, licenses
) -> str:
    """Why ``user_name`` cannot have ``product_name``, naming the plans and, for a conflict,
    the other license (``licenses``: assignment id → its name and path)."""
    if error == EXCLUSIVE and reason[:1] == ("plan",):
        _kind, plan, other_plan, other = reason
        return _(
            "%(user)s cannot get %(product)s: %(plan)s conflicts with %(other_plan)s of "
            "%(other)s. Turn off one of them."
        ) % {
            "user": user_name,
            "product": product_name,
            "plan": catalog.names.get(plan, plan),
            "other_plan": catalog.names.get(other_plan, other_plan),
            "other": licenses(other),
        }
    if error == DEPENDENCY and reason[:1] == ("needs",):
        _kind, plan, needs = reason
        return _(
            "%(user)s cannot get %(product)s: %(plan)s requires %(needs)s, which the user "
            "does not have."
        ) % {
            "user": user_name,
            "product": product_name,
            "plan": catalog.names.get(plan, plan),
            "needs": _(" or ").join(sorted(catalog.names.get(n, n) for n in needs)),
        }
    words = {
        COUNT: _("not enough licenses"),
        LOCATION: _("no service of it is offered in the user's usage location"),
        EXCLUSIVE: _("it conflicts with a service plan the user already has"),
        DEPENDENCY: _("it needs a service plan the user does not have"),
    }
    return _("%(user)s cannot get %(product)s: %(reason)s") % {
        "user": user_name,
        "product": product_name,
        "reason": words.get(error, error),
    }


def group_assignment_ids(group_id: int) -> set[int]:
    """The intents of a group: a change of the group may change every path they give (all or
    nothing per member), so ``refuse_breaking`` counts them as the change's own."""
    return set(LicenseAssignment.objects.filter(group_id=group_id).values_list("id", flat=True))


def license_names(assignment_ids, catalog: Catalog):
    """assignment id → "Office 365 E3 (direct)" / "… (inherited from Sales)", for messages
    (one query for all of them)."""
    found = {
        a_id: (product_id, group)
        for a_id, product_id, group in LicenseAssignment.objects.filter(
            id__in=set(assignment_ids)
        ).values_list("id", "product_id", "group__name")
    }

    def name(assignment_id) -> str:
        if assignment_id not in found:
            return str(assignment_id)
        product_id, group = found[assignment_id]
        product = catalog.product_names.get(product_id, str(product_id))
        if group is None:
            return _("%(product)s (direct)") % {"product": product}
        return _("%(product)s (inherited from %(group)s)") % {"product": product, "group": group}

    return name


def refuse_failures(result, assignments: set[int], catalog: Catalog) -> None:
    """Refuse the whole change if any path of these intents did not end up working, naming
    who and why (direct assignment is immediate: rules §6)."""
    _refuse(result, [k for k in result.desired if k[0] in assignments], catalog, changed=True)


def refuse_breaking(result, changed_assignments: set[int], catalog: Catalog) -> None:
    """Refuse the whole change if a license the user had working, other than those this
    change is about, would stop working: a change never silently breaks another license
    (rules §5)."""
    broken = [
        key
        for key, row in result.existing.items()
        if key[0] not in changed_assignments
        and row["state"] in SEAT_STATES
        and key in result.desired
        and result.desired[key].state not in SEAT_STATES
    ]
    _refuse(result, broken, catalog, changed=False)


def _refuse(result, keys, catalog, *, changed: bool) -> None:
    failed = [k for k in keys if result.desired[k].state not in SEAT_STATES]
    if not failed:
        return
    names = dict(
        DirectoryUser.objects.filter(id__in={u for _, u in failed}).values_list(
            "id", "user_principal_name"
        )
    )
    shown = sorted(failed, key=lambda k: (names.get(k[1], ""), k[0]))[:20]
    others = [
        result.desired[k].reason[3] for k in shown if result.desired[k].reason[:1] == ("plan",)
    ]
    licenses = license_names([a for a, _ in shown] + others, catalog)
    problems = []
    for assignment_id, user_id in shown:
        want = result.desired[(assignment_id, user_id)]
        product = catalog.product_names.get(want.product_id, str(want.product_id))
        text = describe_failure(
            names.get(user_id, str(user_id)), product, want.error, want.reason, catalog, licenses
        )
        if not changed:
            text = _("%(license)s would stop working: %(why)s") % {
                "license": licenses(assignment_id),
                "why": text,
            }
        problems.append(text)
    errors = {result.desired[k].error for k in failed}
    code = errors.pop() if len(errors) == 1 else ""
    message = _("Nothing was changed. ") + "; ".join(problems)
    skus = sorted(
        str(s)
        for s in Product.objects.filter(
            id__in={result.desired[k].product_id for k in failed}
        ).values_list("sku_id", flat=True)
    )
    if code == DEPENDENCY:
        raise DependencyRefused(message, skus=skus)
    raise AssignmentRefused(message, code=code, skus=skus)


def validate_group_plans(
    group: Group,
    changes: dict[int, list[str]],
    *,
    removing: Iterable[int] = (),
    catalog: Catalog,
) -> None:
    """A group's licenses must work together for a member who has nothing else (rules §5):
    with ``changes`` (product id → disabled plans) applied and ``removing`` gone, no enabled
    plan excludes another enabled plan of the group (refused as a direct assignment of the
    pair would be), and every enabled plan that requires another has one of them enabled in
    the same group (Azure refuses otherwise)."""
    plans = {
        product_id: disabled
        for product_id, disabled in LicenseAssignment.objects.filter(group=group).values_list(
            "product_id", "disabled_plans"
        )
    }
    plans.update(changes)
    for product_id in removing:
        plans.pop(product_id, None)
    on: list[tuple[str, int]] = [
        (plan, product_id)
        for product_id, disabled in sorted(plans.items())
        for plan in catalog.product_plans.get(product_id, ())
        if plan not in disabled
    ]
    # Only a change that turns services on can make a conflict: a removal never refuses for
    # one (a catalog change may have left the group's products in conflict).
    clash = first_conflict([p for p, _ in on], on, catalog) if changes else None
    if clash:
        plan, other, other_product = clash
        product = next(product_id for p, product_id in on if p == plan)
        raise PlanConflict(
            _(
                "%(a)s (%(product_a)s) and %(b)s (%(product_b)s) cannot both be on for the "
                "members of one group. Turn off one of them."
            )
            % {
                "a": catalog.names.get(plan, plan),
                "product_a": catalog.product_names.get(product, ""),
                "b": catalog.names.get(other, other),
                "product_b": catalog.product_names.get(other_product, ""),
            },
            code=EXCLUSIVE,
        )
    enabled = {plan for plan, _ in on}
    missing = missing_prerequisite(sorted(enabled), enabled, catalog)
    if missing:
        plan, needs = missing
        raise DependencyRefused(
            _(
                "License operation failed. Make sure that the group has necessary services "
                "before adding or removing a dependent service. The service %(plan)s requires "
                "%(needs)s to be enabled as well."
            )
            % {
                "plan": catalog.names.get(plan, plan),
                "needs": _(" or ").join(sorted(catalog.names.get(n, n) for n in needs)),
            }
        )


def save_changed(obj, changes: dict) -> tuple[dict, dict]:
    """Write the fields of ``changes`` that differ from the stored row, with ``modified_at``,
    and set them on ``obj``. Returns the changed fields' values before and after; nothing
    is written when nothing changed."""
    current = type(obj).objects.values(*changes).get(id=obj.id)
    after = {f: v for f, v in changes.items() if current[f] != v}
    if after:
        type(obj).objects.filter(id=obj.id).update(**after, modified_at=timezone.now())
        for field, value in after.items():
            setattr(obj, field, value)
    return {f: current[f] for f in after}, after
