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

import pytest
from django.urls import reverse

from licensing import services
from tests.factories import DirectoryUserFactory, GroupFactory, TenantFactory
from tests.licensing.test_bad_input import snapshot
from tests.portal.test_isolation import _patterns, _url, world  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

# Every parameter name a portal view reads (GET or POST), and some it does not.
PARAMETERS = [
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


def _requests(url: str, values: list[str]):
    """(method, data, extra) triples: each value in every parameter, and duplicated."""
    for value in values:
        data = {name: value for name in PARAMETERS}
        yield "get", data, {}
        yield "post", data, {}
        yield "post", {name: [value, value] for name in PARAMETERS}, {"HTTP_HX_REQUEST": "true"}
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
    for method, data, extra in _requests(url, [*HOSTILE, *foreign]):
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
