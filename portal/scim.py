"""SCIM 2.0 provisioning (RFC 7643/7644) per tenant, as Entra ID and Okta speak it
(docs/provisioning.md): ``/scim/v2/<tenant id>/`` with Users, Groups and discovery.

Every change goes through the same services as the portal, in one transaction per request,
audited with the provisioning client as actor. Filters are the forms identity providers send
(``attr eq "value"`` joined by ``and``), parsed here: the SCIM filter library pins a parser
version that the OData one cannot share (docs/provisioning.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from licensing import services
from licensing.errors import LicensingError, NameTaken, NotFound
from licensing.models import DirectoryUser, Group, GroupMembership, UserSource
from licensing.services.directory import clean_text
from licensing.services.scim import PROVISIONING_ACTOR
from portal import json_body

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
CONTENT_TYPE = "application/scim+json"
MAX_COUNT = 1000
# A request's body (docs/provisioning.md, "Limits"): room for 20,000 members in one PUT or
# PATCH; Entra ID and Okta send far fewer at a time.
MAX_BODY_BYTES = 1024 * 1024
# Operations in one PATCH (docs/provisioning.md, "Limits"): Entra ID and Okta send a few per
# request; each member operation may name many members.
MAX_PATCH_OPERATIONS = 100
# A group's PATCH answer leaves out members beyond this many (docs/provisioning.md).
MEMBERS_IN_ANSWER = 1000


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def _json(body: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE)


def _error(error: ScimError) -> JsonResponse:
    body = {"schemas": [ERROR], "status": str(error.status), "detail": error.detail}
    if error.scim_type:
        body["scimType"] = error.scim_type
    return _json(body, error.status)


_DUPLICATE = "A concurrent request made the same change first; read the resource again."


def _endpoint(**methods):
    """A SCIM endpoint: the tenant's bearer token checked, the methods dispatched, every
    refusal in SCIM's error schema, every change in one transaction."""

    @csrf_exempt
    def dispatch(request: HttpRequest, tenant_id, **kwargs) -> HttpResponse:
        try:
            scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
            token = (
                services.scim_authenticate(tenant_id, raw.strip())
                if scheme.lower() == "bearer"
                else None
            )
            if token is None:
                raise ScimError(401, "A valid bearer token of this tenant is required.")
            request.tenant = token.tenant
            view = methods.get(request.method)
            if view is None:
                raise ScimError(405, f"{request.method} is not supported here.")
            if request.method == "GET":
                return view(request, **kwargs)
            with transaction.atomic():
                return view(request, **kwargs)
        except ScimError as error:
            return _error(error)
        except NotFound as error:
            return _error(ScimError(404, str(error)))
        except NameTaken as taken:  # a create or a rename onto a taken userName alike
            return _error(ScimError(409, str(taken), "uniqueness"))
        except IntegrityError as error:
            # A concurrent request wrote the same membership first: the constraint decides.
            if getattr(error.__cause__, "sqlstate", None) == "23505":
                return _error(ScimError(409, _DUPLICATE, "uniqueness"))
            raise
        except LicensingError as error:
            return _error(ScimError(400, str(error), "invalidValue"))

    dispatch.methods = tuple(methods)  # read by the hostile-input suite, which walks the URLs
    return dispatch


def _body(request: HttpRequest) -> dict:
    try:
        data = json_body.read(request, limit=MAX_BODY_BYTES, empty={})
    except json_body.BodyRefused as refused:
        scim_type = {"syntax": "invalidSyntax", "depth": "invalidSyntax", "text": "invalidValue"}
        scim_type = scim_type.get(refused.kind)
        raise ScimError(refused.status, refused.message, scim_type) from None
    if not isinstance(data, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    return data


def tenant_url(request: HttpRequest, tenant) -> str:
    """The tenant's SCIM base URL, as an identity provider is given it."""
    return request.build_absolute_uri(f"/scim/v2/{tenant.public_id}/")


def _location(request: HttpRequest, kind: str, public_id) -> str:
    return f"{tenant_url(request, request.tenant)}{kind}/{public_id}"


def _created(request: HttpRequest, kind: str, resource: dict) -> JsonResponse:
    response = _json(resource, 201)
    response["Location"] = _location(request, kind, resource["id"])
    return response


def _meta(request, kind: str, obj, body: dict) -> dict:
    version = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    def stamp(moment):
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    return {
        "resourceType": kind,
        "created": stamp(obj.created_at),
        "lastModified": stamp(obj.modified_at or obj.created_at),
        "location": _location(request, f"{kind}s", obj.public_id),
        "version": f'W/"{version}"',
    }


def _truthy(value) -> bool:
    """SCIM booleans as identity providers send them: true, "True", "false", "False"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ScimError(400, f"{value!r} is not a boolean.", "invalidValue")


def _uuid(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ScimError(404, f"No resource has the id {str(value)[:60]!r}.") from None


# -- filters and paging -----------------------------------------------------------------------

# Identity providers send ``attr eq "value"`` joined by ``and``; a filter longer than this
# is not one of theirs (Entra's longest, an externalId and a userName, is under 300).
MAX_FILTER_CHARS = 1000
_SPACE = re.compile(r"\s*")
_ATTRIBUTE = re.compile(r"[A-Za-z][\w:.$-]*")
_EQ = re.compile(r"\s+eq\s+", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
# One JSON string (RFC 7644 §3.4.2.2: compValue is a JSON literal): each character is either
# unescaped or one escape pair, so a match never backtracks over more than it read.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
# What no stored name contains: control characters (PostgreSQL cannot store NUL) and halves
# of a surrogate pair (not text; PostgreSQL refuses them too).
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def filter_conditions(text: str, fields: dict[str, str]) -> dict[str, str]:
    r"""``attr eq "value" [and attr eq "value" …]`` → {model field: value}.

    One pass from left to right: every step matches at the current position and moves past
    what it matched, so the time is linear in the length (a ``re.split`` on ``\s+and\s+``
    was quadratic: 50 KB of spaces took seconds). scim2-filter-parser would parse the whole
    grammar, but it pins ``sly==0.5``, which odata-query (the Graph API's ``$filter``) cannot
    share, and we would still refuse everything but ``eq`` and ``and``.
    """
    conditions: dict[str, str] = {}
    at = _SPACE.match(text).end()
    while True:
        name = _ATTRIBUTE.match(text, at)
        eq = name and _EQ.match(text, name.end())
        value = eq and _STRING.match(text, eq.end())
        if not value:
            raise _invalid_filter(
                'Only filters of the form attribute eq "value" (joined by and) are supported.'
            )
        attribute = name.group().lower()
        if attribute not in fields:
            raise _invalid_filter(f"Filtering on {name.group()[:60]} is not supported.")
        try:
            decoded = json.loads(value.group())
        except ValueError:
            raise _invalid_filter("The filter's value is not a valid JSON string.") from None
        if _NOT_TEXT.search(decoded):
            raise _invalid_filter("The filter's value contains a control character.")
        conditions[fields[attribute]] = decoded
        at = value.end()
        joined = _AND.match(text, at)
        if joined:
            at = joined.end()
            continue
        if _SPACE.match(text, at).end() != len(text):
            raise _invalid_filter(
                'Only filters of the form attribute eq "value" (joined by and) are supported.'
            )
        return conditions


def _parse_filter(text: str, fields: dict[str, str]) -> dict[str, str]:
    if len(text) > MAX_FILTER_CHARS:
        raise _invalid_filter(f"A filter has at most {MAX_FILTER_CHARS} characters.")
    return filter_conditions(text, fields)


def _list(request: HttpRequest, found, render_page, fields: dict[str, str]) -> JsonResponse:
    """A ``ListResponse`` of ``found`` (filtered, paged); ``render_page`` shapes one page of
    objects in a fixed number of queries."""
    text = request.GET.get("filter")
    if text:
        for field, value in _parse_filter(text, fields).items():
            if field == "public_id":
                try:
                    found = found.filter(public_id=uuid.UUID(value))
                except ValueError:
                    found = found.none()
            else:
                found = found.filter(**{f"{field}__iexact": value})
    start = max(1, _integer(request, "startIndex", 1))
    count = max(0, min(MAX_COUNT, _integer(request, "count", MAX_COUNT)))
    total = found.count()
    page = list(found.order_by("id")[start - 1 : start - 1 + count])
    resources = [_shape(request, resource) for resource in render_page(request, page)]
    return _listed(resources, total=total, start=start)


# startIndex and count: ASCII digits, at most nine of them (an OFFSET past PostgreSQL's
# bigint was a 500; no tenant has a billion users).
_INTEGER = re.compile(r"-?[0-9]{1,9}")


def _integer(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw.strip()):
        raise ScimError(400, f"{name} must be an integer of at most nine digits.", "invalidValue")
    return int(raw)


def _shape(request: HttpRequest, resource: dict) -> dict:
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

USER_FILTERS = {
    "username": "user_principal_name",
    "externalid": "external_id",
    "displayname": "display_name",
    "id": "public_id",
}


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
    body["meta"] = _meta(request, "User", user, body)
    return body


def _find_user(request, key) -> DirectoryUser:
    user = DirectoryUser.objects.filter(tenant=request.tenant, public_id=_uuid(key)).first()
    if user is None:
        raise ScimError(404, f"No user has the id {key}.")
    return user


def _user_changes(values: dict) -> tuple[dict, str | None, bool | None]:
    """Profile changes, usage location and active from SCIM attributes (full names, dotted
    names and the enterprise extension's URN). Attributes we do not keep are ignored."""
    profile: dict = {}
    location, active = None, None
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
            active = _truthy(value)
        elif name in ('addresses[type eq "work"].country', "addresses.country"):
            location = _country(value)
        elif name == "addresses":
            work = [
                a
                for a in (value if isinstance(value, list) else [])
                if isinstance(a, dict) and a.get("type", "work") == "work"
            ]
            location = _country(work[0].get("country") if work else "")
    return profile, location, active


def _country(value) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    raise ScimError(400, "A country is an ISO 3166 code, such as NL.", "invalidValue")


def _apply_user(request, user: DirectoryUser, profile: dict, location, active) -> None:
    """The profile first: it moves no license, so it is written before anything locks the
    seats, which the request then holds only for the changes that need them."""
    tenant = request.tenant
    if profile:
        services.user_update_profile(
            tenant=tenant, user=user, actor=PROVISIONING_ACTOR, any_user_name=True, **profile
        )
    if active is True and user.is_soft_deleted:
        services.user_restore(tenant=tenant, user=user, actor=PROVISIONING_ACTOR)
    if location is not None:
        services.user_set_usage_location(
            tenant=tenant, user=user, usage_location=location, actor=PROVISIONING_ACTOR
        )
    if active is False and not user.is_soft_deleted:
        services.user_soft_delete(tenant=tenant, user=user, actor=PROVISIONING_ACTOR)


def list_users(request):
    found = DirectoryUser.objects.filter(tenant=request.tenant)
    return _list(request, found, lambda r, page: [user_resource(r, u) for u in page], USER_FILTERS)


def create_user(request):
    data = _body(request)
    profile, location, active = _user_changes(data)
    upn = profile.pop("user_principal_name", None)
    if not upn:
        raise ScimError(400, "userName is required.", "invalidValue")
    user = services.user_create(
        tenant=request.tenant,
        user_principal_name=upn,
        display_name=profile.pop("display_name", "") or upn,
        usage_location=location or "",
        source=UserSource.SYNCED,
        any_user_name=True,
        actor=PROVISIONING_ACTOR,
    )
    _apply_user(request, user, profile, None, active)
    user.refresh_from_db()
    return _created(request, "Users", user_resource(request, user))


def get_user(request, key):
    return _json(_shape(request, user_resource(request, _find_user(request, key))))


def replace_user(request, key):
    user = _find_user(request, key)
    profile, location, active = _user_changes(_body(request))
    if not profile.get("user_principal_name"):
        raise ScimError(400, "userName is required.", "invalidValue")
    _apply_user(request, user, profile, location if location is not None else "", active)
    user.refresh_from_db()
    return _json(user_resource(request, user))


def _operations(request) -> list[tuple[str, str, object]]:
    data = _body(request)
    operations = data.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "A PATCH needs Operations.", "invalidSyntax")
    if len(operations) > MAX_PATCH_OPERATIONS:
        # RFC 7644 caps only bulk requests (maxOperations); a PATCH is one transaction, so
        # ours is capped too (docs/provisioning.md), as invalidValue (§3.12: for PATCH).
        raise ScimError(
            400,
            f"A PATCH has at most {MAX_PATCH_OPERATIONS} operations; this one has "
            f"{len(operations)}. Send the rest in another request.",
            "invalidValue",
        )
    found = []
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "replace", "remove"):
            raise ScimError(
                400, f"{operation.get('op')!r} is not a PATCH operation.", "invalidSyntax"
            )
        found.append((op, str(operation.get("path") or ""), operation.get("value")))
    return found


def patch_user(request, key):
    user = _find_user(request, key)
    values: dict = {}
    for op, where, value in _operations(request):
        if not where:
            if not isinstance(value, dict):
                raise ScimError(400, "An operation without a path needs an object.", "invalidValue")
            values.update(value)
        elif op == "remove":
            if where.lower() in ("active", "username"):
                raise ScimError(400, f"{where} is required and cannot be removed.", "mutability")
            values[where] = ""
        else:
            values[where] = value
    profile, location, active = _user_changes(values)
    _apply_user(request, user, profile, location, active)
    user.refresh_from_db()
    return _json(user_resource(request, user))


def delete_user(request, key):
    user = _find_user(request, key)
    services.user_delete_permanently(tenant=request.tenant, user=user, actor=PROVISIONING_ACTOR)
    return HttpResponse(status=204)


# -- groups -----------------------------------------------------------------------------------

GROUP_FILTERS = {"displayname": "name", "externalid": "external_id", "id": "public_id"}


def _members_wanted(request: HttpRequest) -> bool:
    return "members" not in request.GET.get("excludedAttributes", "")


def _member_ids(groups: list[Group]) -> dict[int, list]:
    """The members' user ids of these groups, in claim order, in one query."""
    found: dict[int, list] = {g.id: [] for g in groups}
    for group_id, public_id in (
        GroupMembership.objects.filter(group__in=groups)
        .order_by("group_id", "added_at", "user_id")
        .values_list("group_id", "user__public_id")
    ):
        found[group_id].append(public_id)
    return found


def group_resource(
    request: HttpRequest, group: Group, *, members: bool = True, member_ids=None
) -> dict:
    body: dict = {"schemas": [GROUP], "id": str(group.public_id), "displayName": group.name}
    if group.external_id:
        body["externalId"] = group.external_id
    if members and _members_wanted(request):
        if member_ids is None:
            member_ids = _member_ids([group])[group.id]
        body["members"] = [
            {
                "value": str(public_id),
                "type": "User",
                "$ref": _location(request, "Users", public_id),
            }
            for public_id in member_ids
        ]
    body["meta"] = _meta(request, "Group", group, body)
    return body


def _group_page(request: HttpRequest, page: list[Group]) -> list[dict]:
    ids = _member_ids(page) if _members_wanted(request) else {}
    return [group_resource(request, g, member_ids=ids.get(g.id)) for g in page]


def _find_group(request, key) -> Group:
    group = Group.objects.filter(tenant=request.tenant, public_id=_uuid(key)).first()
    if group is None:
        raise ScimError(404, f"No group has the id {key}.")
    return group


def _members(request, values) -> list[DirectoryUser]:
    """The tenant's users these member values name. A value that names no user of the tenant
    is left out, not refused: SCIM does not ask servers to check that members exist, and
    identity providers send memberships of users outside the app's scope; the answer lists
    the members the group really has."""
    if not isinstance(values, list):
        values = [values]
    ids = []
    for item in values:
        value = item.get("value") if isinstance(item, dict) else item
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return list(DirectoryUser.objects.filter(tenant=request.tenant, public_id__in=ids))


def _set_members(request, group: Group, wanted: list[DirectoryUser]) -> None:
    have = set(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
    add = [u for u in wanted if u.id not in have]
    remove = list(DirectoryUser.objects.filter(id__in=have - {u.id for u in wanted}))
    _change_members(request, group, add, remove)


def _change_members(request, group, add, remove) -> None:
    """Members who are already members are left as they are (the service skips them)."""
    if remove:
        services.group_remove_members(
            tenant=request.tenant, group=group, users=remove, actor=PROVISIONING_ACTOR
        )
    if add:
        # The provider's disabled users (active=false, soft-deleted here) stay in its groups.
        services.group_add_members(
            tenant=request.tenant,
            group=group,
            users=add,
            actor=PROVISIONING_ACTOR,
            deleted_too=True,
        )


def list_groups(request):
    return _list(request, Group.objects.filter(tenant=request.tenant), _group_page, GROUP_FILTERS)


_MISSING = object()


def _group_fields(name=_MISSING, external_id=_MISSING) -> dict:
    """A group's name and identity provider id by the directory's rule for names
    (``clean_text``: text, no control or invisible characters, not too long)."""
    fields = {}
    if name is not _MISSING:
        fields["name"] = clean_text(name, field="displayName", max_length=256, required=True)
    if external_id is not _MISSING:
        fields["external_id"] = clean_text(external_id, field="externalId", max_length=256)
    return fields


def create_group(request):
    data = _body(request)
    fields = _group_fields(data.get("displayName") or "", data.get("externalId") or "")
    group = services.group_create(
        tenant=request.tenant, name=fields["name"], actor=PROVISIONING_ACTOR
    )
    if fields.get("external_id"):
        services.group_update(
            tenant=request.tenant,
            group=group,
            external_id=fields["external_id"],
            actor=PROVISIONING_ACTOR,
        )
    if data.get("members"):
        _change_members(request, group, _members(request, data["members"]), [])
    group.refresh_from_db()
    return _created(request, "Groups", group_resource(request, group))


def get_group(request, key):
    return _json(_shape(request, group_resource(request, _find_group(request, key))))


def replace_group(request, key):
    group = _find_group(request, key)
    data = _body(request)
    services.group_update(
        tenant=request.tenant,
        group=group,
        actor=PROVISIONING_ACTOR,
        **_group_fields(data.get("displayName") or "", data.get("externalId") or ""),
    )
    _set_members(request, group, _members(request, data.get("members") or []))
    group.refresh_from_db()
    return _json(group_resource(request, group))


_MEMBER_PATH = re.compile(r'members\[value eq "([^"]+)"\]', re.IGNORECASE)


class _MemberChanges:
    """The net effect of a PATCH's member operations, in their order, applied at the end as
    one removal and one addition: the seats are locked once, for the changes that need them,
    not once per operation for the rest of the request."""

    def __init__(self):
        self.replaced = False  # a replace (or remove of all) started from no members
        self.add: dict[int, DirectoryUser] = {}
        self.remove: dict[int, DirectoryUser] = {}

    def apply(self, op: str, users: list[DirectoryUser] | None) -> None:
        """``users=None``: every member (a ``remove`` of ``members`` without a value)."""
        if op == "replace" or users is None:
            self.replaced, self.add, self.remove = True, {}, {}
            users = users or []
            op = "add"
        for user in users:
            if op == "add":
                self.remove.pop(user.id, None)
                self.add[user.id] = user
            else:
                self.add.pop(user.id, None)
                self.remove[user.id] = user

    def save(self, request, group: Group) -> None:
        if self.replaced:
            _set_members(request, group, list(self.add.values()))
            return
        if not self.add and not self.remove:
            return
        have = set(
            GroupMembership.objects.filter(
                group=group, user_id__in=[*self.add, *self.remove]
            ).values_list("user_id", flat=True)
        )
        _change_members(
            request,
            group,
            [u for i, u in self.add.items() if i not in have],
            [u for i, u in self.remove.items() if i in have],
        )


def patch_group(request, key):
    group = _find_group(request, key)
    changes: dict = {}
    members = _MemberChanges()
    for op, where, value in _operations(request):
        target = where.lower()
        if not where and isinstance(value, dict):
            for k, v in value.items():
                if k.lower() == "displayname":
                    changes["name"] = v
                elif k.lower() == "externalid":
                    changes["external_id"] = v
                elif k.lower() == "members":
                    _patch_members(request, members, op, v)
        elif target in ("displayname", "externalid"):
            field = "name" if target == "displayname" else "external_id"
            changes[field] = "" if op == "remove" else value
        elif target == "members":
            _patch_members(request, members, op, value)
        elif match := _MEMBER_PATH.fullmatch(where.strip()):
            if op != "remove":
                raise ScimError(400, "Only remove takes a member filter path.", "invalidPath")
            members.apply("remove", _members(request, [match.group(1)]))
        else:
            raise ScimError(400, f"{where[:60]!r} is not a path of a group.", "invalidPath")
    if changes:  # no seat lock: a group's name and id move no license
        services.group_update(
            tenant=request.tenant, group=group, actor=PROVISIONING_ACTOR, **_group_fields(**changes)
        )
    members.save(request, group)
    count = GroupMembership.objects.filter(group=group).count()
    group.refresh_from_db()
    return _json(group_resource(request, group, members=count <= MEMBERS_IN_ANSWER))


def _patch_members(request, members: _MemberChanges, op: str, value) -> None:
    if op == "remove" and not value:
        members.apply(op, None)
    else:
        members.apply(op, _members(request, value or []))


def delete_group(request, key):
    group = _find_group(request, key)
    services.group_delete(tenant=request.tenant, group=group, actor=PROVISIONING_ACTOR)
    return HttpResponse(status=204)


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


def _base(request) -> str:
    return tenant_url(request, request.tenant).rstrip("/")


def _schema(request, urn: str) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": urn,
        **SCHEMAS[urn],
        "meta": {"resourceType": "Schema", "location": f"{_base(request)}/Schemas/{urn}"},
    }


def _resource_type(request, name: str) -> dict:
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


def _listed(items: list[dict], *, total: int | None = None, start: int = 1) -> JsonResponse:
    """A ``ListResponse``: these items, page ``start`` of ``total`` (all of them)."""
    return _json(
        {
            "schemas": [LIST],
            "totalResults": len(items) if total is None else total,
            "startIndex": start,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


def service_provider_config(request):
    return _json(
        {
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
    )


def list_schemas(request):
    return _listed([_schema(request, urn) for urn in SCHEMAS])


def get_schema(request, key):
    if key not in SCHEMAS:
        raise ScimError(404, f"No schema {key[:80]}.")
    return _json(_schema(request, key))


def list_resource_types(request):
    return _listed([_resource_type(request, name) for name in RESOURCE_TYPES])


def get_resource_type(request, key):
    if key not in RESOURCE_TYPES:
        raise ScimError(404, f"No resource type {key[:80]}.")
    return _json(_resource_type(request, key))


def _searching(list_view):
    """``POST …/.search`` (RFC 7644 §3.4.3): the query in the body instead of the URL."""

    def search(request):
        data = _body(request)
        query = QueryDict(mutable=True)
        for name in ("filter", "startIndex", "count"):
            if data.get(name) is not None:
                query[name] = str(data[name])
        for name in ("attributes", "excludedAttributes"):
            value = data.get(name)
            if value:
                query[name] = ",".join(value) if isinstance(value, list) else str(value)
        request.GET = query
        return list_view(request)

    return search


def search_everything(request):
    raise ScimError(501, "Searching several resource types at once is not supported.")


def _unknown(request, rest=""):
    raise ScimError(404, "No such SCIM resource.")


urlpatterns = [
    path("Users", _endpoint(GET=list_users, POST=create_user)),
    path(".search", _endpoint(POST=search_everything)),
    path("Users/.search", _endpoint(POST=_searching(list_users))),
    path("Groups/.search", _endpoint(POST=_searching(list_groups))),
    path(
        "Users/<str:key>",
        _endpoint(GET=get_user, PUT=replace_user, PATCH=patch_user, DELETE=delete_user),
    ),
    path("Groups", _endpoint(GET=list_groups, POST=create_group)),
    path(
        "Groups/<str:key>",
        _endpoint(GET=get_group, PUT=replace_group, PATCH=patch_group, DELETE=delete_group),
    ),
    path("ServiceProviderConfig", _endpoint(GET=service_provider_config)),
    path("Schemas", _endpoint(GET=list_schemas)),
    path("Schemas/<str:key>", _endpoint(GET=get_schema)),
    path("ResourceTypes", _endpoint(GET=list_resource_types)),
    path("ResourceTypes/<str:key>", _endpoint(GET=get_resource_type)),
    path(
        "<path:rest>",
        _endpoint(GET=_unknown, POST=_unknown, PUT=_unknown, PATCH=_unknown, DELETE=_unknown),
    ),
]
