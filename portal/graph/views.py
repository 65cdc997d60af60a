"""The calls of the Graph-compatible API (docs/api.md). Each view reads its request, calls the
services the portal calls, and answers in Graph's shapes; every failure is Graph's envelope."""

from __future__ import annotations

import json
import logging
import uuid

from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from licensing import services
from licensing.errors import LicensingError
from licensing.models import (
    SEAT_STATES,
    DirectoryUser,
    Group,
    GroupMembership,
    LicenseState,
    Product,
    UserLicense,
)
from licensing.queries import tenant_products
from portal.graph import errors, odata, shapes
from portal.graph.auth import authenticate
from portal.graph.errors import GraphError, bad_request

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
            reply = view(request, **kwargs)
        except GraphError as error:
            reply = errors.response(request, error)
        except LicensingError as error:
            reply = errors.response(request, errors.from_licensing(error))
        except Http404:
            reply = errors.response(request, errors.not_found(request.path))
        except Exception:
            logger.exception("Graph API failure on %s %s", request.method, request.path)
            reply = errors.response(
                request, GraphError(500, "generalException", "An internal server error occurred.")
            )
        reply["request-id"] = errors.request_id(request)
        reply["client-request-id"] = request.headers.get("client-request-id") or reply["request-id"]
        reply["Cache-Control"] = "no-store"
        return reply

    return dispatch


@csrf_exempt
def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    segment = rest.split("/")[0] if rest else ""
    reply = errors.response(
        request,
        GraphError(404, errors.NOT_FOUND, f"Resource not found for the segment '{segment[:80]}'."),
    )
    reply["request-id"] = errors.request_id(request)
    return reply


# -- reading the request ------------------------------------------------------------------------


def body(request: HttpRequest) -> dict:
    if request.content_type != "application/json":
        raise GraphError(
            415,
            errors.BAD_REQUEST,
            "The request body must be JSON (Content-Type: application/json).",
        )
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."
        ) from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def guid(value, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise bad_request(f"Invalid object identifier '{str(value)[:80]}'.") from None


def find_user(request: HttpRequest, key: str) -> DirectoryUser:
    """A user of the app's tenant by id or userPrincipalName; deleted users are not found."""
    people = DirectoryUser.objects.active().filter(tenant=request.tenant)
    try:
        found = people.filter(public_id=uuid.UUID(key)).first()
    except ValueError:
        found = people.filter(user_principal_name__iexact=key).first()
    if found is None:
        raise errors.not_found(key[:120])
    return found


def find_group(request: HttpRequest, key: str) -> Group:
    try:
        found = Group.objects.filter(tenant=request.tenant, public_id=uuid.UUID(key)).first()
    except ValueError:
        raise bad_request(f"Invalid object identifier '{key[:80]}'.") from None
    if found is None:
        raise errors.not_found(key)
    return found


def products_by_sku(skus) -> dict[str, Product]:
    wanted = {}
    for sku in skus:
        wanted[str(guid(sku, "skuId"))] = None
    found = {str(p.sku_id): p for p in Product.objects.filter(sku_id__in=list(wanted))}
    for sku in wanted:
        if sku not in found:
            raise bad_request(f"License {sku} does not correspond to a valid company License.")
    return found


def license_changes(data: dict, kind: str) -> tuple[dict, list]:
    """``addLicenses`` and ``removeLicenses`` as {product: disabled plans} and [product]."""
    add, remove = data.get("addLicenses"), data.get("removeLicenses")
    if not isinstance(add, list):
        raise bad_request(
            f"Invalid value specified for property 'addLicenses' of resource '{kind}'."
        )
    if not isinstance(remove, list):
        raise bad_request(
            f"Invalid value specified for property 'removeLicenses' of resource '{kind}'."
        )
    for item in add:
        if not isinstance(item, dict) or "skuId" not in item:
            raise bad_request(
                f"Invalid value specified for property 'addLicenses' of resource '{kind}'."
            )
        if not isinstance(item.get("disabledPlans") or [], list):
            raise bad_request("Invalid value specified for property 'disabledPlans'.")
    products = products_by_sku([a["skuId"] for a in add] + remove)
    adding = {
        products[str(guid(a["skuId"], "skuId"))]: [
            str(guid(p, "servicePlanId")) for p in (a.get("disabledPlans") or [])
        ]
        for a in add
    }
    removing = [products[str(guid(s, "skuId"))] for s in remove]
    return adding, removing


def one(request: HttpRequest, item: dict, collection: str | None = None) -> JsonResponse:
    """One entity, its ``@odata.context`` naming the collection it belongs to."""
    collection = collection or request.path.removeprefix("/v1.0/").split("/")[0]
    select = request.GET.get("$select")
    shape = f"({select})" if select else ""
    return JsonResponse(
        {
            "@odata.context": request.build_absolute_uri(
                f"/v1.0/$metadata#{collection}{shape}/$entity"
            ),
            **item,
        }
    )


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
    sku = str(guid(sku, "skuId"))
    products = [p for p in tenant_products(request.tenant) if str(p.sku_id) == sku]
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
    size = odata.top(request)
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
    after = odata.skip_after(request)
    if after is not None:
        people = people.filter(pk__gt=int(after))
    found = list(people.order_by("pk").values(*shapes.USER_COLUMNS)[: size + 1])
    more = len(found) > size
    found = found[:size]
    return JsonResponse(
        odata.page(request, shapes.users(found, fields), size, found[-1]["id"] if more else None)
    )


def get_user(request: HttpRequest, key: str) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select"})
    fields = odata.select(request, shapes.USER_FIELDS, shapes.USER_DEFAULT, "user")
    return one(request, shapes.users([find_user(request, key)], fields)[0])


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
    user.refresh_from_db()
    return one(request, shapes.users([user], shapes.USER_DEFAULT)[0])


def user_license_details(request: HttpRequest, key: str) -> JsonResponse:
    user = find_user(request, key)
    return JsonResponse(
        {"@odata.context": odata.context(request), "value": shapes.license_details(user)}
    )


def reprocess_user(request: HttpRequest, key: str) -> JsonResponse:
    user = find_user(request, key)
    services.reprocess_user(tenant=request.tenant, user=user, actor=request.app.actor)
    return one(request, shapes.users([user], shapes.USER_DEFAULT)[0])


# -- groups -------------------------------------------------------------------------------------

GROUP_FILTERS = {"errors": odata.equals("hasMembersWithLicenseErrors", (odata.ast.Boolean,))}


def list_groups(request: HttpRequest) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select", "$top", "$filter", "$skiptoken"})
    size = odata.top(request)
    fields = odata.select(request, shapes.GROUP_FIELDS, shapes.GROUP_DEFAULT, "group")
    found = Group.objects.filter(tenant=request.tenant)
    for condition in odata.parse_filter(request, GROUP_FILTERS):
        in_error = UserLicense.objects.filter(via_group=OuterRef("pk"), state=LicenseState.ERROR)
        wanted = str(condition.value).lower() == "true"
        found = found.filter(Exists(in_error) if wanted else ~Exists(in_error))
    after = odata.skip_after(request)
    if after is not None:
        found = found.filter(pk__gt=int(after))
    found = list(found.order_by("pk")[: size + 1])
    more = len(found) > size
    found = found[:size]
    return JsonResponse(
        odata.page(request, shapes.groups(found, fields), size, found[-1].pk if more else None)
    )


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
    group.refresh_from_db()
    reply = one(request, shapes.groups([group], shapes.GROUP_DEFAULT)[0])
    reply.status_code = 202
    reply["Location"] = request.build_absolute_uri(f"/v1.0/groups/{group.public_id}")
    return reply


def _members_page(request: HttpRequest, people) -> JsonResponse:
    odata.refuse_unsupported(request, {"$select", "$top", "$skiptoken"})
    size = odata.top(request)
    after = odata.skip_after(request)
    if after is not None:
        people = people.filter(pk__gt=int(after))
    found = list(people.order_by("pk").values(*shapes.USER_COLUMNS)[: size + 1])
    more = len(found) > size
    found = found[:size]
    return JsonResponse(
        odata.page(
            request, shapes.directory_objects(found), size, found[-1]["id"] if more else None
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
    user = find_user(request, str(guid(member_id, "id")))
    if GroupMembership.objects.filter(group=group, user=user).exists():
        raise bad_request(
            "One or more added object references already exist for the following modified "
            "properties: 'members'."
        )
    services.group_add_members(
        tenant=request.tenant, group=group, users=[user], actor=request.app.actor
    )
    return HttpResponse(status=204)


def remove_member(request: HttpRequest, key: str, member: str) -> HttpResponse:
    group = find_group(request, key)
    try:
        user = find_user(request, str(guid(member, "id")))
    except GraphError:
        raise errors.not_found(member) from None
    if not GroupMembership.objects.filter(group=group, user=user).exists():
        raise errors.not_found(member)
    services.group_remove_members(
        tenant=request.tenant, group=group, users=[user], actor=request.app.actor
    )
    return HttpResponse(status=204)
