"""The calls of the Graph-compatible API (docs/api.md). Each view reads its request, calls the
services the portal calls, and answers in Graph's shapes; every failure is Graph's envelope."""

from __future__ import annotations

import logging

from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from licensing import services
from licensing.errors import LicensingError, NameTaken, NotFound, database_unavailable
from licensing.models import DirectoryUser, Group, UserSource
from licensing.selectors.audit import events_page
from licensing.selectors.groups import (
    assigned_licenses,
    group_members_page,
    groups_count,
    groups_page,
    is_member,
)
from licensing.selectors.groups import group as tenant_group
from licensing.selectors.licenses import user_license_details, user_licenses
from licensing.selectors.products import subscribed_products
from licensing.selectors.users import (
    active_user,
    active_users_count,
    active_users_json,
    active_users_page,
    can_write_users_json,
    deleted_user,
    deleted_users_page,
)
from licensing.services.directory import unique_violation
from portal import json_body
from portal.graph import PREFIX, errors, odata, parsing, shapes
from portal.graph.auth import authenticate
from portal.graph.errors import GraphError, bad_request
from portal.unavailable import response as unavailable

logger = logging.getLogger(__name__)


def endpoint(**methods):
    """A URL of the API: ``GET=(view, write)``, … per method. Authenticates the app, checks
    its permission, and turns every failure into Graph's envelope."""

    @csrf_exempt
    def dispatch(request: HttpRequest, **kwargs) -> HttpResponse:
        return answered(request, lambda: _call(request, methods, kwargs))

    dispatch.methods = tuple(methods)  # read by the hostile-input suite, which walks the URLs
    return dispatch


def answered(request: HttpRequest, call) -> HttpResponse:
    """What ``call()`` answers, or Graph's envelope for what it raised (the service
    unavailable page when the database is), with what every answer carries (``finish``)."""
    try:
        reply = call()
    except GraphError as error:
        reply = errors.response(request, error)
    except LicensingError as error:
        reply = errors.response(request, errors.from_licensing(error))
    except Http404:
        reply = errors.response(request, errors.not_found(request.path))
    except Exception as error:
        if database_unavailable(error):
            return unavailable(request)
        logger.exception("Graph API failure on %s %s", request.method, request.path)
        reply = errors.response(
            request, GraphError(500, "generalException", "An internal server error occurred.")
        )
    return finish(request, reply)


def _call(request: HttpRequest, methods: dict, kwargs: dict) -> HttpResponse:
    """The view for the request's method, called by an app allowed to make the call."""
    if request.method not in methods:
        raise GraphError(
            405,
            errors.BAD_REQUEST,
            "Specified HTTP method is not allowed for the request target.",
            headers={"Allow": ", ".join(methods)},
        )
    view, write = methods[request.method]
    request.app = authenticate(request, write=write)
    request.tenant = request.app.tenant
    for value in kwargs.values():
        # An id or a userPrincipalName never holds one (a NUL reached a query: a 500).
        if json_body.NOT_TEXT.search(value) or "\t" in value or "\n" in value:
            raise bad_request(f"Invalid object identifier '{parsing.printable(value)}'.")
    return view(request, **kwargs)


def finish(request: HttpRequest, reply: HttpResponse) -> HttpResponse:
    """What every answer of the API carries: its request ids, and no caching."""
    reply["request-id"] = errors.request_id(request)
    reply["client-request-id"] = request.headers.get("client-request-id") or reply["request-id"]
    reply["Cache-Control"] = "no-store"
    return reply


@csrf_exempt
def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    segment = rest.split("/")[0] if rest else ""
    reply = errors.response(
        request,
        GraphError(404, errors.NOT_FOUND, f"Resource not found for the segment '{segment[:80]}'."),
    )
    return finish(request, reply)


def find_user(request: HttpRequest, key: str) -> DirectoryUser:
    """A user of the app's tenant by id or userPrincipalName; deleted users are not found."""
    found = active_user(tenant=request.tenant, key=key)
    if found is None:
        raise errors.not_found(key[:120])
    return found


def find_group(request: HttpRequest, key: str) -> Group:
    found = tenant_group(tenant=request.tenant, public_id=parsing.guid(key))
    if found is None:
        raise errors.not_found(key)
    return found


def one(request: HttpRequest, item: dict) -> JsonResponse:
    return JsonResponse({"@odata.context": odata.context(request, entity=True), **item})


# -- subscribedSkus -----------------------------------------------------------------------------


def list_skus(request: HttpRequest) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select"})
    found = subscribed_products(tenant=request.tenant)
    return JsonResponse(
        {
            "@odata.context": odata.context(request),
            "value": shapes.subscribed_skus(request.tenant, found),
        }
    )


def get_sku(request: HttpRequest, key: str) -> JsonResponse:
    tenant_id, _, sku = key.partition("_")
    if tenant_id.lower() != str(request.tenant.public_id):
        raise errors.not_found(key)
    found = subscribed_products(tenant=request.tenant, sku_id=parsing.guid(sku))
    if not found:
        raise errors.not_found(key)
    return one(request, shapes.subscribed_skus(request.tenant, found)[0])


# -- users --------------------------------------------------------------------------------------


def shaped_users(request: HttpRequest, people: list, fields: list[str]) -> list[dict]:
    """Users (rows or model instances) in Graph's shape; their licenses are read in one more
    query when a licensing property is asked for."""
    rows = shapes.user_rows(people, fields)
    licenses = None
    if shapes.USER_LICENSING.intersection(fields):
        located = shapes.USER_LOCATED.intersection(fields)
        licenses = user_licenses(
            tenant=request.tenant,
            user_ids=[u["id"] for u in rows],
            every_path="licenseAssignmentStates" in fields,
            usage_locations={u["id"]: u["usage_location"] for u in rows} if located else None,
        )
    return shapes.users(rows, fields, licenses)


USER_QUERIES = {"$select", "$top", "$filter", "$skiptoken", "$count", "$search", "$orderby"}


def _user_query(request: HttpRequest) -> dict:
    """The conditions of ``$filter`` and ``$search`` on users, as the selectors take them."""
    return {
        **parsing.user_conditions(request),
        "search": odata.search(request, parsing.USER_SEARCH),
    }


def list_users(request: HttpRequest) -> HttpResponse:
    odata.refuse_unsupported(request, USER_QUERIES)
    fields = odata.select(request, shapes.USER_FIELDS, shapes.USER_DEFAULT, "user")
    where = _user_query(request)
    by_name = odata.by_name(request)
    count = (
        active_users_count(tenant=request.tenant, **where) if odata.count_wanted(request) else None
    )
    after, size = odata.position(request)
    if can_write_users_json(fields=fields):
        items, position = active_users_json(
            tenant=request.tenant, fields=fields, after=after, size=size, by_name=by_name, **where
        )
        return odata.written_page(request, items, position, count)
    found = active_users_page(
        tenant=request.tenant,
        columns=shapes.user_columns(fields),
        after=after,
        size=size,
        by_name=by_name,
        **where,
    )
    return JsonResponse(
        odata.keyset_page(
            request, found, size, lambda page: shaped_users(request, page, fields), count
        )
    )


def _count(request: HttpRequest, counted: int) -> HttpResponse:
    return HttpResponse(str(counted), content_type="text/plain; charset=utf-8")


def count_users(request: HttpRequest) -> HttpResponse:
    """``GET /users/$count``: how many users the ``$filter`` and ``$search`` find, as text;
    an advanced query (``ConsistencyLevel: eventual``), as Graph."""
    odata.refuse_unsupported(request, {"$filter", "$search"})
    if not odata.eventual(request):
        raise bad_request(odata.COUNT_UNSUPPORTED)
    return _count(request, active_users_count(tenant=request.tenant, **_user_query(request)))


def create_user(request: HttpRequest) -> JsonResponse:
    """``POST /users``: a cloud user, as the portal creates one; ``201`` and the user."""
    created = parsing.new_user(parsing.body(request))
    try:
        user = services.user_create(
            tenant=request.tenant, source=UserSource.CLOUD, actor=request.app.actor, **created
        )
    except NameTaken:
        raise GraphError(
            400,
            errors.BAD_REQUEST,
            "Another object with the same value for property userPrincipalName already exists.",
            details=[{"code": "ObjectConflict", "target": "userPrincipalName"}],
        ) from None
    reply = one(request, shaped_users(request, [user], shapes.USER_DEFAULT)[0])
    reply.status_code = 201
    reply["Location"] = request.build_absolute_uri(f"{PREFIX}users/{user.public_id}")
    return reply


def delete_user(request: HttpRequest, key: str) -> HttpResponse:
    """``DELETE /users/{id}``: a soft delete, as the portal's (docs/rules.md §7): the user's
    licenses are Suspended and keep their seats for 30 days; ``204``."""
    user = find_user(request, key)
    services.user_soft_delete(tenant=request.tenant, user=user, actor=request.app.actor)
    return HttpResponse(status=204)


def get_user(request: HttpRequest, key: str) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select"})
    fields = odata.select(request, shapes.USER_FIELDS, shapes.USER_DEFAULT, "user")
    return one(request, shaped_users(request, [find_user(request, key)], fields)[0])


def update_user(request: HttpRequest, key: str) -> HttpResponse:
    user = find_user(request, key)
    change = parsing.usage_location_change(parsing.body(request))
    if change:
        try:
            services.user_set_usage_location(
                tenant=request.tenant, user=user, **change, actor=request.app.actor
            )
        except LicensingError as error:
            raise bad_request(
                f"Invalid value specified for property 'usageLocation' of resource 'User'. {error}"
            ) from None
    return HttpResponse(status=204)


def assign_user(request: HttpRequest, key: str) -> JsonResponse:
    user = find_user(request, key)
    add, remove = parsing.license_changes(parsing.body(request), "User")
    services.direct_licenses_change(
        tenant=request.tenant, users=[user], add=add, remove=remove, actor=request.app.actor
    )
    return one(request, shaped_users(request, [user], shapes.USER_DEFAULT)[0])


def license_details(request: HttpRequest, key: str) -> JsonResponse:
    user = find_user(request, key)
    details = user_license_details(tenant=request.tenant, user=user)
    return JsonResponse(
        {
            "@odata.context": odata.context(request),
            "value": shapes.license_details(user.public_id, details),
        }
    )


def reprocess_user(request: HttpRequest, key: str) -> JsonResponse:
    user = find_user(request, key)
    services.reprocess_user(tenant=request.tenant, user=user, actor=request.app.actor)
    return one(request, shaped_users(request, [user], shapes.USER_DEFAULT)[0])


# -- groups -------------------------------------------------------------------------------------


def shaped_groups(request: HttpRequest, found: list[Group], fields: list[str]) -> list[dict]:
    """Groups in Graph's shape; their licenses are read in one more query when asked for."""
    assigned = None
    if "assignedLicenses" in fields:
        assigned = assigned_licenses(tenant=request.tenant, groups=found)
    return shapes.groups(found, fields, assigned)


GROUP_QUERIES = {"$select", "$top", "$filter", "$skiptoken", "$count", "$search", "$orderby"}


def _group_query(request: HttpRequest) -> dict:
    return {
        **parsing.group_conditions(request),
        "search": odata.search(request, parsing.GROUP_SEARCH),
    }


def list_groups(request: HttpRequest) -> JsonResponse:
    odata.refuse_unsupported(request, GROUP_QUERIES)
    fields = odata.select(request, shapes.GROUP_FIELDS, shapes.GROUP_DEFAULT, "group")
    where = _group_query(request)
    by_name = odata.by_name(request)
    count = groups_count(tenant=request.tenant, **where) if odata.count_wanted(request) else None
    after, size = odata.position(request)
    found = groups_page(tenant=request.tenant, after=after, size=size, by_name=by_name, **where)
    return JsonResponse(
        odata.keyset_page(
            request, found, size, lambda page: shaped_groups(request, page, fields), count
        )
    )


def count_groups(request: HttpRequest) -> HttpResponse:
    """``GET /groups/$count``, as ``/users/$count``."""
    odata.refuse_unsupported(request, {"$filter", "$search"})
    if not odata.eventual(request):
        raise bad_request(odata.COUNT_UNSUPPORTED)
    return _count(request, groups_count(tenant=request.tenant, **_group_query(request)))


def get_group(request: HttpRequest, key: str) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select"})
    fields = odata.select(request, shapes.GROUP_FIELDS, shapes.GROUP_DEFAULT, "group")
    return one(request, shaped_groups(request, [find_group(request, key)], fields)[0])


def update_group(request: HttpRequest, key: str) -> HttpResponse:
    """``PATCH /groups/{id}``: its name and description, as the portal changes them; ``204``."""
    group = find_group(request, key)
    change = parsing.group_change(parsing.body(request))
    if change:
        services.group_update(tenant=request.tenant, group=group, actor=request.app.actor, **change)
    return HttpResponse(status=204)


def assign_group(request: HttpRequest, key: str) -> JsonResponse:
    group = find_group(request, key)
    add, remove = parsing.license_changes(parsing.body(request), "Group")
    services.group_licenses_change(
        tenant=request.tenant, group=group, add=add, remove=remove, actor=request.app.actor
    )
    reply = one(request, shaped_groups(request, [group], shapes.GROUP_DEFAULT)[0])
    reply.status_code = 202
    reply["Location"] = request.build_absolute_uri(f"/v1.0/groups/{group.public_id}")
    return reply


def _members_page(request: HttpRequest, group: Group, *, in_error: bool) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select", "$top", "$skiptoken"})
    after, size = odata.position(request)
    found = group_members_page(
        tenant=request.tenant,
        group=group,
        columns=shapes.user_columns(shapes.DIRECTORY_OBJECT_FIELDS),
        after=after,
        size=size,
        in_error=in_error,
    )
    return JsonResponse(odata.keyset_page(request, found, size, shapes.members))


def group_members(request: HttpRequest, key: str) -> JsonResponse:
    return _members_page(request, find_group(request, key), in_error=False)


def members_with_errors(request: HttpRequest, key: str) -> JsonResponse:
    return _members_page(request, find_group(request, key), in_error=True)


def add_member(request: HttpRequest, key: str) -> HttpResponse:
    group = find_group(request, key)
    user = find_user(request, str(parsing.guid(parsing.member_ref(parsing.body(request)))))
    already = bad_request(
        "One or more added object references already exist for the following modified "
        "properties: 'members'."
    )
    if is_member(tenant=request.tenant, group=group, user=user):
        raise already
    try:
        services.group_add_members(
            tenant=request.tenant, group=group, users=[user], actor=request.app.actor
        )
    except IntegrityError as error:
        # A concurrent request added the member after our check: the constraint decides.
        if unique_violation(error, "uniq_group_member"):
            raise already from None
        raise
    return HttpResponse(status=204)


def remove_member(request: HttpRequest, key: str, member: str) -> HttpResponse:
    group = find_group(request, key)
    try:
        user = find_user(request, str(parsing.guid(member)))
        services.group_remove_members(
            tenant=request.tenant, group=group, users=[user], actor=request.app.actor
        )
    except (GraphError, NotFound):  # not a user of the tenant, or not a member
        raise errors.not_found(member) from None
    return HttpResponse(status=204)


# -- deleted items ------------------------------------------------------------------------------

DELETED_USER_DEFAULT = [*shapes.USER_DEFAULT, "deletedDateTime"]


def find_deleted(request: HttpRequest, key: str) -> DirectoryUser:
    """A soft-deleted user of the app's tenant by id; a user who is not deleted, or another
    tenant's, is not found."""
    found = deleted_user(tenant=request.tenant, public_id=parsing.guid(key))
    if found is None:
        raise errors.not_found(key)
    return found


def _deleted_item(request: HttpRequest, user: DirectoryUser) -> JsonResponse:
    """A deleted item as Graph answers one: a directoryObject saying its type."""
    return JsonResponse(
        {
            "@odata.context": request.build_absolute_uri(
                f"{PREFIX}$metadata#directoryObjects/$entity"
            ),
            "@odata.type": "#microsoft.graph.user",
            **shaped_users(request, [user], DELETED_USER_DEFAULT)[0],
        }
    )


def deleted_users(request: HttpRequest) -> JsonResponse:
    """``GET /directory/deletedItems/microsoft.graph.user``: the tenant's soft-deleted users,
    paged as ``/users``, with ``deletedDateTime``."""
    odata.refuse_unsupported(request, {"$select", "$top", "$skiptoken"})
    fields = odata.select(request, shapes.USER_FIELDS, DELETED_USER_DEFAULT, "user")
    after, size = odata.position(request)
    found = deleted_users_page(
        tenant=request.tenant, columns=shapes.user_columns(fields), after=after, size=size
    )
    return JsonResponse(
        odata.keyset_page(request, found, size, lambda page: shaped_users(request, page, fields))
    )


def get_deleted(request: HttpRequest, key: str) -> JsonResponse:
    odata.refuse_unsupported(request, set())
    return _deleted_item(request, find_deleted(request, key))


# What POST …/restore may carry (Graph's); the portal's users keep their name when restored.
RESTORE_BODY = {"autoReconcileProxyConflict": bool}


def restore_deleted(request: HttpRequest, key: str) -> JsonResponse:
    """``POST /directory/deletedItems/{id}/restore``: the user and their licenses come back,
    as from the portal's Deleted users; ``200`` and the user."""
    user = find_deleted(request, key)
    if request.body:
        data = parsing.typed(parsing.body(request), "directoryObject")
        for name, value in data.items():
            if name not in RESTORE_BODY:
                raise bad_request(
                    f"Property '{parsing.printable(name)[:60]}' does not exist as a declared "
                    "property or extension property."
                )
            if not isinstance(value, RESTORE_BODY[name]):
                raise bad_request(f"Invalid value specified for property '{name}'.")
    services.user_restore(tenant=request.tenant, user=user, actor=request.app.actor)
    return _deleted_item(request, user)


def purge_deleted(request: HttpRequest, key: str) -> HttpResponse:
    """``DELETE /directory/deletedItems/{id}``: gone for good, its seats freed; ``204``."""
    user = find_deleted(request, key)
    services.user_delete_permanently(tenant=request.tenant, user=user, actor=request.app.actor)
    return HttpResponse(status=204)


# -- audit logs ---------------------------------------------------------------------------------


def directory_audits(request: HttpRequest) -> JsonResponse:
    """``GET /auditLogs/directoryAudits``: the tenant's audit log, newest first, in Graph's
    shape; ``$filter`` on activityDateTime, activityDisplayName and category."""
    odata.refuse_unsupported(request, {"$top", "$filter", "$skiptoken"})
    where = parsing.audit_conditions(request)
    after, size = odata.position(request)
    found = events_page(tenant=request.tenant, after=after, size=size, **where)
    return JsonResponse(odata.keyset_page(request, found, size, shapes.directory_audits))
