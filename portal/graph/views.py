"""The calls of the Graph-compatible API (docs/api.md). Each view reads its request, calls the
services the portal calls, and answers in Graph's shapes; every failure is Graph's envelope."""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, connection
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from licensing import services
from licensing.errors import InvalidInput, LicensingError, NotFound, database_unavailable
from licensing.models import (
    SEAT_STATES,
    DirectoryUser,
    Group,
    GroupMembership,
    LicenseState,
    Product,
    UserLicense,
)
from licensing.selectors.products import tenant_products
from licensing.services.base import parse_guid
from licensing.services.directory import unique_violation
from portal import json_body
from portal.graph import errors, odata, shapes, sql_pages
from portal.graph.auth import authenticate
from portal.graph.errors import GraphError, bad_request
from portal.unavailable import response as unavailable

logger = logging.getLogger(__name__)


def endpoint(**methods):
    """A URL of the API: ``GET=(view, write)``, … per method. Authenticates the app, checks
    its permission, and turns every failure into Graph's envelope."""

    @csrf_exempt
    def dispatch(request: HttpRequest, **kwargs) -> HttpResponse:
        try:
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
                    raise bad_request(f"Invalid object identifier '{_printable(value)}'.")
            reply = view(request, **kwargs)
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
        return _finish(request, reply)

    dispatch.methods = tuple(methods)  # read by the hostile-input suite, which walks the URLs
    return dispatch


def _printable(value: str) -> str:
    return json_body.NOT_TEXT.sub("?", value)[:80]


def _finish(request: HttpRequest, reply: HttpResponse) -> HttpResponse:
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
    return _finish(request, reply)


# -- reading the request ------------------------------------------------------------------------


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
        raise bad_request(f"Invalid object identifier '{_printable(str(value))}'.") from None


def find_user(request: HttpRequest, key: str) -> DirectoryUser:
    """A user of the app's tenant by id or userPrincipalName; deleted users are not found.
    Every call about a user starts here, so it is one plain statement (the ORM's query
    building cost three times the query)."""
    try:
        condition, value = "public_id = %s", _column(DirectoryUser, "public_id", uuid.UUID(key))
    except ValueError:
        condition, value = "UPPER(user_principal_name) = UPPER(%s)", key
    found = next(
        iter(
            DirectoryUser.objects.raw(
                f"SELECT * FROM {DirectoryUser._meta.db_table} WHERE tenant_id = %s "
                f"AND {condition} AND soft_deleted_at IS NULL ORDER BY id LIMIT 1",
                [request.tenant.id, value],
            )
        ),
        None,
    )
    if found is None:
        raise errors.not_found(key[:120])
    return found


def _column(model, field: str, value):
    """``value`` as the database stores it in this column (a UUID is text on SQLite)."""
    return model._meta.get_field(field).get_db_prep_value(value, connection)


def find_group(request: HttpRequest, key: str) -> Group:
    found = Group.objects.filter(tenant=request.tenant, public_id=guid(key)).first()
    if found is None:
        raise errors.not_found(key)
    return found


def products_by_sku(skus: list[uuid.UUID]) -> dict[uuid.UUID, Product]:
    if not skus:
        return {}
    found = {
        p.sku_id: p
        for p in Product.objects.raw(
            f"SELECT * FROM {Product._meta.db_table} "
            f"WHERE sku_id IN ({', '.join('%s' for _ in skus)})",
            [_column(Product, "sku_id", sku) for sku in skus],
        )
    }
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
    products = products_by_sku(adding + removing)
    return (
        {
            products[sku]: [str(guid(plan)) for plan in item.get("disabledPlans") or []]
            for sku, item in zip(adding, add, strict=True)
        },
        [products[sku] for sku in removing],
    )


def one(request: HttpRequest, item: dict) -> JsonResponse:
    return JsonResponse({"@odata.context": odata.context(request, entity=True), **item})


# -- subscribedSkus -----------------------------------------------------------------------------


def list_skus(request: HttpRequest) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select"})
    return JsonResponse(
        {"@odata.context": odata.context(request), "value": shapes.subscribed_skus(request.tenant)}
    )


def get_sku(request: HttpRequest, key: str) -> JsonResponse:
    tenant_id, _, sku = key.partition("_")
    if tenant_id.lower() != str(request.tenant.public_id):
        raise errors.not_found(key)
    sku = guid(sku)
    products = [p for p in tenant_products(tenant=request.tenant) if p.sku_id == sku]
    if not products:
        raise errors.not_found(key)
    return one(request, shapes.subscribed_skus(request.tenant, products)[0])


# -- users --------------------------------------------------------------------------------------

USER_FILTERS = {
    "sku": odata.any_sku,
    "licensed": odata.license_count,
    "upn": odata.equals("userPrincipalName", (odata.ast.String,)),
    "location": odata.equals("usageLocation", (odata.ast.String,)),
}


def list_users(request: HttpRequest) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select", "$top", "$filter", "$skiptoken", "$count"})
    fields = odata.select(request, shapes.USER_FIELDS, shapes.USER_DEFAULT, "user")
    people = DirectoryUser.objects.active().filter(tenant=request.tenant)
    for condition in odata.parse_filter(request, USER_FILTERS):
        seats = UserLicense.objects.filter(user=OuterRef("pk"), state__in=SEAT_STATES)
        if condition.field == "sku":
            people = people.filter(Exists(seats.filter(product__sku_id=condition.value)))
        elif condition.field == "licensed":
            people = people.filter(Exists(seats) if condition.value else ~Exists(seats))
        elif condition.field == "upn":
            people = people.filter(user_principal_name__iexact=condition.value)
        else:
            people = people.filter(usage_location=str(condition.value).upper())
    if sql_pages.can_write(fields):
        return sql_pages.users_page(request, people, fields)
    return JsonResponse(
        odata.keyset_page(
            request,
            people.values(*shapes.user_columns(fields)),
            lambda found: shapes.users(found, fields, country=request.tenant.country),
        )
    )


def get_user(request: HttpRequest, key: str) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select"})
    fields = odata.select(request, shapes.USER_FIELDS, shapes.USER_DEFAULT, "user")
    return one(
        request, shapes.users([find_user(request, key)], fields, country=request.tenant.country)[0]
    )


def update_user(request: HttpRequest, key: str) -> HttpResponse:
    user = find_user(request, key)
    data = body(request)
    unknown = sorted(set(data) - {"usageLocation"})
    if unknown:
        raise bad_request(
            f"Property '{unknown[0][:60]}' cannot be changed through this API: only "
            "usageLocation can."
        )
    if "usageLocation" in data:
        location = data["usageLocation"]
        if location is not None and not isinstance(location, str):
            raise bad_request(
                "Invalid value specified for property 'usageLocation' of resource 'User'."
            )
        try:
            services.user_set_usage_location(
                tenant=request.tenant,
                user=user,
                usage_location=location or "",
                actor=request.app.actor,
            )
        except LicensingError as error:
            raise bad_request(
                f"Invalid value specified for property 'usageLocation' of resource 'User'. {error}"
            ) from None
    return HttpResponse(status=204)


def assign_user(request: HttpRequest, key: str) -> JsonResponse:
    user = find_user(request, key)
    add, remove = license_changes(body(request), "User")
    services.direct_licenses_change(
        tenant=request.tenant, users=[user], add=add, remove=remove, actor=request.app.actor
    )
    return one(request, shapes.users([user], shapes.USER_DEFAULT)[0])


def user_license_details(request: HttpRequest, key: str) -> JsonResponse:
    user = find_user(request, key)
    return JsonResponse(
        {
            "@odata.context": odata.context(request),
            "value": shapes.license_details(user, request.tenant.country),
        }
    )


def reprocess_user(request: HttpRequest, key: str) -> JsonResponse:
    user = find_user(request, key)
    services.reprocess_user(tenant=request.tenant, user=user, actor=request.app.actor)
    return one(request, shapes.users([user], shapes.USER_DEFAULT)[0])


# -- groups -------------------------------------------------------------------------------------

GROUP_FILTERS = {"errors": odata.equals("hasMembersWithLicenseErrors", (odata.ast.Boolean,))}


def list_groups(request: HttpRequest) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select", "$top", "$filter", "$skiptoken"})
    fields = odata.select(request, shapes.GROUP_FIELDS, shapes.GROUP_DEFAULT, "group")
    found = Group.objects.filter(tenant=request.tenant)
    for condition in odata.parse_filter(request, GROUP_FILTERS):
        in_error = UserLicense.objects.filter(via_group=OuterRef("pk"), state=LicenseState.ERROR)
        wanted = str(condition.value).lower() == "true"
        found = found.filter(Exists(in_error) if wanted else ~Exists(in_error))
    return JsonResponse(odata.keyset_page(request, found, lambda page: shapes.groups(page, fields)))


def get_group(request: HttpRequest, key: str) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select"})
    fields = odata.select(request, shapes.GROUP_FIELDS, shapes.GROUP_DEFAULT, "group")
    return one(request, shapes.groups([find_group(request, key)], fields)[0])


def assign_group(request: HttpRequest, key: str) -> JsonResponse:
    group = find_group(request, key)
    add, remove = license_changes(body(request), "Group")
    services.group_licenses_change(
        tenant=request.tenant, group=group, add=add, remove=remove, actor=request.app.actor
    )
    reply = one(request, shapes.groups([group], shapes.GROUP_DEFAULT)[0])
    reply.status_code = 202
    reply["Location"] = request.build_absolute_uri(f"/v1.0/groups/{group.public_id}")
    return reply


def _members_page(request: HttpRequest, people) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select", "$top", "$skiptoken"})
    return JsonResponse(
        odata.keyset_page(
            request,
            people.values(*shapes.user_columns(shapes.DIRECTORY_OBJECT_FIELDS)),
            shapes.directory_objects,
        )
    )


def group_members(request: HttpRequest, key: str) -> JsonResponse:
    group = find_group(request, key)
    return _members_page(request, DirectoryUser.objects.filter(memberships__group=group))


def members_with_errors(request: HttpRequest, key: str) -> JsonResponse:
    group = find_group(request, key)
    errors_here = UserLicense.objects.filter(
        user=OuterRef("pk"), via_group=group, state=LicenseState.ERROR
    )
    return _members_page(
        request, DirectoryUser.objects.filter(memberships__group=group).filter(Exists(errors_here))
    )


def add_member(request: HttpRequest, key: str) -> HttpResponse:
    group = find_group(request, key)
    data = body(request)
    ref = data.get("@odata.id")
    if not isinstance(ref, str) or not ref.strip("/"):
        raise bad_request("Invalid value specified for property '@odata.id'.")
    member_id = ref.rstrip("/").rsplit("/", 1)[-1]
    user = find_user(request, str(guid(member_id)))
    already = bad_request(
        "One or more added object references already exist for the following modified "
        "properties: 'members'."
    )
    if GroupMembership.objects.filter(group=group, user=user).exists():
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
        user = find_user(request, str(guid(member)))
        services.group_remove_members(
            tenant=request.tenant, group=group, users=[user], actor=request.app.actor
        )
    except (GraphError, NotFound):  # not a user of the tenant, or not a member
        raise errors.not_found(member) from None
    return HttpResponse(status=204)
