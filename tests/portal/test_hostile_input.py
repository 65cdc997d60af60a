"""The hostile-input suite, generated from the URL configuration like the isolation suite: a
new URL is covered without anyone remembering.

Every portal URL (and sign-in), as each tenant role, by GET and POST, plain and htmx, gets a
corpus of hostile values in every parameter any view reads (NUL and control characters,
10,000-character strings, huge and negative numbers, malformed and other-tenant ids, SQL and
template metacharacters, bidi characters, duplicate fields) and bodies of the wrong content
type. The test client re-raises any exception a view lets escape, so a 500 fails the test; a
refused request (4xx) must leave the database exactly as it was.
"""

from __future__ import annotations

import ast
import json
import pathlib
import re
from urllib.parse import urlencode

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from licensing import services
from portal.scim import protocol as scim_protocol
from portal.scim import resources as scim_resources
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory
from tests.licensing.test_bad_input import TABLES, snapshot
from tests.portal.test_isolation import _patterns, _url, world  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# Parameter names the portal reads, and some it does not; the names its views read are added
# from the code itself (``_names_read``), so a new field is covered without a list to update.
KNOWN = [
    "q",
    "page",
    "sort",
    "product",
    "user",
    "group",
    "member",
    "target",
    "actor",
    "activity",
    "since",
    "until",
    "usage_location",
    "next",
    "action",
    "tenant",
    "selection",
    "sha256",
    "disabled",
    "step",
    "tab",
    "export",
]
ROOT = pathlib.Path(__file__).resolve().parents[2]
_NAME = re.compile(r"^[@A-Za-z$][\w.@$:\-]{0,79}$")
READERS = {"get", "getlist", "pop", "setdefault"}


def _names_read(*modules: str) -> tuple[set[str], set[str]]:
    """Names these modules read from a request, a form or a parsed body: ``x.get("name")``,
    ``x.getlist("name")``, ``x["name"]``, ``"name" in x``, ``name == "literal"`` (SCIM compares
    lowercased names) and the constant prefixes of f-strings (``f"plan-{sku}"``). Returns
    (names, prefixes)."""
    names: set[str] = set()
    prefixes: set[str] = set()
    for module in modules:
        for path in sorted(ROOT.glob(module)):
            for node in ast.walk(ast.parse(path.read_text())):
                literals = []
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in READERS:
                    literals = node.args[:1]
                elif isinstance(node, ast.Subscript):
                    literals = [node.slice]
                elif isinstance(node, ast.Compare):
                    literals = [node.left, *node.comparators]
                    for c in node.comparators:
                        if isinstance(c, ast.Tuple | ast.Set | ast.List):
                            literals.extend(c.elts)
                for literal in literals:
                    if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                        if _NAME.match(literal.value):
                            names.add(literal.value)
                    elif isinstance(literal, ast.JoinedStr) and literal.values:
                        head = literal.values[0]
                        if isinstance(head, ast.Constant) and str(head.value).endswith("-"):
                            prefixes.add(head.value)
    return names, prefixes


PORTAL_NAMES, PORTAL_PREFIXES = _names_read(
    "portal/views/*.py", "portal/forms.py", "portal/language.py", "portal/access.py"
)


def _parameters(objects: dict) -> list[str]:
    """Every name a portal view reads, prefixed names with the world's product."""
    found = set(KNOWN) | PORTAL_NAMES
    found |= {f"{prefix}{objects['sku_id']}" for prefix in PORTAL_PREFIXES}
    return sorted(found)


HOSTILE = [
    "\x00",
    "a\x00b",
    "\x1b[31m\x07",
    "x" * 10_000,
    "9" * 40,
    "-1",
    "-99999999999999999999",
    "0",
    "1e309",
    "NaN",
    "not-a-guid",
    "00000000-0000-0000-0000-000000000000",
    "' OR 1=1 --",
    "'; DROP TABLE licensing_userlicense; --",
    "%_\\",
    "{{ request.user.password }}{% debug %}",
    "<script>alert(1)</script>",
    "\u202eevil\u200b",
    "//evil.example/",
    "javascript:alert(1)",
    "ZZ",
]

ROLES = ["GlobalAdministrator", "LicenseAdministrator", "GlobalReader"]


@pytest.fixture
def foreign():
    """Ids of another tenant's objects: as hostile as malformed ones."""
    fabrikam = TenantFactory(name="Fabrikam")
    user = DirectoryUserFactory(tenant=fabrikam)
    group = GroupFactory(tenant=fabrikam)
    services.group_add_members(tenant=fabrikam, group=group, users=[user], actor=None)
    return [str(user.public_id), str(group.public_id), str(fabrikam.public_id)]


def _requests(url: str, values: list[str], parameters=tuple(KNOWN)):
    """(method, data, extra) triples: each value in every parameter, and duplicated."""
    for value in values:
        data = {name: value for name in parameters}
        yield "get", data, {}
        yield "post", data, {}
        yield "post", {name: [value, value] for name in parameters}, {"HTTP_HX_REQUEST": "true"}
        yield "get", data, {"HTTP_HX_REQUEST": "true"}
    # Bodies of the wrong content type.
    yield "post", '{"product": ["x"], "user": null}', {"content_type": "application/json"}
    yield "post", "\x00\xff not a form", {"content_type": "text/plain"}
    yield "post", "product=%00&user=%zz", {"content_type": "application/x-www-form-urlencoded"}


def _send(client, method: str, url: str, data, extra: dict):
    if method == "get":
        return client.get(url, data, **extra)
    return client.post(url, data, **extra)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("pattern", _patterns(), ids=lambda p: p.name)
def test_hostile_values_never_cause_a_500_or_a_refused_change(
    client,
    as_role,
    world,  # noqa: F811
    foreign,
    pattern,
    role,
):
    as_role(role)
    url = _url(pattern, world)
    before = snapshot()
    for method, data, extra in _requests(url, [*HOSTILE, *foreign], _parameters(world)):
        response = _send(client, method, url, data, extra)
        assert response.status_code < 500, (url, method, data, response.status_code)
        if response.status_code >= 400 or method == "get":
            assert snapshot() == before, (url, method, data, response.status_code)
        else:
            before = snapshot()  # an accepted command may change what it was asked to


@pytest.mark.parametrize("name", ["login", "admin:login"])
def test_sign_in_takes_hostile_values_without_a_500(client, name):
    url = reverse(name)
    for method, data, extra in _requests(url, HOSTILE):
        if isinstance(data, dict):
            data = {**data, "username": data["q"], "password": data["q"]}
        response = _send(client, method, url, data, extra)
        assert response.status_code < 500


def test_every_portal_url_is_in_the_suite():
    """The suite walks the URL configuration; this only fails if that walk finds nothing."""
    names = {p.name for p in _patterns()}
    assert {"assign", "sync_upload", "user_assignments", "group_remove_members"} <= names
    # Fields the first version of the suite did not send, now read from the views' code.
    assert {"name", "permission", "open", "language"} <= PORTAL_NAMES
    assert {"options-", "plan-"} <= PORTAL_PREFIXES


# -- The API and SCIM: every endpoint of the URL configuration, every method it takes ------------

PROTOCOL_NAMES, _ = _names_read("portal/scim/*.py", "portal/graph/*.py")
ENTERPRISE = scim_protocol.ENTERPRISE
SCIM_ATTRIBUTES = {
    a["name"] for schema in scim_resources.SCHEMAS.values() for a in schema["attributes"]
} | {"userName", "externalId", ENTERPRISE, f"{ENTERPRISE}:department"}
# Every name the protocol views read, and the attributes SCIM declares (at most 90, so that a
# PATCH of one operation per name stays under MAX_PATCH_OPERATIONS).
BODY_FIELDS = sorted(PROTOCOL_NAMES | SCIM_ATTRIBUTES)[:90]
DEEP = 100_000
HOSTILE_JSON = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x" * 10_000,
    "\u202eevil\u200b",
    "' OR 1=1 --",
    "00000000-0000-0000-0000-000000000000",
    10**30,
    -1,
    1.5,
    True,
    None,
    [],
    {},
    ["x" * 300, {"value": "\x00"}],
    {"value": {"value": {"value": [None]}}},
]
RAW_BODIES = [
    "[" * DEEP + "]" * DEEP,
    '{"a": ' + "[" * DEEP + "]" * DEEP + "}",
    '{"Operations": ' + '[{"op": "add", "value": ' * 500 + "1" + "}]" * 500 + "}",
    "not json at all \x00",
    "\xff\xfe\x00\x00",
    '{"userName": "a\\u0000b", "displayName": "\\ud800"}',
    "{" + '"x": 1, ' * 100_000 + '"y": 2}',
]
OVERSIZED = '{"pad": "' + "x" * (5 * 1024 * 1024) + '"}'


def _protocol_endpoints() -> list[tuple[str, URLPattern]]:
    """(prefix, pattern) for every URL of Graph and SCIM whose view says which methods it
    takes (the catch-all 404s excluded: they take no body and read nothing)."""
    found = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif hasattr(p.callback, "methods") and "<path:rest>" not in str(p.pattern):
                found.append((prefix + str(p.pattern), p))

    for top in get_resolver().url_patterns:
        if isinstance(top, URLResolver) and str(top.pattern) in ("", "scim/v2/<uuid:tenant_id>/"):
            walk(top.url_patterns, str(top.pattern))
    return [(prefix, p) for prefix, p in found if prefix.startswith(("v1.0/", "scim/"))]


ENDPOINTS = _protocol_endpoints()


@pytest.fixture
def credentials(client, tenant, world):  # noqa: F811
    """Bearer tokens of the tenant: a Graph app that may write, and SCIM."""
    app, secret = services.app_register(tenant=tenant, name="Hostile", actor=None)
    graph = client.post(
        f"/{tenant.public_id}/oauth2/v2.0/token",
        {
            "grant_type": "client_credentials",
            "client_id": str(app.client_id),
            "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default",
        },
    ).json()["access_token"]
    _token, scim = services.scim_token_issue(tenant=tenant, actor=None)
    return {"graph": graph, "scim": scim}


def _fill(route: str, tenant, objects: dict, hostile: str | None = None) -> str:
    """The route with this tenant's ids (or ``hostile`` in every id but the tenant's)."""
    ids = {
        "tenant_id": str(tenant.public_id),
        "key": str(objects["user_id"]),
        "member": str(objects["user_id"]),
    }
    if "Groups" in route or "groups" in route:
        ids["key"] = str(objects["group_id"])
    if "subscribedSkus" in route:
        ids["key"] = f"{tenant.public_id}_{objects['sku_id']}"
    if "deletedItems" in route:
        ids["key"] = str(objects["deleted"])
    if "Schemas" in route:
        ids["key"] = scim_protocol.USER
    if "ResourceTypes" in route:
        ids["key"] = "User"

    def value(match):
        name = match.group(1).split(":")[-1]
        if hostile is not None and name != "tenant_id":
            return hostile
        return ids[name]

    return "/" + re.sub(r"<([^>]+)>", value, route)


def _bodies(route: str, method: str):
    """(content, content type) pairs: each hostile value in every field the views read, as a
    SCIM PATCH's operations too, bodies that are not JSON, too deep, too large."""
    for value in HOSTILE_JSON:
        fields = {name: value for name in BODY_FIELDS}
        if method == "PATCH" and route.startswith("scim/"):
            operations = [{"op": "replace", "path": name, "value": value} for name in BODY_FIELDS]
            operations.append({"op": "add", "value": fields})
            yield json.dumps({"schemas": [scim_protocol.PATCH], "Operations": operations})
            yield json.dumps({"Operations": [{"op": value, "path": value, "value": value}]})
        else:
            yield json.dumps(fields)
    yield from RAW_BODIES
    yield OVERSIZED


def _query(value) -> dict:
    text = value if isinstance(value, str) else json.dumps(value)
    names = {n for n in PROTOCOL_NAMES if n.startswith("$")} | {
        "filter",
        "startIndex",
        "count",
        "attributes",
        "excludedAttributes",
    }
    return {name: text for name in names}


def _state(with_audit: bool = True) -> dict:
    found = snapshot()
    return found if with_audit else {t: v for t, v in found.items() if t != TABLES[3]}


@pytest.mark.parametrize("route,pattern", ENDPOINTS, ids=[r for r, _ in ENDPOINTS])
def test_hostile_api_and_scim_requests_never_cause_a_500_or_a_refused_change(
    client,
    tenant,
    world,  # noqa: F811
    foreign,
    credentials,
    route,
    pattern,
):
    token = credentials["scim" if route.startswith("scim/") else "graph"]
    # ConsistencyLevel: Graph's advanced queries ($count, $search) are read only with it.
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_CONSISTENCYLEVEL": "eventual"}
    content_type = "application/scim+json" if route.startswith("scim/") else "application/json"
    before = _state()

    def send(method, url, body="", query=None):
        nonlocal before
        response = client.generic(
            method,
            url + (f"?{urlencode(query, errors='surrogatepass')}" if query else ""),
            body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body,
            content_type=content_type,
            **auth,
        )
        shown = (method, url[:120], str(body)[:120], response.status_code)
        assert response.status_code < 500, shown
        if response.content:
            # Never an HTML page; Graph's /$count answers a number as text.
            counted = route.endswith("/$count") and response.status_code == 200
            assert "json" in response["Content-Type"] or counted, shown
        if response.status_code >= 400 or method == "GET":
            assert _state() == before, shown
        else:
            before = _state()  # an accepted change may change what it was asked to

    for method in pattern.callback.methods:
        url = _fill(route, tenant, world)
        for value in HOSTILE_JSON:
            send(method, url, query=_query(value))
        for hostile in ["\x00", "a\x00b", "x" * 10_000, "\u202e", *foreign]:
            send(method, _fill(route, tenant, world, hostile))
        if method in ("POST", "PUT", "PATCH"):
            for body in _bodies(route, method):
                send(method, url, body)


def test_every_api_and_scim_endpoint_is_in_the_suite():
    """The protocol suite walks the URL configuration; this fails if the walk finds nothing."""
    routes = {r for r, _ in ENDPOINTS}
    assert "v1.0/users/<str:key>/assignLicense" in routes
    assert "v1.0/groups/<str:key>/members/$ref" in routes
    assert "v1.0/directory/deletedItems/<str:key>/restore" in routes
    assert "v1.0/auditLogs/directoryAudits" in routes
    assert "v1.0/users/$count" in routes
    assert "v1.0/$batch" in routes
    assert "scim/v2/<uuid:tenant_id>/.search" in routes
    assert "scim/v2/<uuid:tenant_id>/Groups/<str:key>" in routes
    assert {"addLicenses", "Operations", "@odata.id", "usageLocation"} <= PROTOCOL_NAMES
    assert {"$search", "$orderby", "$count", "passwordProfile", "requests"} <= PROTOCOL_NAMES


@pytest.mark.parametrize("name", ["token", "discovery", "keys"])
def test_the_token_and_discovery_endpoints_take_hostile_values_without_a_500(
    client, tenant, name, settings
):
    from django.core.cache import cache

    cache.clear()
    base = {
        "token": "/{}/oauth2/v2.0/token",
        "discovery": "/{}/v2.0/.well-known/openid-configuration",
        "keys": "/{}/discovery/v2.0/keys",
    }[name]
    names, _ = _names_read("portal/graph/auth.py")
    before = _state(with_audit=False)
    for where in [tenant.initial_domain, "\x00", "a\x00b", "x" * 10_000, "\u202e", "%"]:
        url = base.format(where)
        for value in HOSTILE:
            form = {n: value for n in names}
            for response in (client.post(url, form), client.get(url, form)):
                assert response.status_code < 500, (url[:80], value[:40])
                assert response["Content-Type"] == "application/json"
        big = client.post(
            url, "a=" + "x" * (3 * 1024 * 1024), content_type="application/x-www-form-urlencoded"
        )
        assert big.status_code < 500 and big["Content-Type"] == "application/json"
    # Refused token requests are audited as failed sign-ins, and change nothing else.
    assert _state(with_audit=False) == before
    cache.clear()
