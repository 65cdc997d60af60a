"""Restore a deleted user, and import a directory export after its dry-run preview."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from licensing import services
from licensing.models import DirectoryUser, UserLicense
from tests.e2e.conftest import assert_accessible
from tests.factories import DirectoryUserFactory, SubscriptionFactory, product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_restore_a_deleted_user_from_deleted_users(page, signed_in, tenant):
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=5)
    leaver = DirectoryUserFactory(tenant=tenant, display_name="Lee Leaver", source="synced")
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[leaver], actor=None
    )
    services.user_soft_delete(tenant=tenant, user=leaver, actor=None)
    signed_in()
    page.goto("/users/")
    page.get_by_role("link", name="Deleted users").click()
    row = page.locator("#deleted-rows tr", has_text="Lee Leaver")
    expect(row).to_contain_text("29")
    assert_accessible(page)
    row.get_by_role("button", name="Restore user").click()
    expect(page.locator("#notifications")).to_contain_text("Restored Lee Leaver.")
    expect(page.locator("#deleted-rows")).to_contain_text("No deleted users.")
    assert UserLicense.objects.get(user=leaver).state == "Active"


def test_upload_a_directory_export_with_its_dry_run_preview(page, signed_in, tenant):
    DirectoryUserFactory(
        tenant=tenant, user_principal_name="gone@contoso.com", display_name="Gone", source="synced"
    )
    signed_in()
    page.goto("/users/sync/")
    assert_accessible(page)
    export = b"userPrincipalName,displayName,usageLocation,accountEnabled\nnew@contoso.com,New Person,NL,true\n"
    page.set_input_files(
        "#export", files=[{"name": "export.csv", "mimeType": "text/csv", "buffer": export}]
    )
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_role("region", name="Preview of export.csv")
    expect(preview).to_contain_text("create new@contoso.com")
    expect(preview).to_contain_text("soft-delete gone@contoso.com")
    assert_accessible(page)
    assert not DirectoryUser.objects.filter(user_principal_name="new@contoso.com").exists()
    page.get_by_role("button", name="Import").click()
    page.wait_for_url("**/users/")
    expect(page.locator("#notifications")).to_contain_text("created: 1")
    assert DirectoryUser.objects.get(user_principal_name="gone@contoso.com").is_soft_deleted
