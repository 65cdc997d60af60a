"""Portal accounts as sign-in and every page read them: their roles in tenants, their bound
identity, their language. Accounts are not a tenant's: these take the account."""

from __future__ import annotations

from licensing.models import AccountIdentity, AccountPreferences, RoleAssignment


def roles(*, account) -> list[RoleAssignment]:
    """The account's roles, one per tenant, with the tenant, by tenant name (one query)."""
    return list(
        RoleAssignment.objects.filter(account=account)
        .select_related("tenant")
        .order_by("tenant__name")
    )


def has_role(*, account) -> bool:
    """Whether the account has a role in any tenant."""
    return RoleAssignment.objects.filter(account=account).exists()


def bound_identity(*, issuer: str, subject: str, tenant_id: str) -> AccountIdentity | None:
    """The binding of this organization identity to an account, with the account, or None."""
    return (
        AccountIdentity.objects.select_related("account")
        .filter(issuer=issuer, subject=subject, tenant_id=tenant_id)
        .first()
    )


def language(*, account) -> str:
    """The language the account chose, or "" (the portal's default)."""
    return (
        AccountPreferences.objects.filter(account=account)
        .values_list("language", flat=True)
        .first()
    ) or ""
