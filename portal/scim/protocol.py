"""The SCIM endpoint: the tenant's bearer token, the methods, every refusal in SCIM's error
schema; the request body and the answers' envelopes."""

from __future__ import annotations

import re
import uuid

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from licensing import services
from licensing.errors import LicensingError, NameTaken, NotFound, VersionChanged
from portal import json_body

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
CONTENT_TYPE = "application/scim+json"
MAX_COUNT = 1000
# A request's body (docs/provisioning.md, "Limits"): room for 20,000 members in one PUT or
# PATCH; Entra ID and Okta send far fewer at a time.
MAX_BODY_BYTES = 1024 * 1024


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def json_response(body: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE)


def error_response(error: ScimError) -> JsonResponse:
    body = {"schemas": [ERROR], "status": str(error.status), "detail": error.detail}
    if error.scim_type:
        body["scimType"] = error.scim_type
    return json_response(body, error.status)


def listed(items: list[dict], *, total: int | None = None, start: int = 1) -> JsonResponse:
    """A ``ListResponse``: these items, page ``start`` of ``total`` (all of them)."""
    return json_response(
        {
            "schemas": [LIST],
            "totalResults": len(items) if total is None else total,
            "startIndex": start,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


_DUPLICATE = "A concurrent request made the same change first; read the resource again."


def endpoint(**methods):
    """A SCIM endpoint: the tenant's bearer token checked, the methods dispatched, every
    refusal in SCIM's error schema. A change is one service, which is one transaction."""

    @csrf_exempt
    def dispatch(request: HttpRequest, tenant_id, **kwargs) -> HttpResponse:
        try:
            request.tenant = _authenticated(request, tenant_id).tenant
            view = methods.get(request.method)
            if view is None:
                raise ScimError(405, f"{request.method} is not supported here.")
            return view(request, **kwargs)
        except ScimError as error:
            return error_response(error)
        except NotFound as error:
            return error_response(ScimError(404, str(error)))
        except VersionChanged as changed:  # If-Match named a version it no longer has
            return error_response(ScimError(412, str(changed)))
        except NameTaken as taken:  # a create or a rename onto a taken userName alike
            return error_response(ScimError(409, str(taken), "uniqueness"))
        except IntegrityError as error:
            # A concurrent request wrote the same membership first: the constraint decides.
            if getattr(error.__cause__, "sqlstate", None) == "23505":
                return error_response(ScimError(409, _DUPLICATE, "uniqueness"))
            raise
        except LicensingError as error:
            return error_response(ScimError(400, str(error), "invalidValue"))

    dispatch.methods = tuple(methods)  # read by the hostile-input suite, which walks the URLs
    return dispatch


def _authenticated(request: HttpRequest, tenant_id):
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    token = (
        services.scim_authenticate(tenant_id, raw.strip()) if scheme.lower() == "bearer" else None
    )
    if token is None:
        raise ScimError(401, "A valid bearer token of this tenant is required.")
    return token


def read_body(request: HttpRequest) -> dict:
    try:
        data = json_body.read(request, limit=MAX_BODY_BYTES, empty={})
    except json_body.BodyRefused as refused:
        scim_type = {"syntax": "invalidSyntax", "depth": "invalidSyntax", "text": "invalidValue"}
        scim_type = scim_type.get(refused.kind)
        raise ScimError(refused.status, refused.message, scim_type) from None
    if not isinstance(data, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    return data


def truthy(value) -> bool:
    """SCIM booleans as identity providers send them: true, "True", "false", "False"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ScimError(400, f"{value!r} is not a boolean.", "invalidValue")


def resource_id(value) -> uuid.UUID:
    """The id in a resource's URL; one that is no UUID names no resource."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ScimError(404, f"No resource has the id {str(value)[:60]!r}.") from None


# startIndex and count: ASCII digits, at most nine of them (an OFFSET past PostgreSQL's
# bigint was a 500; no tenant has a billion users).
_INTEGER = re.compile(r"-?[0-9]{1,9}")


def query_integer(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw.strip()):
        raise ScimError(400, f"{name} must be an integer of at most nine digits.", "invalidValue")
    return int(raw)


# -- versions (RFC 7644 §3.14) ----------------------------------------------------------------

# If-Match's and If-None-Match's "any version" (licensing.services.provisioning.ANY_VERSION).
ANY_VERSION = "*"
# One entity-tag of a list (RFC 7232 §2.3): weak or not, its opaque part between quotes.
_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')
_LIST_ELEMENT = re.compile(r"\s*,")


def etag(version: str) -> str:
    """A resource's version as ``meta.version`` and the ``ETag`` header give it: weak."""
    return f'W/"{version}"'


def entity_tags(request: HttpRequest, header: str) -> frozenset[str] | None:
    """The versions an ``If-Match`` or ``If-None-Match`` header names, by their opaque part
    (weak comparison, as SCIM's examples send the weak tags they read), ``{ANY_VERSION}`` for
    ``*``; None without the header. One that is no list of entity-tags is refused: a
    condition read wrong would change what the client meant to keep."""
    raw = request.headers.get(header)
    if raw is None:
        return None
    if raw.strip() == "*":
        return frozenset({ANY_VERSION})
    tags, at = set(), 0
    while at < len(raw):
        tag = _ENTITY_TAG.match(raw, at)
        if not tag:
            raise ScimError(400, f"{header} is not a list of entity tags.", "invalidSyntax")
        tags.add(tag.group(1))
        at = tag.end()
        if at < len(raw):
            comma = _LIST_ELEMENT.match(raw, at)
            if not comma or comma.end() == len(raw):
                raise ScimError(400, f"{header} is not a list of entity tags.", "invalidSyntax")
            at = comma.end()
    if not tags:
        raise ScimError(400, f"{header} is not a list of entity tags.", "invalidSyntax")
    return frozenset(tags)


def not_modified(request: HttpRequest, version: str) -> HttpResponse | None:
    """A GET's ``304 Not Modified`` when its ``If-None-Match`` names this version (or is
    ``*``); else None."""
    tags = entity_tags(request, "If-None-Match")
    if tags is None or (ANY_VERSION not in tags and version not in tags):
        return None
    response = HttpResponse(status=304)
    response["ETag"] = etag(version)
    return response
