"""The services: the only code that changes license state (README, "Conventions").

Each takes keyword arguments and the actor, runs in one transaction, locks the seats it may
touch, writes an AuditEvent, and lets ``licensing.reconcile`` derive the UserLicense rows.
"""

from __future__ import annotations

from licensing.services.apps import app_authenticate, app_register, app_revoke
from licensing.services.assignments import (
    assignment_set_disabled_plans,
    direct_licenses_change,
    product_assign_to_users,
    product_remove_from_users,
    user_set_direct_products,
)
from licensing.services.catalog import catalog_products_changed
from licensing.services.directory import (
    PROFILE_FIELDS,
    purge_expired_users,
    reprocess_product,
    reprocess_user,
    user_create,
    user_delete_permanently,
    user_restore,
    user_set_usage_location,
    user_soft_delete,
    user_update_profile,
    users_purge_expired,
)
from licensing.services.groups import (
    group_add_members,
    group_assign_products,
    group_create,
    group_delete,
    group_licenses_change,
    group_remove_members,
    group_remove_products,
    group_update,
    licenses_assign,
    reprocess_group,
)
from licensing.services.provisioning import (
    group_deprovision,
    group_provision,
    group_provision_update,
    group_set_members,
    user_deprovision,
    user_provision,
    user_provision_update,
)
from licensing.services.scim import scim_authenticate, scim_token_issue, scim_token_revoke
from licensing.services.subscriptions import (
    subscription_create,
    subscription_delete,
    subscription_update,
    subscriptions_advance,
)
from licensing.services.tenants import role_remove, role_set, tenant_create, tenant_update

__all__ = [
    "PROFILE_FIELDS",
    "app_authenticate",
    "app_register",
    "app_revoke",
    "assignment_set_disabled_plans",
    "catalog_products_changed",
    "direct_licenses_change",
    "group_add_members",
    "group_assign_products",
    "group_create",
    "group_delete",
    "group_deprovision",
    "group_licenses_change",
    "group_provision",
    "group_provision_update",
    "group_remove_members",
    "group_remove_products",
    "group_set_members",
    "group_update",
    "licenses_assign",
    "product_assign_to_users",
    "product_remove_from_users",
    "purge_expired_users",
    "reprocess_group",
    "reprocess_product",
    "reprocess_user",
    "role_remove",
    "role_set",
    "scim_authenticate",
    "scim_token_issue",
    "scim_token_revoke",
    "subscription_create",
    "subscription_delete",
    "subscription_update",
    "subscriptions_advance",
    "tenant_create",
    "tenant_update",
    "user_create",
    "user_delete_permanently",
    "user_deprovision",
    "user_provision",
    "user_provision_update",
    "user_restore",
    "user_set_direct_products",
    "user_set_usage_location",
    "user_soft_delete",
    "user_update_profile",
    "users_purge_expired",
]
