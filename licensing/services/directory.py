"""Directory changes that move licenses: usage location (docs/rules.md §2), soft delete,
restore and permanent delete (docs/rules.md §7)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from licensing import audit
from licensing.errors import InvalidInput, NameTaken
from licensing.locking import hold_seats
from licensing.models import (
    DirectoryUser,
    GroupMembership,
    LicenseError,
    Product,
    Tenant,
    UserSource,
)
from licensing.reconcile import reconcile
from licensing.seats import (
    add_members_counted,
    delete_with_paths,
    products_touching,
    recount_assigned,
)
from licensing.services.base import check_tenant, parse_country, save_changed, service

RESTORE_WINDOW = timedelta(days=30)


# The one rule for the names and text fields of the directory, whoever writes them (SCIM, the
# directory sync, the Django admin, an app's name on the portal's form): text, trimmed, not
# longer than its column, with no control character (PostgreSQL cannot store NUL; none belongs
# in a name) or half of a surrogate pair, and none of the characters that make a name read
# differently from what it is (bidirectional marks, overrides and isolates, zero-width
# characters): "\u202enimda" shows as "admin" in a list.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
SPOOFING = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def hidden_characters(value: str) -> bool:
    """Whether the text holds a character the rule refuses (control or spoofing)."""
    return bool(CONTROL.search(value) or SPOOFING.search(value))


def clean_text(value, *, field: str, max_length: int, required: bool = False) -> str:
    """``value`` by the directory's rule (above), trimmed; else ``InvalidInput`` naming the
    field. ``None`` is empty."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(_("%(field)s must be text.") % {"field": field})
    value = value.strip()
    if required and not value:
        raise InvalidInput(_("%(field)s is required.") % {"field": field})
    if len(value) > max_length:
        raise InvalidInput(
            _("%(field)s is longer than %(n)d characters.") % {"field": field, "n": max_length}
        )
    if CONTROL.search(value):
        raise InvalidInput(_("%(field)s contains a control character.") % {"field": field})
    if SPOOFING.search(value):
        raise InvalidInput(
            _("%(field)s contains invisible or direction-changing characters.") % {"field": field}
        )
    return value


# The text fields of a user, with the words their refusals use.
TEXT_FIELDS = {
    "display_name": gettext_lazy("Display name"),
    "external_id": gettext_lazy("External id"),
    "department": gettext_lazy("Department"),
    "job_title": gettext_lazy("Job title"),
    "on_premises_immutable_id": gettext_lazy("On-premises immutable id"),
}


def _user_text(field: str, value, *, required: bool = False) -> str:
    return clean_text(
        value,
        field=str(TEXT_FIELDS[field]),
        max_length=DirectoryUser._meta.get_field(field).max_length,
        required=required,
    )


def _valid_upn(value, *, any_user_name: bool = False) -> str:
    """A user principal name (name@domain). ``any_user_name``: an identity provider's
    userName, which SCIM lets be any name without spaces (Entra's are UPNs anyway)."""
    upn = value.strip() if isinstance(value, str) else ""
    malformed = (
        not upn
        or any(c.isspace() for c in upn)
        or len(upn) > DirectoryUser._meta.get_field("user_principal_name").max_length
        or hidden_characters(upn)
    )
    if not any_user_name:
        malformed = malformed or "@" not in upn or upn.startswith("@") or upn.endswith("@")
    if malformed:
        shown = CONTROL.sub("?", str(value))[:120] if isinstance(value, str) else repr(value)[:60]
        raise InvalidInput(_("“%(upn)s” is not a valid user principal name.") % {"upn": shown})
    return upn


UNIQUE_NAME = "uniq_tenant_upn_ci"


def _taken(upn: str) -> NameTaken:
    return NameTaken(_("A user named %(upn)s already exists.") % {"upn": upn})


def _refuse_taken(tenant: Tenant, upn: str, *, user: DirectoryUser | None = None) -> None:
    """User principal names are unique in a tenant, whatever their case. This check gives the
    usual refusal its message; the unique constraint decides a race (:func:`_name_written`)."""
    others = DirectoryUser.objects.filter(tenant=tenant, user_principal_name__iexact=upn)
    if user is not None:
        others = others.exclude(id=user.id)
    if others.exists():
        raise _taken(upn)


@contextmanager
def _name_written(upn: str):
    """Write a user principal name: when a concurrent request wrote the same name after our
    check, the constraint refuses the second (the race two creates or two renames run), and
    that is ``NameTaken`` as the check would have said, not a 500."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        if unique_violation(error, UNIQUE_NAME):
            raise _taken(upn) from None
        raise


def unique_violation(error: IntegrityError, constraint: str) -> bool:
    """Whether ``error`` is PostgreSQL refusing a duplicate of this unique constraint."""
    diag = getattr(error.__cause__, "diag", None)
    if diag is None:  # SQLite (make run) names no constraint
        return "UNIQUE" in str(error).upper()
    return diag.constraint_name == constraint


@service
def user_create(
    *,
    tenant: Tenant,
    user_principal_name: str,
    display_name: str,
    usage_location: str = "",
    source: str = UserSource.CLOUD,
    account_enabled: bool = True,
    department: str = "",
    job_title: str = "",
    on_premises_immutable_id: str = "",
    any_user_name: bool = False,
    actor,
) -> DirectoryUser:
    upn = _valid_upn(user_principal_name, any_user_name=any_user_name)
    text = {
        "display_name": _user_text("display_name", display_name or upn, required=True),
        "department": _user_text("department", department),
        "job_title": _user_text("job_title", job_title),
        "on_premises_immutable_id": _user_text(
            "on_premises_immutable_id", on_premises_immutable_id
        ),
    }
    _refuse_taken(tenant, upn)
    with _name_written(upn):
        user = DirectoryUser.objects.create(
            tenant=tenant,
            user_principal_name=upn,
            usage_location=parse_country(usage_location),
            source=source,
            account_enabled=account_enabled,
            **text,
        )
    audit.event(
        tenant=tenant, actor=actor, activity=audit.ADD_USER, target=user, target_type="User"
    )
    return user


@service
def user_set_usage_location(
    *, tenant: Tenant, user: DirectoryUser, usage_location: str | None, actor
) -> None:
    """Changing the usage location re-evaluates the user's licenses (docs/rules.md §2)."""
    check_tenant(tenant, user)
    code = parse_country(usage_location)
    before = str(_current(user, "usage_location") or "")
    if code == before:
        return
    locked = hold_seats(tenant, products_touching(tenant, users=[user.id]))
    DirectoryUser.objects.filter(id=user.id).update(usage_location=code, modified_at=timezone.now())
    reconcile(tenant=tenant, user_ids=[user.id], locked_products=locked)
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.UPDATE_USER,
        target=user,
        target_type="User",
        details={"usage_location": {"before": before, "after": code}},
    )
    user.usage_location = code


def _current(user: DirectoryUser, field: str):
    """The field as stored, not as the caller's object says: an attempt of a service that is
    retried (more seat locks) must not see what the rolled-back attempt set on the object."""
    return DirectoryUser.objects.filter(id=user.id).values_list(field, flat=True).get()


@service
def user_soft_delete(*, tenant: Tenant, user: DirectoryUser, actor, reason: str = "") -> None:
    """Every license of the user becomes Suspended and keeps its seat (docs/rules.md §7)."""
    check_tenant(tenant, user)
    if _current(user, "soft_deleted_at") is not None:
        raise InvalidInput(_("%(user)s is already deleted.") % {"user": user.user_principal_name})
    locked = hold_seats(tenant, products_touching(tenant, users=[user.id]))
    now = timezone.now()
    DirectoryUser.objects.filter(id=user.id).update(soft_deleted_at=now, modified_at=now)
    reconcile(tenant=tenant, user_ids=[user.id], locked_products=locked)
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.DELETE_USER,
        target=user,
        target_type="User",
        details={"reason": reason} if reason else {},
    )
    user.soft_deleted_at = now


@service
def user_restore(*, tenant: Tenant, user: DirectoryUser, actor) -> int:
    """Licenses become active again; where the product became over-assigned meanwhile, the
    restored user's paths get CountViolation rather than exceed Total. Returns how many of
    the user's licenses wait for a seat."""
    check_tenant(tenant, user)
    if _current(user, "soft_deleted_at") is None:
        raise InvalidInput(_("%(user)s is not deleted.") % {"user": user.user_principal_name})
    locked = hold_seats(tenant, products_touching(tenant, users=[user.id]))
    DirectoryUser.objects.filter(id=user.id).update(
        soft_deleted_at=None, modified_at=timezone.now()
    )
    result = reconcile(
        tenant=tenant, user_ids=[user.id], locked_products=locked, restoring=[user.id]
    )
    audit.event(
        tenant=tenant, actor=actor, activity=audit.RESTORE_USER, target=user, target_type="User"
    )
    user.soft_deleted_at = None
    return sum(
        1
        for (_, user_id), want in result.desired.items()
        if user_id == user.id and want.error == LicenseError.COUNT
    )


@service
def user_delete_permanently(*, tenant: Tenant, user: DirectoryUser, actor) -> None:
    """Removes the user with every assignment and membership; the seats are freed."""
    check_tenant(tenant, user)
    products = products_touching(tenant, users=[user.id])
    locked = hold_seats(tenant, products)
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.HARD_DELETE_USER,
        target=user,
        target_type="User",
    )
    groups = list(GroupMembership.objects.filter(user=user).values_list("group_id", flat=True))
    # A queryset, not the instance: a retried attempt (more locks) deletes it again.
    delete_with_paths(tenant, DirectoryUser.objects.filter(id=user.id), products)
    add_members_counted(groups, -1)
    # Seats freed here go to users waiting for them.
    reconcile(tenant=tenant, user_ids=[], products=products, locked_products=locked)


def users_purge_expired(*, tenant: Tenant, actor, now=None) -> int:
    """Permanently delete users soft-deleted more than 30 days ago."""
    cutoff = (now or timezone.now()) - RESTORE_WINDOW
    expired = list(DirectoryUser.objects.filter(tenant=tenant, soft_deleted_at__lt=cutoff))
    for user in expired:
        user_delete_permanently(tenant=tenant, user=user, actor=actor)
    return len(expired)


def purge_expired_users(*, actor, now=None) -> dict[Tenant, int]:
    """``users_purge_expired`` for every tenant: how many users each lost (the daily job)."""
    purged = {
        t: users_purge_expired(tenant=t, actor=actor, now=now)
        for t in Tenant.objects.order_by("name")
    }
    return {t: n for t, n in purged.items() if n}


@service
def reprocess_user(*, tenant: Tenant, user: DirectoryUser, actor) -> None:
    check_tenant(tenant, user)
    locked = hold_seats(tenant, products_touching(tenant, users=[user.id]))
    # Reprocess repairs: the counters are set from the rows before anything reads them.
    recount_assigned(tenant, locked)
    reconcile(tenant=tenant, user_ids=[user.id], locked_products=locked)
    audit.event(
        tenant=tenant, actor=actor, activity=audit.REPROCESS_USER, target=user, target_type="User"
    )


@service
def reprocess_product(*, tenant: Tenant, product: Product, actor) -> None:
    from licensing.models import UserLicense

    users = UserLicense.objects.filter(tenant=tenant, product=product).values("user_id")
    locked = hold_seats(tenant, products_touching(tenant, users=users, products=[product.id]))
    recount_assigned(tenant, locked)
    reconcile(
        tenant=tenant,
        user_ids=users.values_list("user_id", flat=True),
        products=[product.id],
        locked_products=locked,
    )
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.REPROCESS_PRODUCT,
        target=product,
        target_type="Product",
    )


# What an identity provider also keeps in step (SCIM), besides the profile fields.
IDENTITY_FIELDS = ("user_principal_name", "external_id")
PROFILE_FIELDS = (
    "display_name",
    "account_enabled",
    "department",
    "job_title",
    "on_premises_immutable_id",
)


@service
def user_update_profile(
    *, tenant: Tenant, user: DirectoryUser, actor, any_user_name: bool = False, **changes
) -> None:
    """Profile fields that do not move licenses (display name, account enabled, department,
    job title, on-premises immutable id); audited like every other change."""
    check_tenant(tenant, user)
    unknown = set(changes) - set(PROFILE_FIELDS) - set(IDENTITY_FIELDS)
    if unknown:
        raise InvalidInput(_("Not a profile field: %(f)s") % {"f": ", ".join(sorted(unknown))})
    if "display_name" in changes:
        changes["display_name"] = _user_text("display_name", changes["display_name"], required=True)
    if "account_enabled" in changes:
        changes["account_enabled"] = bool(changes["account_enabled"])
    if "user_principal_name" in changes:
        upn = changes["user_principal_name"] = _valid_upn(
            changes["user_principal_name"], any_user_name=any_user_name
        )
        _refuse_taken(tenant, upn, user=user)
    for field in ("external_id", "department", "job_title", "on_premises_immutable_id"):
        if field in changes:
            changes[field] = _user_text(field, changes[field])
    with _name_written(changes.get("user_principal_name", "")):
        before, after = save_changed(user, changes)
    if not after:
        return
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.UPDATE_USER,
        target=user,
        target_type="User",
        details={"before": before, "after": after},
    )
