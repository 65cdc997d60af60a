from __future__ import annotations


def portal(request) -> dict:
    """The shell's data: the tenant and role of the signed-in account, and its other tenants."""
    role = getattr(request, "role", None)
    if role is None:
        return {}
    return {
        "current_role": role,
        "current_tenant": role.tenant,
        "other_roles": [r for r in request.roles if r.tenant_id != role.tenant_id],
        "can_manage_licenses": role.can_manage_licenses,
        "can_manage_directory": role.can_manage_directory,
    }
