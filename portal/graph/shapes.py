"""Graph's JSON shapes of our data (docs/api.md), from what the selectors read: names,
nesting and Graph's words for our values, nothing read here."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping

from django.conf import settings

from licensing.models import AuditEvent, Group, Product, SubscriptionStatus, Tenant
from licensing.selectors.licenses import LicenseDetail, UserLicenses
from licensing.selectors.products import SubscribedProduct


def stamp(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


# -- subscribedSku -----------------------------------------------------------------------------


def subscribed_skus(tenant: Tenant, products: list[SubscribedProduct]) -> list[dict]:
    """``subscribedSku`` of each product (``products.subscribed_products``)."""
    result = []
    for p, u, subscription_ids, consumed, plans in products:
        status = next(
            (
                s
                for s in (
                    SubscriptionStatus.ENABLED,
                    SubscriptionStatus.WARNING,
                    SubscriptionStatus.SUSPENDED,
                )
                if u[s]
            ),
            SubscriptionStatus.LOCKED_OUT,
        )
        result.append(
            {
                "accountId": str(tenant.public_id),
                "accountName": tenant.name,
                "appliesTo": p.applies_to,
                "capabilityStatus": str(status),
                "consumedUnits": consumed,
                "id": f"{tenant.public_id}_{p.sku_id}",
                "skuId": str(p.sku_id),
                "skuPartNumber": p.sku_part_number,
                "subscriptionIds": subscription_ids,
                "prepaidUnits": {
                    "enabled": u[SubscriptionStatus.ENABLED],
                    "suspended": u[SubscriptionStatus.SUSPENDED],
                    "warning": u[SubscriptionStatus.WARNING],
                    "lockedOut": u[SubscriptionStatus.LOCKED_OUT],
                },
                "servicePlans": [_plan(p, plan_id, name) for plan_id, name in plans],
            }
        )
    return result


# servicePlanInfo.provisioningStatus, Graph's values: "Success" (fully provisioned),
# "Disabled" (turned off), "Error" (not provisioned, in an error state).
PROVISIONED, DISABLED, NOT_PROVISIONED = "Success", "Disabled", "Error"


def _plan(product: Product, plan_id: str, name: str, status: str = PROVISIONED) -> dict:
    return {
        "servicePlanId": plan_id,
        "servicePlanName": name,
        "provisioningStatus": status,
        "appliesTo": product.applies_to,
    }


# -- user ---------------------------------------------------------------------------------------

USER_DEFAULT = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
]
# Each plain property: the column it reads (None: Graph's value for what we do not keep) and
# how it is written.
USER_PLAIN = {
    "id": ("public_id", str),
    "displayName": ("display_name", None),
    "userPrincipalName": ("user_principal_name", None),
    "usageLocation": ("usage_location", lambda v: str(v or "") or None),
    "accountEnabled": ("account_enabled", None),
    "department": ("department", lambda v: v or None),
    "jobTitle": ("job_title", lambda v: v or None),
    "createdDateTime": ("created_at", stamp),
    "deletedDateTime": ("soft_deleted_at", stamp),
    "onPremisesImmutableId": ("on_premises_immutable_id", lambda v: v or None),
    "businessPhones": (None, lambda v: []),
    "givenName": (None, None),
    "surname": (None, None),
    "mail": (None, None),
    "mobilePhone": (None, None),
    "officeLocation": (None, None),
    "preferredLanguage": (None, None),
}
USER_LICENSING = {"assignedLicenses", "assignedPlans", "licenseAssignmentStates"}
USER_FIELDS = set(USER_PLAIN) | USER_LICENSING
# The properties that depend on where the user is (docs/rules.md §2): they read the user's
# usage location, and the organization's country when the user has none.
USER_LOCATED = {"assignedPlans"}


def user_columns(fields: list[str]) -> list[str]:
    """The ``DirectoryUser`` columns these properties read (``id`` always: the page's key)."""
    wanted = {USER_PLAIN[name][0] for name in fields if name in USER_PLAIN}
    if USER_LOCATED.intersection(fields):
        wanted.add("usage_location")
    return ["id", *sorted(c for c in wanted if c)]


def user_rows(people: list, fields: list[str]) -> list[dict]:
    """``people`` as rows of ``user_columns(fields)``: rows as they are (a page of 999 needs
    no model instances), users read into one."""
    columns = user_columns(fields)
    return [u if isinstance(u, dict) else {c: getattr(u, c) for c in columns} for u in people]


def users(
    rows: list[dict], fields: list[str], licenses: Mapping[int, UserLicenses] | None = None
) -> list[dict]:
    """Users in Graph's shape with these properties, from rows of ``user_columns(fields)``
    and, for the licensing properties, each user's licenses (``licenses.user_licenses``,
    with every path for ``licenseAssignmentStates`` and the usage locations for
    ``assignedPlans``)."""
    licensing = USER_LICENSING.intersection(fields)
    plain = [(name, *USER_PLAIN[name]) for name in fields if name in USER_PLAIN]
    result = []
    for u in rows:
        item = {}
        for name, column, write in plain:
            value = u[column] if column else None
            item[name] = write(value) if write else value
        if licensing:
            item.update(_licensing(licenses[u["id"]], licensing))
        result.append(item)
    return result


def _licensing(licenses: UserLicenses, wanted: set[str]) -> dict:
    item = {}
    if "assignedLicenses" in wanted:
        item["assignedLicenses"] = [
            {"disabledPlans": held.disabled_plans, "skuId": held.sku_id} for held in licenses.held
        ]
    if "assignedPlans" in wanted:
        # Only the plans the user can use where they are (docs/rules.md §2–§3, as the portal
        # shows them). Graph's capabilityStatus is the condition of the subscription behind a
        # plan (Enabled, Warning, Suspended, Deleted, LockedOut): it has no value for "off
        # for this user", so a plan turned off, or not offered in the user's usage location,
        # is not listed at all, rather than listed as Enabled (it is not usable) or Deleted
        # (its data is not at risk: it comes back when the user moves). licenseDetails says
        # which plans are off and why.
        item["assignedPlans"] = [
            {
                "assignedDateTime": stamp(held.since),
                "capabilityStatus": str(SubscriptionStatus.ENABLED),
                "service": name,
                "servicePlanId": plan,
            }
            for held in licenses.held
            for plan, name in held.enabled_plans
        ]
    if "licenseAssignmentStates" in wanted:
        item["licenseAssignmentStates"] = [
            {
                "assignedByGroup": str(path.group_id) if path.group_id else None,
                "disabledPlans": sorted(path.disabled_plans),
                # Graph's word for no error (ours is LicenseError.NONE, "").
                "error": path.error or "None",
                "lastUpdatedDateTime": stamp(path.last_updated),
                "skuId": path.sku_id,
                "state": path.state,
            }
            for path in licenses.paths
        ]
    return item


def _provisioning(plan: str, on: set[str], off: set[str]) -> str:
    if plan in on:
        return PROVISIONED
    return DISABLED if plan in off else NOT_PROVISIONED


def license_details(user_public_id, details: list[LicenseDetail]) -> list[dict]:
    """``licenseDetails``: each license the user holds (``licenses.user_license_details``),
    with its plans' provisioning.

    A plan is ``Success`` where the portal shows it enabled (the rules' ``visible_plans``),
    ``Disabled`` where the admin turned it off (on every path: ``assignedLicenses``'
    ``disabledPlans``), and ``Error`` where it is on but not offered in the user's usage
    location: Graph's "not provisioned, in an error state", which is what the path's
    ``ProhibitedInUsageLocationViolation`` says. Not ``Disabled``: scripts read ``Disabled``
    plans back as the admin's ``disabledPlans`` and would turn the plan off for good, when it
    comes back by itself once the user is somewhere it is offered. Not
    ``PendingProvisioning``: Graph keeps that for a service new to the product that the
    tenant has not activated yet."""
    return [
        {
            "id": f"{user_public_id}_{detail.sku_id}",
            "skuId": str(detail.sku_id),
            "skuPartNumber": detail.product.sku_part_number,
            "servicePlans": [
                _plan(
                    detail.product,
                    plan_id,
                    name,
                    _provisioning(plan_id, detail.enabled_plans, detail.disabled_plans),
                )
                for plan_id, name in detail.plans
            ],
        }
        for detail in details
    ]


# -- group --------------------------------------------------------------------------------------

GROUP_DEFAULT = [
    "id",
    "createdDateTime",
    "description",
    "displayName",
    "groupTypes",
    "mailEnabled",
    "securityEnabled",
]
GROUP_PLAIN = {
    "id": lambda g: str(g.public_id),
    "displayName": lambda g: g.name,
    "description": lambda g: g.description or None,
    "createdDateTime": lambda g: stamp(g.created_at),
    "groupTypes": lambda g: [],
    "mailEnabled": lambda g: False,
    "securityEnabled": lambda g: True,
    "licenseProcessingState": lambda g: {"state": g.processing_state},
}
GROUP_FIELDS = set(GROUP_PLAIN) | {"assignedLicenses"}


def groups(
    found: list[Group], fields: list[str], assigned: Mapping[int, list] | None = None
) -> list[dict]:
    """Groups in Graph's shape with these properties; ``assignedLicenses`` from each group's
    (``groups.assigned_licenses``)."""
    result = []
    for g in found:
        item = {n: GROUP_PLAIN[n](g) for n in fields if n in GROUP_PLAIN}
        if "assignedLicenses" in fields:
            item["assignedLicenses"] = [
                {"disabledPlans": disabled, "skuId": sku_id} for sku_id, disabled in assigned[g.id]
            ]
        result.append(item)
    return result


DIRECTORY_OBJECT_FIELDS = ["id", "displayName", "userPrincipalName", "usageLocation"]


def members(rows: list[dict]) -> list[dict]:
    """A group's members (rows of ``user_columns(DIRECTORY_OBJECT_FIELDS)``) as Graph lists
    them, as directoryObject: each says its type."""
    return [
        {"@odata.type": "#microsoft.graph.user", **item}
        for item in users(rows, DIRECTORY_OBJECT_FIELDS)
    ]


# -- directoryAudit ------------------------------------------------------------------------------

# How the audit log names an app (AppRegistration.actor): "Name (app <client id>)".
_APP = re.compile(r"^(?P<name>.*) \(app (?P<id>[0-9a-f-]{36})\)$")


def audit_id(event: AuditEvent) -> str:
    """An event's id as the API shows it: stable, and telling nothing of the row (its key
    counts every tenant's events): a GUID derived from it with a key of the portal's."""
    key = hmac.new(settings.SECRET_KEY.encode(), b"graph-directory-audit", hashlib.sha256)
    digest = hmac.new(key.digest(), str(event.pk).encode(), hashlib.sha256).digest()
    return f"Directory_{uuid.UUID(bytes=digest[:16])}"


def _initiated_by(event: AuditEvent) -> dict:
    """``initiatedBy``: the account that did it ({user}), or an app ({app}): an app
    registration (its client id), or the portal's own doing (group-based licensing, the
    directory sync, provisioning), named as the log names it."""
    if event.actor_id is not None:
        return {
            "app": None,
            "user": {
                "id": None,
                "displayName": event.actor_name,
                "userPrincipalName": event.actor_name,
                "ipAddress": None,
            },
        }
    app = _APP.match(event.actor_name)
    return {
        "app": {
            "appId": app["id"] if app else None,
            "displayName": app["name"] if app else event.actor_name,
            "servicePrincipalId": None,
            "servicePrincipalName": None,
        },
        "user": None,
    }


def _value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def directory_audits(events: list[AuditEvent]) -> list[dict]:
    """Events in Graph's ``directoryAudit`` shape. A change's before and after (``details``
    of ``{"before": {...}, "after": {...}}`` or ``{field: {"before", "after"}}``) are the
    target's ``modifiedProperties``; the other details are ``additionalDetails``."""
    result = []
    for event in events:
        details = event.details if isinstance(event.details, dict) else {}
        modified, additional = [], []
        before, after = details.get("before"), details.get("after")
        if isinstance(before, dict) and isinstance(after, dict):
            for name in sorted(set(before) | set(after)):
                modified.append(_modified(name, before.get(name), after.get(name)))
        else:
            for name, value in details.items():
                if isinstance(value, dict) and set(value) == {"before", "after"}:
                    modified.append(_modified(name, value["before"], value["after"]))
                else:
                    additional.append({"key": name, "value": _value(value)})
        result.append(
            {
                "id": audit_id(event),
                "category": event.category,
                "correlationId": None,
                "result": str(details.get("result", "success")),
                "resultReason": "",
                "activityDisplayName": event.activity,
                "activityDateTime": stamp(event.occurred_at),
                "loggedByService": "Core Directory",
                "operationType": _operation(event.activity),
                "initiatedBy": _initiated_by(event),
                "targetResources": [
                    {
                        "id": event.target_id or None,
                        "displayName": event.target_name or None,
                        "type": event.target_type,
                        "userPrincipalName": (
                            event.target_name if event.target_type == "User" else None
                        ),
                        "groupType": None,
                        "modifiedProperties": modified,
                    }
                ],
                "additionalDetails": additional,
            }
        )
    return result


def _modified(name: str, old, new) -> dict:
    return {"displayName": name, "oldValue": json.dumps(old), "newValue": json.dumps(new)}


def _operation(activity: str) -> str:
    """Graph's operationType: Add, Delete, Update, Assign, Unassign or Other."""
    first = activity.split(" ")[0].lower()
    return {
        "add": "Add",
        "delete": "Delete",
        "hard": "Delete",
        "remove": "Delete",
        "update": "Update",
        "set": "Update",
        "change": "Update",
        "restore": "Add",
    }.get(first, "Other")
