"""Tenants and the portal accounts' roles in them (the support staff's Django admin)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from licensing import audit
from licensing.errors import InvalidInput
from licensing.locking import hold_seats
from licensing.models import DirectoryUser, Role, RoleAssignment, Tenant
from licensing.reconcile import reconcile
from licensing.seats import products_touching
from licensing.services.base import parse_country, service


def _country(code) -> str:
    country = parse_country(str(code or ""))
    if not country:
        raise InvalidInput(_("A tenant needs a country: it is the default usage location."))
    return country


@service
def tenant_create(*, name: str, initial_domain: str, country: str, actor) -> Tenant:
    name, domain = name.strip(), initial_domain.strip().lower()
    if not name or "." not in domain:
        raise InvalidInput(
            _("A tenant needs a name and an initial domain (contoso.onmicrosoft.com).")
        )
    if Tenant.objects.filter(initial_domain=domain).exists():
        raise InvalidInput(_("The initial domain %(d)s is taken.") % {"d": domain})
    tenant = Tenant.objects.create(name=name, initial_domain=domain, country=_country(country))
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.ADD_COMPANY,
        target=tenant,
        target_type="Tenant",
        details={"initial_domain": domain, "country": str(tenant.country)},
    )
    return tenant


@service
def tenant_update(*, tenant: Tenant, name: str, country: str, actor) -> None:
    """Rename a tenant or change its country. The country is the usage location of every user
    without one of their own, so changing it re-evaluates their licenses (rules, "Usage
    location")."""
    current = Tenant.objects.select_for_update().get(pk=tenant.pk)
    name, code = name.strip(), _country(country)
    if not name:
        raise InvalidInput(_("A tenant needs a name."))
    before = {"name": current.name, "country": str(current.country)}
    after = {"name": name, "country": code}
    if before == after:
        return
    Tenant.objects.filter(pk=tenant.pk).update(name=name, country=code)
    tenant.name, tenant.country = name, code
    if before["country"] != code:
        affected = DirectoryUser.objects.filter(tenant=tenant, usage_location="").values("id")
        locked = hold_seats(tenant, products_touching(tenant, users=affected))
        reconcile(
            tenant=tenant,
            user_ids=list(affected.values_list("id", flat=True)),
            locked_products=locked,
        )
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.UPDATE_COMPANY,
        target=tenant,
        target_type="Tenant",
        details={"before": before, "after": after},
    )


@service
def role_set(*, tenant: Tenant, account, role: str, actor) -> RoleAssignment:
    """Give a portal account a role in a tenant, or change the one it has (one per tenant)."""
    if role not in Role.values:
        raise InvalidInput(_("Unknown role “%(r)s”.") % {"r": role})
    existing = RoleAssignment.objects.filter(account=account, tenant=tenant).first()
    before = existing.role if existing else None
    if before == role:
        return existing
    assignment, _created = RoleAssignment.objects.update_or_create(
        account=account, tenant=tenant, defaults={"role": role}
    )
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.ADD_ROLE_MEMBER if before is None else audit.UPDATE_ROLE_MEMBER,
        target=account.get_username(),
        target_type="Account",
        details={"role": {"before": before, "after": role}},
    )
    return assignment


@service
def role_remove(*, tenant: Tenant, account, actor) -> None:
    assignment = RoleAssignment.objects.filter(account=account, tenant=tenant).first()
    if assignment is None:
        raise InvalidInput(_("%(a)s has no role in %(t)s.") % {"a": account, "t": tenant})
    assignment.delete()
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.REMOVE_ROLE_MEMBER,
        target=account.get_username(),
        target_type="Account",
        details={"role": {"before": assignment.role, "after": None}},
    )
