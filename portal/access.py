"""Who is signed in, for which tenant, with which role.

Every portal view runs under ``@portal_view``: the account's role in the current tenant is
``request.role`` and the tenant ``request.tenant``. Objects are always looked up within
``request.tenant``, so another tenant's object is a 404; a changing request from a role that
may not make it is a 403.
"""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect

from licensing import selectors
from licensing.models import RoleAssignment

SESSION_TENANT = "portal_tenant_id"


def roles_of(account) -> list[RoleAssignment]:
    return selectors.accounts.roles(account=account)


def pick_role(request: HttpRequest, roles: list[RoleAssignment]) -> RoleAssignment | None:
    wanted = request.session.get(SESSION_TENANT)
    return next((r for r in roles if r.tenant_id == wanted), roles[0] if roles else None)


def portal_view(view):
    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        roles = roles_of(request.user)
        role = pick_role(request, roles)
        if role is None:
            if request.user.is_staff:
                return redirect("admin:index")
            raise PermissionDenied("This account has no role in any organization.")
        request.role, request.tenant, request.roles = role, role.tenant, roles
        return view(request, *args, **kwargs)

    return wrapper


def require_license_admin(request: HttpRequest) -> None:
    """Global and License administrators change licenses; a Global reader changes nothing."""
    if not request.role.can_manage_licenses:
        raise PermissionDenied("Your role can view licenses but not change them.")


def require_directory_admin(request: HttpRequest) -> None:
    """Groups and their members are the Global administrator's."""
    if not request.role.can_manage_directory:
        raise PermissionDenied("Your role cannot change groups or their members.")
