"""The isolation suite, generated from the URL configuration so that a new URL is covered
without anyone remembering:

* every URL that takes an object id, asked by another tenant's Global administrator with this
  tenant's ids, answers 404;
* every URL, POSTed by a Global reader of the tenant with its own ids, answers 403 (a command)
  or 405 (a page): never a change;
* anonymous requests go to sign-in (tests/portal/test_every_url.py); the Django admin is for
  staff only (tests/licensing/test_admin.py).
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, get_resolver, reverse

from licensing import services
from licensing.models import AuditEvent, LicenseAssignment, UserLicense
from tests.factories import (
    DirectoryUserFactory,
    GroupFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# Requests that change nothing a reader may not: choosing which of one's tenants to look at.
READER_MAY_POST = {"switch_tenant"}


def _patterns() -> list[URLPattern]:
    (portal,) = [
        p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "portal"
    ]
    return list(portal.url_patterns)


@pytest.fixture
def world(tenant):
    """One of each object of the tenant, licensed, with a soft-deleted user too."""
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=5)
    user = DirectoryUserFactory(tenant=tenant)
    deleted = DirectoryUserFactory(tenant=tenant)
    group = GroupFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=None)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=None
    )
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[user], actor=None
    )
    services.user_soft_delete(tenant=tenant, user=deleted, actor=None)
    app, _ = services.app_register(tenant=tenant, name="Script", actor=None)
    token, _ = services.scim_token_issue(tenant=tenant, actor=None)
    return {
        "client_id": app.client_id,
        "token_id": token.public_id,
        "sku_id": product("AAD_PREMIUM").sku_id,
        "user_id": user.public_id,
        "group_id": group.public_id,
        "deleted": deleted.public_id,
    }


def _url(pattern: URLPattern, world: dict) -> str:
    kwargs = {}
    for name in pattern.pattern.converters:
        kwargs[name] = (
            world["deleted"] if pattern.name in ("user_restore", "user_delete") else world[name]
        )
    return reverse(f"portal:{pattern.name}", kwargs=kwargs)


def _state() -> tuple:
    return (
        list(UserLicense.objects.order_by("id").values_list("id", "state")),
        LicenseAssignment.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize(
    "pattern", [p for p in _patterns() if p.pattern.converters], ids=lambda p: p.name
)
def test_another_tenants_admin_gets_404_for_this_tenants_objects(client, as_role, world, pattern):
    as_role("GlobalAdministrator", on=TenantFactory(name="Fabrikam"))
    url = _url(pattern, world)
    before = _state()
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)
    assert response.status_code == 404, (url, response.status_code)
    assert _state() == before


@pytest.mark.parametrize(
    "pattern", [p for p in _patterns() if p.name not in READER_MAY_POST], ids=lambda p: p.name
)
def test_a_global_reader_can_change_nothing(client, as_role, world, pattern):
    as_role("GlobalReader")
    url = _url(pattern, world)
    before = _state()
    response = client.post(
        url, {"action": "assign", "product": [world["sku_id"]], "user": [world["user_id"]]}
    )
    assert response.status_code in (403, 405), (url, response.status_code)
    assert _state() == before
