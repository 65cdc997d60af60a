"""Reading a request of the Graph-compatible API: its JSON body, ids, the bodies of the calls
that change (``assignLicense``, ``PATCH`` of a user, ``members/$ref``) and the ``$filter``
forms, each turned into what the selectors and services take, or Graph's 400."""

from __future__ import annotations

import uuid

from django.http import HttpRequest

from licensing.errors import InvalidInput
from licensing.models import Product
from licensing.selectors.products import products_by_sku
from licensing.services.base import parse_guid
from portal import json_body
from portal.graph import errors, odata
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


def usage_location_change(data: dict) -> dict:
    """The PATCH body of a user: only ``usageLocation`` can change; {} or its new value."""
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


GROUP_FILTERS = {"errors": odata.equals("hasMembersWithLicenseErrors", (odata.ast.Boolean,))}


def group_conditions(request: HttpRequest) -> dict[str, list]:
    """The ``$filter`` on groups as the selector's conditions (all must hold)."""
    return {
        "with_license_errors": [
            str(condition.value).lower() == "true"
            for condition in odata.parse_filter(request, GROUP_FILTERS)
        ]
    }
