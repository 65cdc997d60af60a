"""Regression tests for the findings of an outside security test of the running portal, one
section per finding; each fails when its fix is reverted."""

from __future__ import annotations

import csv
import hashlib
import io
import pathlib
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from licensing import services
from licensing.consistency import consistency_problems
from licensing.models import AuditEvent, DirectoryUser, LicenseAssignment, RoleAssignment, Tenant
from licensing.services.sync import MAX_PROBLEMS, SyncFileError, parse_export
from portal.access import SESSION_TENANT
from portal.views.directory import SESSION_UPLOAD
from tests.factories import (
    AccountFactory,
    DirectoryUserFactory,
    GroupFactory,
    RoleAssignmentFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
)
from tests.licensing.test_bad_input import snapshot

pytestmark = pytest.mark.django_db
ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = b"userPrincipalName,displayName,usageLocation,accountEnabled\n"


# -- F1: a Directory sync preview is bound to its tenant and to the file previewed ----------


@pytest.fixture
def two_tenants(client, tenant):
    """`support`: Global administrator of Contoso (current) and Fabrikam, each with a synced
    user the other's export does not list."""
    fabrikam = TenantFactory(name="Fabrikam", initial_domain="fabrikam.onmicrosoft.com")
    account = AccountFactory(username="support")
    RoleAssignmentFactory(account=account, tenant=tenant)
    RoleAssignmentFactory(account=account, tenant=fabrikam)
    DirectoryUserFactory(tenant=tenant, user_principal_name="old@contoso.com", source="synced")
    DirectoryUserFactory(tenant=fabrikam, user_principal_name="keep@fabrikam.com", source="synced")
    client.force_login(account)
    session = client.session
    session[SESSION_TENANT] = tenant.id
    session.save()
    return tenant, fabrikam


def _preview(client, data: bytes):
    return client.post(
        reverse("portal:sync_upload"),
        {"action": "preview", "export": SimpleUploadedFile("export.csv", data, "text/csv")},
    )


def _import(client, data: bytes):
    return client.post(
        reverse("portal:sync_upload"),
        {"action": "import", "sha256": hashlib.sha256(data).hexdigest()},
    )


def test_a_preview_is_never_imported_into_another_tenant(client, two_tenants):
    _contoso, fabrikam = two_tenants
    data = HEADER + b"new@contoso.com,New Person,NL,true\n"
    assert "create new@contoso.com" in _preview(client, data).content.decode()
    # Another tab switches to Fabrikam before Import is pressed.
    client.post(reverse("portal:switch_tenant"), {"tenant": str(fabrikam.public_id)})
    before = snapshot()
    page = _import(client, data).content.decode()
    assert "made for another organization" in page
    assert snapshot() == before
    assert not DirectoryUser.objects.get(user_principal_name="keep@fabrikam.com").is_soft_deleted


def test_import_applies_only_the_file_that_was_previewed(client, two_tenants):
    first = HEADER + b"new@contoso.com,New Person,NL,true\n"
    second = HEADER + b"other@contoso.com,Other Person,NL,true\n"
    _preview(client, first)
    before = snapshot()
    page = _import(client, second).content.decode()  # the page of an older preview
    assert "preview it again" in page
    assert snapshot() == before
    assert _import(client, first).status_code == 303
    assert DirectoryUser.objects.filter(user_principal_name="new@contoso.com").exists()


def test_a_pending_import_is_dropped_after_import_cancel_or_an_hour(client, two_tenants):
    data = HEADER + b"new@contoso.com,New Person,NL,true\n"
    _preview(client, data)
    assert _import(client, data).status_code == 303
    assert SESSION_UPLOAD not in client.session
    assert "expired" in _import(client, data).content.decode()

    _preview(client, data)
    client.post(reverse("portal:sync_upload"), {"action": "cancel"})
    assert SESSION_UPLOAD not in client.session

    _preview(client, data)
    session = client.session
    session[SESSION_UPLOAD] = {**session[SESSION_UPLOAD], "at": time.time() - 3601}
    session.save()
    before = snapshot()
    assert "expired" in _import(client, data).content.decode()
    assert snapshot() == before


# -- F2: CSV formula injection ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTab", "\rReturn"])
def test_download_neutralizes_cells_a_spreadsheet_would_run(client, as_role, tenant, name):
    as_role()
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=1)
    person = DirectoryUserFactory(tenant=tenant, display_name=name)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[person], actor=None
    )
    response = client.get(reverse("portal:product_download", args=[product("AAD_PREMIUM").sku_id]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][0] == "'" + name


def test_nothing_but_the_safe_writer_writes_csv():
    writers = [
        str(path.relative_to(ROOT))
        for folder in ("portal", "licensing")
        for path in (ROOT / folder).rglob("*.py")
        if "csv.writer(" in path.read_text() or "DictWriter(" in path.read_text()
    ]
    assert writers == ["portal/csv_export.py"]


# -- F3: the sync parser is bounded -----------------------------------------------------------


def test_a_file_of_bad_lines_stops_after_the_problem_cap():
    data = HEADER + b"bad,,ZZ,maybe\n" * 300_000  # 4.2 MB
    with pytest.raises(SyncFileError) as refused:
        parse_export(data)
    assert len(refused.value.problems) == MAX_PROBLEMS + 1
    assert "stopped reading" in refused.value.problems[-1][1]


def test_an_overlong_line_is_a_problem_not_a_memory_cost():
    data = HEADER + b"a@contoso.com," + b"x" * 100_000 + b",NL,true\n"
    with pytest.raises(SyncFileError) as refused:
        parse_export(data)
    assert refused.value.problems == [(2, "the line is longer than 4096 characters")]


def test_a_request_body_over_the_limit_is_refused_before_it_is_read(client, as_role):
    as_role()
    response = client.post(
        reverse("portal:sync_upload"),
        {"export": SimpleUploadedFile("big.csv", HEADER + b"x" * (7 * 1024 * 1024))},
    )
    assert response.status_code == 413


@pytest.mark.parametrize("spoof", ["\u202e", "\u200b", "\u2066", "\ufeff", "\u200f"])
def test_names_with_bidi_or_zero_width_characters_are_refused_with_the_line(spoof):
    data = HEADER + f"a@contoso.com,Adm{spoof}in,NL,true\n".encode()
    with pytest.raises(SyncFileError) as refused:
        parse_export(data)
    assert refused.value.problems == [
        (2, "displayName contains invisible or direction-changing characters")
    ]


# -- F4: throttling behind a proxy ------------------------------------------------------------


def _sign_in(client, username, password, address):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR="10.0.0.2",  # the proxy
        HTTP_X_FORWARDED_FOR=f"198.51.100.9, {address}",  # spoofed entry, then the real one
    )


@pytest.fixture
def behind_proxy(settings):
    settings.BEHIND_PROXY = True
    settings.TRUSTED_PROXIES = 1


def test_behind_a_proxy_a_lockout_is_per_user_name_and_client_address(
    client, tenant, behind_proxy, settings
):
    AccountFactory(username="megan@contoso.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "megan@contoso.com", "wrong", "203.0.113.7")
    locked = _sign_in(client, "megan@contoso.com", "correct horse battery staple", "203.0.113.7")
    assert locked.status_code == 429
    # The same admin from her own address (the same proxy) is not locked out.
    ok = _sign_in(client, "megan@contoso.com", "correct horse battery staple", "192.0.2.44")
    assert ok.status_code == 302


def test_one_address_trying_many_names_is_locked_out(client, tenant, behind_proxy, settings):
    AccountFactory(username="megan@contoso.com")
    for i in range(settings.SIGNIN_ADDRESS_LIMIT):
        _sign_in(client, f"guess{i}@contoso.com", "Winter2026!", "203.0.113.7")
    sprayer = _sign_in(client, "megan@contoso.com", "correct horse battery staple", "203.0.113.7")
    assert sprayer.status_code == 429
    assert "_auth_user_id" not in client.session
    other = _sign_in(client, "megan@contoso.com", "correct horse battery staple", "192.0.2.44")
    assert other.status_code == 302


def test_without_a_proxy_forwarded_headers_are_ignored(rf, settings):
    from portal.signin import client_ip

    settings.BEHIND_PROXY = False
    request = rf.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert client_ip(request) == "192.0.2.1"


# -- F5: Django admin changes go through services, audited, consistent ------------------------


def test_changing_a_tenants_country_in_the_admin_re_evaluates_licenses(client, staff, tenant):
    SubscriptionFactory(tenant=tenant, product=product("ENTERPRISEPACK"), units=5)
    person = DirectoryUserFactory(tenant=tenant, usage_location="")
    services.product_assign_to_users(
        tenant=tenant, product=product("ENTERPRISEPACK"), users=[person], actor=None
    )
    response = client.post(
        reverse("admin:licensing_tenant_change", args=[tenant.id]),
        {"name": "Contoso", "country": "IR"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant.refresh_from_db()
    assert str(tenant.country) == "IR"
    # Some plans of E3 are not offered in IR (the user takes the organization's location).
    assert person.licenses.get().error == "ProhibitedInUsageLocationViolation"
    assert consistency_problems(tenant) == []
    event = AuditEvent.objects.get(activity="Set company information")
    assert event.actor == staff and event.details["after"]["country"] == "IR"


def test_granting_and_removing_a_role_in_the_admin_is_audited(client, staff, tenant):
    account = AccountFactory(username="new.admin@contoso.com")
    response = client.post(
        reverse("admin:licensing_roleassignment_add"),
        {"account": account.id, "tenant": tenant.id, "role": "GlobalAdministrator"},
    )
    assert response.status_code == 302
    role = RoleAssignment.objects.get(account=account)
    assert AuditEvent.objects.get(activity="Add member to role").actor == staff
    client.post(reverse("admin:licensing_roleassignment_delete", args=[role.id]), {"post": "yes"})
    assert not RoleAssignment.objects.filter(account=account).exists()
    assert AuditEvent.objects.get(activity="Remove member from role").tenant == tenant


def test_a_tenant_added_in_the_admin_is_audited(client, staff):
    client.post(
        reverse("admin:licensing_tenant_add"),
        {"name": "Northwind", "initial_domain": "northwind.onmicrosoft.com", "country": "BE"},
    )
    northwind = Tenant.objects.get(initial_domain="northwind.onmicrosoft.com")
    assert AuditEvent.objects.get(activity="Add company").tenant == northwind


def test_the_add_group_form_shows_no_internal_field(client, staff):
    page = client.get(reverse("admin:licensing_group_add")).content.decode()
    assert 'name="processing_run"' not in page and 'name="processing_state"' not in page


# -- F6: hostile characters never cause a 500 -------------------------------------------------


@pytest.mark.parametrize(
    "name", ["users", "groups", "audit", "assign", "products"], ids=lambda n: n
)
def test_a_nul_byte_in_a_search_is_a_400_with_a_message(client, as_role, name):
    as_role()
    response = client.get(reverse(f"portal:{name}"), {"q": "a\x00b", "target": "x\x00"})
    assert response.status_code == 400
    assert "control character" in response.content.decode()


def test_a_huge_page_number_is_the_first_page(client, as_role, tenant):
    as_role()
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=1)
    url = reverse("portal:product", args=[product("AAD_PREMIUM").sku_id])
    assert client.get(url, {"page": "9" * 40}).status_code == 200
    assert client.get(url, {"page": "-5"}).status_code == 200


# -- F7: no open redirect ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example"]
)
def test_remove_members_never_redirects_off_the_site(client, as_role, tenant, target):
    as_role()
    group = GroupFactory(tenant=tenant)
    person = DirectoryUserFactory(tenant=tenant)
    services.group_add_members(tenant=tenant, group=group, users=[person], actor=None)
    response = client.post(
        reverse("portal:group_remove_members", args=[group.public_id]),
        {"user": [str(person.public_id)], "next": target},
    )
    assert response.status_code == 303
    assert response["Location"] == reverse("portal:group", args=[group.public_id])


# -- F8: missing input is not "clear everything" ----------------------------------------------


def test_a_usage_location_post_without_the_field_is_refused(client, as_role, tenant):
    as_role()
    person = DirectoryUserFactory(tenant=tenant, usage_location="BE")
    response = client.post(reverse("portal:user_usage_location", args=[person.public_id]), {})
    assert response.status_code == 400
    person.refresh_from_db()
    assert str(person.usage_location) == "BE"


@pytest.mark.parametrize(
    "form",
    [
        {"selection": "direct", "product": ["not-a-guid"]},
        {"selection": "direct", "product": ["00000000-0000-0000-0000-000000000000"]},
        {"product": []},
    ],
    ids=["malformed", "unknown", "no-selection-marker"],
)
def test_the_assignments_dialog_refuses_an_unknown_selection(client, as_role, tenant, form):
    as_role()
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=1)
    person = DirectoryUserFactory(tenant=tenant)
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[person], actor=None
    )
    response = client.post(reverse("portal:user_assignments", args=[person.public_id]), form)
    assert response.status_code == 400
    assert LicenseAssignment.objects.filter(user=person).count() == 1


# -- Also: caching, Vary, and the pager keeps the query ----------------------------------------


def test_authenticated_pages_and_fragments_are_not_stored(client, as_role, htmx_headers):
    as_role()
    for headers in ({}, htmx_headers):
        response = client.get(reverse("portal:users"), headers=headers)
        assert "no-store" in response["Cache-Control"]
        assert "HX-Request" in response["Vary"]


def test_page_two_keeps_the_search_filters_and_sort(client, as_role, tenant):
    as_role()
    DirectoryUserFactory.create_batch(60, tenant=tenant, display_name="Zed Example")
    page = client.get(reverse("portal:users"), {"q": "Zed", "sort": "-upn"}).content.decode()
    assert "?q=Zed&amp;sort=-upn&amp;page=2" in page
    second = client.get(
        reverse("portal:users"), {"q": "Zed", "sort": "-upn", "page": "2"}
    ).content.decode()
    assert "?q=Zed&amp;sort=-upn&amp;page=1" in second
    # A sort header keeps the search and goes back to the first page.
    assert "?q=Zed&amp;sort=upn" in second and "page=2&amp;sort" not in second


# -- Second test, F15: a new secret is shown once, in the POST's answer, never kept server-side --


def _captured(monkeypatch, name: str) -> list:
    """The secrets ``services.<name>`` hands out during the test."""
    seen = []
    original = getattr(services, name)

    def capturing(**kwargs):
        result = original(**kwargs)
        seen.append(result[1])
        return result

    monkeypatch.setattr(services, name, capturing)
    return seen


def _in_any_session(secret: str) -> bool:
    from django.contrib.sessions.models import Session

    return any(secret in str(s.get_decoded()) for s in Session.objects.all())


def test_a_new_client_secret_is_in_the_answer_and_in_no_session(client, as_role, monkeypatch):
    as_role()
    secrets = _captured(monkeypatch, "app_register")
    page = client.post(reverse("portal:apps"), {"name": "Nightly script", "permission": "read"})
    assert page.status_code == 200 and secrets[0] in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    assert not _in_any_session(secrets[0])
    assert secrets[0] not in client.get(reverse("portal:apps")).content.decode()


def test_a_new_scim_token_is_in_the_answer_and_in_no_session(client, as_role, monkeypatch):
    as_role()
    tokens = _captured(monkeypatch, "scim_token_issue")
    page = client.post(reverse("portal:provisioning"))
    assert page.status_code == 200 and tokens[0] in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    assert not _in_any_session(tokens[0])
    assert tokens[0] not in client.get(reverse("portal:provisioning")).content.decode()
