"""Writing the audit trail (docs/rules.md §10). Called by services inside their transaction."""

from __future__ import annotations

from typing import Any

from licensing.models import AuditEvent, Tenant

# Activity names follow Azure AD's audit log.
CHANGE_USER_LICENSE = "Change user license"
ADD_USER = "Add user"
ADD_GROUP = "Add group"
SET_GROUP_LICENSE = "Set group license"
START_GROUP_APPLY = "Start applying group based license to users"
FINISH_GROUP_APPLY = "Finish applying group based license to users"
ADD_MEMBER = "Add member to group"
REMOVE_MEMBER = "Remove member from group"
DELETE_GROUP = "Delete group"
UPDATE_GROUP = "Update group"
UPDATE_USER = "Update user"
DELETE_USER = "Delete user"
RESTORE_USER = "Restore user"
HARD_DELETE_USER = "Hard delete user"
REPROCESS_USER = "Reprocess user license assignment"
REPROCESS_GROUP = "Reprocess group license assignment"
REPROCESS_PRODUCT = "Reprocess product license assignments"
CHANGE_SUBSCRIPTION = "Change subscription"
ADD_COMPANY = "Add company"
UPDATE_CATALOG = "Update service plans"
UPDATE_COMPANY = "Set company information"
ADD_ROLE_MEMBER = "Add member to role"
UPDATE_ROLE_MEMBER = "Update role membership"
REMOVE_ROLE_MEMBER = "Remove member from role"
ADD_APPLICATION = "Add application"
REVOKE_APPLICATION = "Remove service principal credentials"
SIGN_IN = "Sign-in activity"
ADD_PROVISIONING_TOKEN = "Add provisioning credentials"
REVOKE_PROVISIONING_TOKEN = "Remove provisioning credentials"


# Group processing runs are the system's own doing (Azure: "Microsoft Entra group-Based
# Licensing"); the change that queued a run is audited with its admin.
GROUP_LICENSING = "Group-based licensing"


def finish_summary(assigned: int, failed: int) -> str:
    return (
        f"Users successfully assigned licenses: {assigned}, "
        f"Users for whom license assignment failed: {failed}."
    )


def actor_name(actor) -> str:
    if actor is None:
        return "System"
    if isinstance(actor, str):
        return actor
    return actor.get_username()


def event(
    *,
    tenant: Tenant | None,
    actor,
    activity: str,
    target: Any,
    target_type: str,
    details: dict | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        **fields(tenant, actor, activity, target, target_type, details)
    )


def sign_in(*, actor, who: str, method: str, success: bool, reason: str = "") -> AuditEvent:
    """A sign-in to the portal, successful or not (no tenant: the account's, not a tenant's)."""
    details = {"method": method, "result": "success" if success else "failure"}
    if reason:
        details["reason"] = reason
    return event(
        tenant=None,
        actor=actor,
        activity=SIGN_IN,
        target=str(who or "")[:150],
        target_type="Account",
        details=details,
    )


def events(*, tenant, actor, activity: str, targets, target_type: str, details_for) -> None:
    """One event per target, in one INSERT (assigning 1,000 users writes 1,000 events)."""
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(**fields(tenant, actor, activity, t, target_type, details_for(t)))
            for t in targets
        ],
        batch_size=2000,
    )


def fields(tenant, actor, activity, target, target_type, details) -> dict:
    """An event's fields (``AuditEvent`` keyword arguments) for one target."""
    public_id = getattr(target, "public_id", None) or getattr(target, "sku_id", None)
    name = getattr(target, "user_principal_name", None) or str(target)
    return {
        "tenant": tenant,
        "actor": actor if getattr(actor, "pk", None) else None,
        "actor_name": actor_name(actor),
        "activity": activity,
        "target_type": target_type,
        "target_id": str(public_id or ""),
        "target_name": name[:256],
        "details": details or {},
    }
