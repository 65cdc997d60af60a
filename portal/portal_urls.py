"""The blades. Public ids in URLs are UUIDs: a malformed id never reaches a view (404)."""

from __future__ import annotations

from django.urls import path

from portal.views import (
    apps,
    audit,
    directory,
    groups,
    licenses,
    products,
    provisioning,
    tenants,
    users,
)

app_name = "portal"

urlpatterns = [
    path("tenant/switch/", tenants.switch_tenant, name="switch_tenant"),
    path("licenses/", licenses.overview, name="overview"),
    path("licenses/products/", products.product_list, name="products"),
    path("licenses/products/<uuid:sku_id>/", products.licensed_users, name="product"),
    path(
        "licenses/products/<uuid:sku_id>/groups/", products.licensed_groups, name="product_groups"
    ),
    path("licenses/products/<uuid:sku_id>/plans/", products.service_plans, name="product_plans"),
    path("licenses/products/<uuid:sku_id>/download/", products.download, name="product_download"),
    path("licenses/products/<uuid:sku_id>/remove/", products.remove_license, name="product_remove"),
    path(
        "licenses/products/<uuid:sku_id>/reprocess/", products.reprocess, name="product_reprocess"
    ),
    path("licenses/assign/", licenses.assign, name="assign"),
    path("users/", users.user_list, name="users"),
    path("users/deleted/", directory.deleted_users, name="deleted_users"),
    path("users/sync/", directory.sync_upload, name="sync_upload"),
    path("users/<uuid:user_id>/restore/", directory.restore_user, name="user_restore"),
    path("users/<uuid:user_id>/delete/", directory.delete_permanently, name="user_delete"),
    path("users/<uuid:user_id>/", users.profile, name="user"),
    path("users/<uuid:user_id>/licenses/", users.licenses, name="user_licenses"),
    path("users/<uuid:user_id>/licenses/assignments/", users.assignments, name="user_assignments"),
    path(
        "users/<uuid:user_id>/licenses/<uuid:sku_id>/plans/",
        users.license_plans,
        name="user_license_plans",
    ),
    path("users/<uuid:user_id>/licenses/remove/", users.remove_license, name="user_remove_license"),
    path("users/<uuid:user_id>/licenses/reprocess/", users.reprocess, name="user_reprocess"),
    path(
        "users/<uuid:user_id>/usage-location/", users.set_usage_location, name="user_usage_location"
    ),
    path("groups/", groups.group_list, name="groups"),
    path("groups/<uuid:group_id>/", groups.group_overview, name="group"),
    path("groups/<uuid:group_id>/licenses/", groups.group_licenses, name="group_licenses"),
    path(
        "groups/<uuid:group_id>/licenses/remove/",
        groups.remove_licenses,
        name="group_remove_licenses",
    ),
    path("groups/<uuid:group_id>/reprocess/", groups.reprocess, name="group_reprocess"),
    path("groups/<uuid:group_id>/members/add/", groups.add_members, name="group_add_members"),
    path(
        "groups/<uuid:group_id>/members/remove/", groups.remove_members, name="group_remove_members"
    ),
    path("groups/<uuid:group_id>/delete/", groups.delete, name="group_delete"),
    path("audit/", audit.audit_log, name="audit"),
    path("apps/", apps.app_list, name="apps"),
    path("apps/<uuid:client_id>/revoke/", apps.app_revoke, name="app_revoke"),
    path("provisioning/", provisioning.provisioning, name="provisioning"),
    path("provisioning/<uuid:token_id>/revoke/", provisioning.revoke, name="provisioning_revoke"),
]
