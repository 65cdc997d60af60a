"""SCIM's shapes (RFC 7643): users and groups as resources and back (the attributes a request
sets), their ``meta``, and the discovery documents (schemas, resource types, the service
provider's configuration)."""

from __future__ import annotations

import uuid

from django.http import HttpRequest

from licensing.models import DirectoryUser, Group
from licensing.services.directory import clean_text
from licensing.services.provisioning import group_version, user_version
from portal.scim import tenant_url
from portal.scim.protocol import ENTERPRISE, GROUP, MAX_COUNT, USER, ScimError, etag, truthy


def location(request: HttpRequest, kind: str, public_id) -> str:
    return f"{tenant_url(request, request.tenant)}{kind}/{public_id}"


def _meta(request: HttpRequest, kind: str, obj, version: str) -> dict:
    """``meta``; ``version``: the resource's (``user_version``, ``group_version``), the same
    whichever of its attributes the answer leaves out, and its ETag (RFC 7644 §3.14)."""

    def stamp(moment):
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    return {
        "resourceType": kind,
        "created": stamp(obj.created_at),
        "lastModified": stamp(obj.modified_at or obj.created_at),
        "location": location(request, f"{kind}s", obj.public_id),
        "version": etag(version),
    }


def shape(request: HttpRequest, resource: dict) -> dict:
    """``attributes`` / ``excludedAttributes`` (top level, and the enterprise extension's)."""
    wanted = [a.strip() for a in request.GET.get("attributes", "").split(",") if a.strip()]
    unwanted = [a.strip() for a in request.GET.get("excludedAttributes", "").split(",") if a]
    if wanted:
        keep = {a.lower() for a in wanted} | {"id", "schemas", "meta"}
        resource = {
            k: v
            for k, v in resource.items()
            if k.lower() in keep or any(w.lower().startswith(k.lower() + ":") for w in wanted)
        }
    for name in unwanted:
        for key in list(resource):
            if key.lower() == name.lower() and key not in ("id", "schemas"):
                del resource[key]
    return resource


# -- users ------------------------------------------------------------------------------------


def user_resource(request: HttpRequest, user: DirectoryUser) -> dict:
    body: dict = {
        "schemas": [USER, ENTERPRISE],
        "id": str(user.public_id),
        "userName": user.user_principal_name,
        "displayName": user.display_name,
        "active": not user.is_soft_deleted,
    }
    if user.external_id:
        body["externalId"] = user.external_id
    if user.job_title:
        body["title"] = user.job_title
    if user.usage_location:
        body["addresses"] = [{"type": "work", "country": str(user.usage_location)}]
    if user.department:
        body[ENTERPRISE] = {"department": user.department}
    body["meta"] = _meta(request, "User", user, user_version(user))
    return body


def user_changes(values: dict) -> tuple[dict, str | None, bool | None]:
    """Profile changes, usage location and active from SCIM attributes (full names, dotted
    names and the enterprise extension's URN). Attributes we do not keep are ignored."""
    profile: dict = {}
    usage_location, active = None, None
    for key, value in values.items():
        name = key.lower()
        if name == ENTERPRISE.lower():
            if isinstance(value, dict) and "department" in value:
                profile["department"] = value["department"]
            elif not value:
                profile["department"] = ""
            continue
        name = name.removeprefix(ENTERPRISE.lower() + ":")
        if name == "username":
            profile["user_principal_name"] = value
        elif name == "displayname":
            profile["display_name"] = value
        elif name == "externalid":
            profile["external_id"] = value
        elif name == "title":
            profile["job_title"] = value
        elif name == "department":
            profile["department"] = value
        elif name == "active":
            active = truthy(value)
        elif name in ('addresses[type eq "work"].country', "addresses.country"):
            usage_location = _country(value)
        elif name == "addresses":
            work = [
                a
                for a in (value if isinstance(value, list) else [])
                if isinstance(a, dict) and a.get("type", "work") == "work"
            ]
            usage_location = _country(work[0].get("country") if work else "")
    return profile, usage_location, active


def _country(value) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    raise ScimError(400, "A country is an ISO 3166 code, such as NL.", "invalidValue")


# -- groups -----------------------------------------------------------------------------------


def members_wanted(request: HttpRequest) -> bool:
    return "members" not in request.GET.get("excludedAttributes", "")


def group_resource(request: HttpRequest, group: Group, member_ids: list | None) -> dict:
    """The group, with these members (user ids in claim order) unless ``member_ids`` is
    None."""
    body: dict = {"schemas": [GROUP], "id": str(group.public_id), "displayName": group.name}
    if group.external_id:
        body["externalId"] = group.external_id
    if member_ids is not None:
        body["members"] = [
            {
                "value": str(public_id),
                "type": "User",
                "$ref": location(request, "Users", public_id),
            }
            for public_id in member_ids
        ]
    body["meta"] = _meta(request, "Group", group, group_version(group))
    return body


def member_ids(values) -> list[uuid.UUID]:
    """The user ids that member values (``{"value": id}`` or ids) name. A value that is no id
    is left out, as one naming no user of the tenant is: SCIM does not ask servers to check
    that members exist, and identity providers send memberships of users outside the app's
    scope; the answer lists the members the group really has."""
    if not isinstance(values, list):
        values = [values]
    ids = []
    for item in values:
        value = item.get("value") if isinstance(item, dict) else item
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return ids


_MISSING = object()


def group_fields(name=_MISSING, external_id=_MISSING) -> dict:
    """A group's name and identity provider id by the directory's rule for names
    (``clean_text``: text, no control or invisible characters, not too long)."""
    fields = {}
    if name is not _MISSING:
        fields["name"] = clean_text(name, field="displayName", max_length=256, required=True)
    if external_id is not _MISSING:
        fields["external_id"] = clean_text(external_id, field="externalId", max_length=256)
    return fields


# -- discovery --------------------------------------------------------------------------------


def _attribute(
    name,
    kind="string",
    *,
    required=False,
    multi=False,
    unique="none",
    sub=None,
    mutability="readWrite",
    returned="default",
    case_exact=False,
):
    attribute = {
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": name,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": unique,
    }
    if sub is not None:
        attribute["subAttributes"] = sub
    return attribute


SCHEMAS = {
    USER: {
        "name": "User",
        "description": "A user of the tenant's directory",
        "attributes": [
            _attribute("userName", required=True, unique="server"),
            _attribute("displayName", required=True),
            # Every user here is active or deleted: active is never unassigned, so it is
            # required, and removing it is refused (RFC 7644 §3.5.2.2).
            _attribute("active", "boolean", required=True),
            _attribute("title"),
            _attribute(
                "addresses",
                "complex",
                multi=True,
                sub=[
                    {**_attribute("type"), "canonicalValues": ["work"]},
                    {**_attribute("country"), "canonicalValues": ["NL", "BE", "DE", "GB", "US"]},
                ],
            ),
        ],
    },
    ENTERPRISE: {
        "name": "EnterpriseUser",
        "description": "Enterprise user",
        "attributes": [_attribute("department")],
    },
    GROUP: {
        "name": "Group",
        "description": "A group of the tenant's directory",
        "attributes": [
            _attribute("displayName", required=True),
            _attribute(
                "members",
                "complex",
                multi=True,
                sub=[
                    _attribute("value", mutability="immutable"),
                    {**_attribute("type", mutability="immutable"), "canonicalValues": ["User"]},
                    {
                        **_attribute("$ref", "reference", mutability="immutable"),
                        "referenceTypes": ["User"],
                    },
                ],
            ),
        ],
    },
}
RESOURCE_TYPES = {
    "User": {"endpoint": "/Users", "schema": USER, "extensions": [ENTERPRISE]},
    "Group": {"endpoint": "/Groups", "schema": GROUP, "extensions": []},
}


def _base(request: HttpRequest) -> str:
    return tenant_url(request, request.tenant).rstrip("/")


def schema(request: HttpRequest, urn: str) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": urn,
        **SCHEMAS[urn],
        "meta": {"resourceType": "Schema", "location": f"{_base(request)}/Schemas/{urn}"},
    }


def resource_type(request: HttpRequest, name: str) -> dict:
    kind = RESOURCE_TYPES[name]
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name,
        "name": name,
        "endpoint": kind["endpoint"],
        "schema": kind["schema"],
        "schemaExtensions": [{"schema": e, "required": False} for e in kind["extensions"]],
        "meta": {
            "resourceType": "ResourceType",
            "location": f"{_base(request)}/ResourceTypes/{name}",
        },
    }


def service_provider_config_document(request: HttpRequest) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": request.build_absolute_uri("/"),
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_COUNT},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The tenant's provisioning token (page Provisioning).",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{_base(request)}/ServiceProviderConfig",
        },
    }
