"""Reading a request of the Graph-compatible API: its JSON body, ids, the bodies of the calls
that change (``assignLicense``, ``PATCH`` of a user, ``members/$ref``) and the ``$filter``
forms, each turned into what the selectors and services take, or Graph's 400."""

from __future__ import annotations

import datetime
import json
import uuid

from django.http import HttpRequest

from licensing.errors import InvalidInput
from licensing.models import Product
from licensing.selectors.products import products_by_sku
from licensing.services.base import parse_guid
from portal import json_body
from portal.graph import errors, odata, shapes
from portal.graph.errors import GraphError, bad_request


def printable(value: str) -> str:
    """``value`` fit to quote in a message: control characters replaced, 80 characters."""
    return json_body.NOT_TEXT.sub("?", value)[:80]


# Graph accepts request bodies up to 4 MB (docs/api.md, "Limits").
MAX_BODY_BYTES = 4 * 1024 * 1024


def body(request: HttpRequest) -> dict:
    if request.content_type != "application/json":
        raise GraphError(
            415,
            errors.BAD_REQUEST,
            "The request body must be JSON (Content-Type: application/json).",
        )
    try:
        data = json_body.read(request, limit=MAX_BODY_BYTES, empty={})
    except json_body.BodyRefused as refused:
        if refused.status == 413:
            raise GraphError(413, errors.TOO_LARGE, refused.message) from None
        if refused.kind == "syntax":
            raise bad_request(
                "Unable to read JSON request payload. Please ensure Content-Type header is set "
                "and payload is of valid JSON format."
            ) from None
        raise bad_request(refused.message) from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def guid(value) -> uuid.UUID:
    try:
        return parse_guid(value)
    except InvalidInput:
        raise bad_request(f"Invalid object identifier '{printable(str(value))}'.") from None


def products_for(skus: list[uuid.UUID]) -> dict[uuid.UUID, Product]:
    """The products with these SKU ids; an unknown one is Graph's 400."""
    found = products_by_sku(sku_ids=skus)
    missing = next((sku for sku in skus if sku not in found), None)
    if missing:
        raise bad_request(f"License {missing} does not correspond to a valid company License.")
    return found


def license_changes(data: dict, kind: str) -> tuple[dict, list]:
    """``addLicenses`` and ``removeLicenses`` as {product: disabled plans} and [product]."""

    def invalid(name: str) -> GraphError:
        return bad_request(f"Invalid value specified for property '{name}' of resource '{kind}'.")

    add, remove = data.get("addLicenses"), data.get("removeLicenses")
    if not isinstance(add, list) or any(
        not isinstance(item, dict) or "skuId" not in item for item in add
    ):
        raise invalid("addLicenses")
    if not isinstance(remove, list):
        raise invalid("removeLicenses")
    if any(not isinstance(item.get("disabledPlans") or [], list) for item in add):
        raise bad_request("Invalid value specified for property 'disabledPlans'.")
    adding = [guid(item["skuId"]) for item in add]
    removing = [guid(sku) for sku in remove]
    products = products_for(adding + removing)
    return (
        {
            products[sku]: [str(guid(plan)) for plan in item.get("disabledPlans") or []]
            for sku, item in zip(adding, add, strict=True)
        },
        [products[sku] for sku in removing],
    )


def typed(data: dict, kind: str) -> dict:
    """The body without its ``@odata.type`` annotation, which the SDKs send with every entity
    (``#microsoft.graph.user``); Graph takes the entity's own type and refuses another."""
    if "@odata.type" not in data:
        return data
    named = data["@odata.type"]
    if not isinstance(named, str) or named.removeprefix("#") != f"microsoft.graph.{kind}":
        shown = printable(named) if isinstance(named, str) else printable(json.dumps(named))
        raise bad_request(
            f"A resource with type '{shown.removeprefix('#')}' was found, but it is not "
            f"assignable to the expected type 'microsoft.graph.{kind}'. The type specified in "
            "the resource must be equal to either the expected type or a derived type."
        )
    return {name: value for name, value in data.items() if name != "@odata.type"}


def usage_location_change(data: dict) -> dict:
    """The PATCH body of a user: only ``usageLocation`` can change; {} or its new value."""
    data = typed(data, "user")
    unknown = sorted(set(data) - {"usageLocation"})
    if unknown:
        raise bad_request(
            f"Property '{unknown[0][:60]}' cannot be changed through this API: only "
            "usageLocation can."
        )
    if "usageLocation" not in data:
        return {}
    location = data["usageLocation"]
    if location is not None and not isinstance(location, str):
        raise bad_request(
            "Invalid value specified for property 'usageLocation' of resource 'User'."
        )
    return {"usage_location": location or ""}


def _invalid(name: str) -> GraphError:
    return bad_request(f"Invalid value specified for property '{name}' of resource 'User'.")


# POST /users: each property the API stores (its service keyword, and whether null is taken),
# and what Graph requires of a new user.
NEW_USER = {
    "accountEnabled": ("account_enabled", bool, False),
    "displayName": ("display_name", str, False),
    "userPrincipalName": ("user_principal_name", str, False),
    "usageLocation": ("usage_location", str, True),
    "department": ("department", str, True),
    "jobTitle": ("job_title", str, True),
}
NEW_USER_REQUIRED = ("accountEnabled", "displayName", "mailNickname", "passwordProfile")
PASSWORD_PROFILE = {
    "password": str,
    "forceChangePasswordNextSignIn": bool,
    "forceChangePasswordNextSignInWithMfa": bool,
    "@odata.type": str,
}


def new_user(data: dict) -> dict:
    """The body of ``POST /users`` as ``services.user_create``'s keywords. ``mailNickname``
    and ``passwordProfile`` are checked and not kept (the portal signs nobody in with them);
    another property the API does not store is refused, naming it."""
    data = typed(data, "user")
    for name in sorted(data):
        if name in NEW_USER or name in ("mailNickname", "passwordProfile"):
            continue
        if name in shapes.USER_FIELDS:
            raise bad_request(
                f"Property '{name}' cannot be set through this API: only "
                f"{', '.join([*NEW_USER, 'mailNickname', 'passwordProfile'])} can."
            )
        raise bad_request(
            f"Property '{printable(name)[:60]}' does not exist as a declared property or "
            "extension property."
        )
    for name in (*NEW_USER_REQUIRED, "userPrincipalName"):
        if data.get(name) is None:
            raise _invalid(name)
    created = {}
    for name, (keyword, kind, nullable) in NEW_USER.items():
        value = data.get(name)
        if value is None and nullable:
            continue
        # bool is an int, but no int is a bool: JSON's true is the only accountEnabled.
        if not isinstance(value, kind) or (kind is str and not value.strip() and not nullable):
            raise _invalid(name)
        created[keyword] = value
    nickname = data["mailNickname"]
    if not isinstance(nickname, str) or not nickname.strip() or len(nickname) > 64:
        raise _invalid("mailNickname")
    profile = data["passwordProfile"]
    if not isinstance(profile, dict) or any(
        name not in PASSWORD_PROFILE or not isinstance(value, PASSWORD_PROFILE[name])
        for name, value in profile.items()
    ):
        raise _invalid("passwordProfile")
    if not profile.get("password"):
        raise _invalid("passwordProfile")
    return created


def group_change(data: dict) -> dict:
    """The PATCH body of a group: ``displayName`` and ``description`` can change, as
    ``services.group_update``'s keywords."""
    data = typed(data, "group")
    unknown = sorted(set(data) - {"displayName", "description"})
    if unknown:
        raise bad_request(
            f"Property '{printable(unknown[0])[:60]}' cannot be changed through this API: only "
            "displayName and description can."
        )

    def invalid(name: str) -> GraphError:
        return bad_request(f"Invalid value specified for property '{name}' of resource 'Group'.")

    change = {}
    if "displayName" in data:
        if not isinstance(data["displayName"], str) or not data["displayName"].strip():
            raise invalid("displayName")
        change["name"] = data["displayName"]
    if "description" in data:
        if data["description"] is not None and not isinstance(data["description"], str):
            raise invalid("description")
        change["description"] = data["description"] or ""
    return change


def member_ref(data: dict) -> str:
    """The member's id named by ``@odata.id`` (its last segment)."""
    ref = data.get("@odata.id")
    if not isinstance(ref, str) or not ref.strip("/"):
        raise bad_request("Invalid value specified for property '@odata.id'.")
    return ref.rstrip("/").rsplit("/", 1)[-1]


# Each $filter form on users, and the selector's condition it gives.
USER_FILTERS = {
    "sku_ids": odata.any_sku,
    "licensed": odata.license_count,
    "principal_names": odata.equals("userPrincipalName", (odata.ast.String,)),
    "usage_locations": odata.equals("usageLocation", (odata.ast.String,)),
    "name_prefixes": odata.starts_with("displayName"),
    "principal_prefixes": odata.starts_with("userPrincipalName"),
}


def user_conditions(request: HttpRequest) -> dict[str, list]:
    """The ``$filter`` on users as the selectors' conditions (all must hold)."""
    where: dict[str, list] = {name: [] for name in USER_FILTERS}
    for condition in odata.parse_filter(request, USER_FILTERS):
        value = condition.value
        if condition.field == "usage_locations":
            value = str(value).upper()
        where[condition.field].append(value)
    return where


GROUP_FILTERS = {
    "with_license_errors": odata.equals("hasMembersWithLicenseErrors", (odata.ast.Boolean,)),
    "name_prefixes": odata.starts_with("displayName"),
}


def group_conditions(request: HttpRequest) -> dict[str, list]:
    """The ``$filter`` on groups as the selector's conditions (all must hold)."""
    where: dict[str, list] = {name: [] for name in GROUP_FILTERS}
    for condition in odata.parse_filter(request, GROUP_FILTERS):
        value = condition.value
        if condition.field == "with_license_errors":
            value = str(value).lower() == "true"
        where[condition.field].append(value)
    return where


# $search on users and groups: the properties it may name, and the column each searches.
USER_SEARCH = {"displayName": "display_name", "userPrincipalName": "user_principal_name"}
GROUP_SEARCH = {"displayName": "name"}

# The $filter forms of GET /auditLogs/directoryAudits.
AUDIT_FILTERS = {
    "since": odata.compares("activityDateTime", (odata.ast.GtE,), (odata.ast.DateTime,)),
    "later_than": odata.compares("activityDateTime", (odata.ast.Gt,), (odata.ast.DateTime,)),
    "until": odata.compares("activityDateTime", (odata.ast.LtE,), (odata.ast.DateTime,)),
    "earlier_than": odata.compares("activityDateTime", (odata.ast.Lt,), (odata.ast.DateTime,)),
    "activities": odata.equals("activityDisplayName", (odata.ast.String,)),
    "categories": odata.equals("category", (odata.ast.String,)),
}


def audit_conditions(request: HttpRequest) -> dict[str, list]:
    """The ``$filter`` on the audit log as the selector's conditions (all must hold)."""
    where: dict[str, list] = {name: [] for name in AUDIT_FILTERS}
    for condition in odata.parse_filter(request, AUDIT_FILTERS):
        value = condition.value
        if isinstance(value, odata.ast.DateTime):
            try:
                value = value.py_val
            except (ValueError, OverflowError):
                raise bad_request(f"Invalid filter clause: '{printable(value.val)}'.") from None
            if value.tzinfo is None:  # Graph reads a time without an offset as UTC
                value = value.replace(tzinfo=datetime.UTC)
        where[condition.field].append(value)
    return where
