"""The SCIM endpoints, one function each: parse the request, read through the selectors, make
a change with one service, answer in SCIM's shapes. Every change is the provisioning client's
(``PROVISIONING_ACTOR``) and is audited as it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict

from licensing import services
from licensing.models import DirectoryUser, Group
from licensing.selectors import groups, users
from licensing.services.provisioning import group_version, user_version
from licensing.services.scim import PROVISIONING_ACTOR
from portal.scim import patch
from portal.scim.filter import GROUP_FILTERS, USER_FILTERS, list_query, search_query
from portal.scim.protocol import (
    SEARCH_REQUEST,
    ScimError,
    entity_tags,
    json_response,
    listed,
    not_modified,
    read_body,
    resource_id,
)
from portal.scim.resources import (
    RESOURCE_TYPES,
    SCHEMAS,
    group_fields,
    group_resource,
    location,
    member_ids,
    members_wanted,
    resource_type,
    schema,
    service_provider_config_document,
    shape,
    user_changes,
    user_resource,
)

# A group's PATCH answer leaves out members beyond this many (docs/provisioning.md).
MEMBERS_IN_ANSWER = 1000


def _one(request: HttpRequest, resource: dict, status: int = 200, *, shaped=False) -> JsonResponse:
    """A single resource's answer, its version (``meta.version``) as its ETag (RFC 7644
    §3.14), also when ``attributes`` leave ``meta`` out (``shaped``)."""
    version = resource["meta"]["version"]  # read first: ``shape`` may take meta out
    response = json_response(shape(request, resource) if shaped else resource, status)
    response["ETag"] = version
    return response


def _created(request: HttpRequest, kind: str, resource: dict) -> JsonResponse:
    response = _one(request, resource, 201)
    response["Location"] = location(request, kind, resource["id"])
    return response


def _if_match(request: HttpRequest) -> frozenset[str] | None:
    """The versions a change is on condition of (``If-Match``), for the service."""
    return entity_tags(request, "If-Match")


# -- users ------------------------------------------------------------------------------------


def _user(request: HttpRequest, key) -> DirectoryUser:
    user = users.user(tenant=request.tenant, public_id=resource_id(key))
    if user is None:
        raise ScimError(404, f"No user has the id {key}.")
    return user


def list_users(request):
    query = list_query(request, USER_FILTERS)
    total, page = users.users_page(
        tenant=request.tenant, matching=query.matching, offset=query.offset, limit=query.limit
    )
    found = [shape(request, user_resource(request, user)) for user in page]
    return listed(found, total=total, start=query.start)


def create_user(request):
    profile, usage_location, active = user_changes(read_body(request))
    upn = profile.pop("user_principal_name", None)
    if not upn:
        raise ScimError(400, "userName is required.", "invalidValue")
    user = services.user_provision(
        tenant=request.tenant,
        user_principal_name=upn,
        display_name=profile.pop("display_name", ""),
        usage_location=usage_location or "",
        profile=profile,
        active=active,
        actor=PROVISIONING_ACTOR,
    )
    return _created(request, "Users", user_resource(request, _user(request, user.public_id)))


def get_user(request, key):
    user = _user(request, key)
    if unchanged := not_modified(request, user_version(user)):
        return unchanged
    return _one(request, user_resource(request, user), shaped=True)


def replace_user(request, key):
    user = _user(request, key)
    profile, usage_location, active = user_changes(read_body(request))
    if not profile.get("user_principal_name"):
        raise ScimError(400, "userName is required.", "invalidValue")
    services.user_provision_update(
        tenant=request.tenant,
        user=user,
        profile=profile,
        usage_location=usage_location if usage_location is not None else "",
        active=active,
        actor=PROVISIONING_ACTOR,
        if_match=_if_match(request),
    )
    return _one(request, user_resource(request, _user(request, key)))


def patch_user(request, key):
    user = _user(request, key)
    values = patch.user_values(patch.operations(read_body(request)))
    profile, usage_location, active = user_changes(values)
    services.user_provision_update(
        tenant=request.tenant,
        user=user,
        profile=profile,
        usage_location=usage_location,
        active=active,
        actor=PROVISIONING_ACTOR,
        if_match=_if_match(request),
    )
    return _one(request, user_resource(request, _user(request, key)))


def delete_user(request, key):
    user = _user(request, key)
    services.user_deprovision(
        tenant=request.tenant, user=user, actor=PROVISIONING_ACTOR, if_match=_if_match(request)
    )
    return HttpResponse(status=204)


# -- groups -----------------------------------------------------------------------------------


def _group(request: HttpRequest, key) -> Group:
    group = groups.group(tenant=request.tenant, public_id=resource_id(key))
    if group is None:
        raise ScimError(404, f"No group has the id {key}.")
    return group


def _group_answer(request: HttpRequest, key, *, members: bool = True, group=None) -> dict:
    """The group as it is now (``group``, if just read), with its members unless left out
    (``members``, or the request's ``excludedAttributes``)."""
    group = group or _group(request, key)
    ids = None
    if members and members_wanted(request):
        ids = groups.group_member_ids(tenant=request.tenant, groups=[group])[group.id]
    return group_resource(request, group, ids)


def _members(request: HttpRequest, values) -> list[DirectoryUser]:
    """The tenant's users these member values name (``resources.member_ids``)."""
    return users.users_by_ids(tenant=request.tenant, public_ids=member_ids(values))


def list_groups(request):
    query = list_query(request, GROUP_FILTERS)
    total, page = groups.groups_counted_page(
        tenant=request.tenant, matching=query.matching, offset=query.offset, limit=query.limit
    )
    ids = (
        groups.group_member_ids(tenant=request.tenant, groups=page)
        if members_wanted(request)
        else {}
    )
    found = [shape(request, group_resource(request, group, ids.get(group.id))) for group in page]
    return listed(found, total=total, start=query.start)


def create_group(request):
    data = read_body(request)
    fields = group_fields(data.get("displayName") or "", data.get("externalId") or "")
    group = services.group_provision(
        tenant=request.tenant,
        name=fields["name"],
        external_id=fields["external_id"],
        members=_members(request, data["members"]) if data.get("members") else (),
        actor=PROVISIONING_ACTOR,
    )
    return _created(request, "Groups", _group_answer(request, group.public_id))


def get_group(request, key):
    group = _group(request, key)
    # The version is the group's row's: a 304 reads no member.
    if unchanged := not_modified(request, group_version(group)):
        return unchanged
    return _one(request, _group_answer(request, key, group=group), shaped=True)


def replace_group(request, key):
    group = _group(request, key)
    data = read_body(request)
    services.group_provision_update(
        tenant=request.tenant,
        group=group,
        changes=group_fields(data.get("displayName") or "", data.get("externalId") or ""),
        members=_members(request, data.get("members") or []),
        actor=PROVISIONING_ACTOR,
        if_match=_if_match(request),
    )
    return _one(request, _group_answer(request, key))


def patch_group(request, key):
    group = _group(request, key)
    changes, member_operations = patch.group_changes(patch.operations(read_body(request)))
    members = _member_changes(request, member_operations)
    services.group_provision_update(
        tenant=request.tenant,
        group=group,
        changes=group_fields(**changes) if changes else None,
        actor=PROVISIONING_ACTOR,
        if_match=_if_match(request),
        **members,
    )
    count = groups.group_member_count(tenant=request.tenant, group=group)
    return _one(request, _group_answer(request, key, members=count <= MEMBERS_IN_ANSWER))


def _member_changes(request: HttpRequest, operations: list[patch.MemberOperation]) -> dict:
    """The member arguments of ``group_provision_update`` for a PATCH's member operations:
    the whole new member set when one of them replaced it, else who joins and who leaves."""
    changes = patch.MemberChanges()
    for op, ids in operations:
        found = None if ids is None else users.users_by_ids(tenant=request.tenant, public_ids=ids)
        changes.apply(op, found)
    if changes.replaced:
        return {"members": list(changes.add.values())}
    return {"add": list(changes.add.values()), "remove": list(changes.remove.values())}


def delete_group(request, key):
    group = _group(request, key)
    services.group_deprovision(
        tenant=request.tenant, group=group, actor=PROVISIONING_ACTOR, if_match=_if_match(request)
    )
    return HttpResponse(status=204)


# -- discovery and search ---------------------------------------------------------------------


def service_provider_config(request):
    return json_response(service_provider_config_document(request))


def list_schemas(request):
    return listed([schema(request, urn) for urn in SCHEMAS])


def get_schema(request, key):
    if key not in SCHEMAS:
        raise ScimError(404, f"No schema {key[:80]}.")
    return json_response(schema(request, key))


def list_resource_types(request):
    return listed([resource_type(request, name) for name in RESOURCE_TYPES])


def get_resource_type(request, key):
    if key not in RESOURCE_TYPES:
        raise ScimError(404, f"No resource type {key[:80]}.")
    return json_response(resource_type(request, key))


# A SearchRequest's attributes (RFC 7644 §3.4.3), lowercased. Sorting is not supported
# (ServiceProviderConfig): sortBy and sortOrder are taken and the results stay in the order
# they were made.
_SEARCH_ATTRIBUTES = {
    "schemas",
    "attributes",
    "excludedattributes",
    "filter",
    "sortby",
    "sortorder",
    "startindex",
    "count",
}


def _search_parameters(data: dict) -> QueryDict:
    """A SearchRequest's body as the query parameters of a list (RFC 7644 §3.4.3); an
    attribute no SearchRequest has, or one of the wrong type, is refused."""
    values = {}
    for name, value in data.items():
        if name.lower() not in _SEARCH_ATTRIBUTES:
            raise ScimError(
                400, f"{name[:60]!r} is not an attribute of a SearchRequest.", "invalidSyntax"
            )
        values[name.lower()] = value
    schemas = values.get("schemas")
    if schemas is not None and (
        not isinstance(schemas, list)
        or [str(s).lower() for s in schemas] != [SEARCH_REQUEST.lower()]
    ):
        raise ScimError(400, f"schemas must be [{SEARCH_REQUEST!r}].", "invalidSyntax")
    query = QueryDict(mutable=True)
    for name, key in (("filter", "filter"), ("startIndex", "startindex"), ("count", "count")):
        value = values.get(key)
        if value is None:
            continue
        wanted = str if name == "filter" else int
        if not isinstance(value, wanted) or isinstance(value, bool):
            kind = "a string" if wanted is str else "an integer"
            raise ScimError(400, f"{name} must be {kind}.", "invalidValue")
        query[name] = str(value)
    for name in ("attributes", "excludedAttributes"):
        value = values.get(name.lower())
        if not value:
            continue
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ScimError(400, f"{name} must be a list of attribute names.", "invalidValue")
        query[name] = ",".join(value)
    return query


def searching(list_view):
    """``POST …/.search`` (RFC 7644 §3.4.3): the query in the body instead of the URL."""

    def search(request):
        request.GET = _search_parameters(read_body(request))
        return list_view(request)

    return search


def search_everything(request):
    """``POST /.search`` at the root (RFC 7644 §3.4.3): users and groups in one list, the
    users first, each kind in the order made; the filter decides per kind (an attribute
    groups do not have matches no group), ``startIndex`` and ``count`` page the whole."""
    request.GET = _search_parameters(read_body(request))
    (user_matching, group_matching), query = search_query(request, USER_FILTERS, GROUP_FILTERS)
    found: list[dict] = []
    total = 0
    if user_matching is not None:
        total, page = users.users_page(
            tenant=request.tenant, matching=user_matching, offset=query.offset, limit=query.limit
        )
        found = [shape(request, user_resource(request, user)) for user in page]
    if group_matching is not None:
        counted, page = groups.groups_counted_page(
            tenant=request.tenant,
            matching=group_matching,
            offset=max(0, query.offset - total),
            limit=query.limit - len(found),
        )
        ids = (
            groups.group_member_ids(tenant=request.tenant, groups=page)
            if members_wanted(request)
            else {}
        )
        found += [shape(request, group_resource(request, g, ids.get(g.id))) for g in page]
        total += counted
    return listed(found, total=total, start=query.start)


def unknown(request, rest=""):
    raise ScimError(404, "No such SCIM resource.")
