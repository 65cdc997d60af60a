"""What an identity provider changes by SCIM (docs/provisioning.md), one service per request:
each creates or changes a user or a group whole, in one transaction, through the services the
portal uses, and is audited as they are. The provider's disabled users are soft-deleted here
and stay in its groups (``deleted_too``). A change or deletion may be on condition of the
version the provider read (``if_match``, SCIM's ``If-Match``): the row is locked, its version
checked and the change made in one transaction, so of two writers who read the same version
one wins and the other is refused (``VersionChanged``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

from django.utils.translation import gettext as _

from licensing.errors import NotFound, VersionChanged
from licensing.models import DirectoryUser, Group, GroupMembership, Tenant, UserSource
from licensing.services.base import check_tenant, service
from licensing.services.directory import (
    user_create,
    user_delete_permanently,
    user_restore,
    user_set_usage_location,
    user_soft_delete,
    user_update_profile,
)
from licensing.services.groups import (
    group_add_members,
    group_create,
    group_delete,
    group_remove_members,
    group_update,
)

# ``if_match``'s "whatever version it has now" (If-Match: *).
ANY_VERSION = "*"


def _digest(values: list) -> str:
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:16]


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")


def user_version(user: DirectoryUser) -> str:
    """The user's version as the provider sees it (SCIM's ``meta.version``): a digest of what
    SCIM shows of the user, so it changes when one of those does, and only then."""
    return _digest(
        [
            user.user_principal_name,
            user.display_name,
            user.external_id,
            user.job_title,
            user.department,
            str(user.usage_location or ""),
            user.is_soft_deleted,
        ]
    )


def group_version(group: Group) -> str:
    """The group's version as the provider sees it (SCIM's ``meta.version``), from its row
    alone, so that a group of 60,000 members has one without reading them: its name and id,
    and its members by how many there are and when they last changed (``modified_at``, which
    every change of members writes; a member deleted for good lowers the count). A change of
    the description, which SCIM does not show, changes it too."""
    return _digest(
        [
            group.name,
            group.external_id,
            group.member_counter,
            _moment(group.modified_at or group.created_at),
        ]
    )


def _held(obj, version, if_match: Collection[str] | None):
    """``obj`` read again and locked to the end of the transaction, when the change is on
    condition of its version (``if_match``: the versions it may have, or ``ANY_VERSION``);
    ``VersionChanged`` when it has none of them. Without a condition, ``obj`` as it is."""
    if if_match is None:
        return obj
    current = type(obj).objects.select_for_update().filter(id=obj.id).first()
    if current is None:
        raise NotFound(_("%(name)s was not found in this organization.") % {"name": obj})
    if ANY_VERSION not in if_match and version(current) not in if_match:
        raise VersionChanged(
            _("%(name)s changed since the version the request names. Read it again.")
            % {"name": current}
        )
    return current


@service
def user_provision(
    *,
    tenant: Tenant,
    user_principal_name: str,
    display_name: str = "",
    usage_location: str = "",
    profile: Mapping[str, object] | None = None,
    active: bool | None = None,
    actor,
) -> DirectoryUser:
    """A user the provider creates: synced, with any user name SCIM allows, then the rest of
    its ``profile`` (``user_update_profile``'s fields), and soft-deleted when it arrives
    disabled (``active`` False)."""
    user = user_create(
        tenant=tenant,
        user_principal_name=user_principal_name,
        display_name=display_name or user_principal_name,
        usage_location=usage_location or "",
        source=UserSource.SYNCED,
        any_user_name=True,
        actor=actor,
    )
    _change_user(tenant, user, profile=profile, usage_location=None, active=active, actor=actor)
    return user


@service
def user_provision_update(
    *,
    tenant: Tenant,
    user: DirectoryUser,
    profile: Mapping[str, object] | None = None,
    usage_location: str | None = None,
    active: bool | None = None,
    actor,
    if_match: Collection[str] | None = None,
) -> None:
    """The provider's change of a user, all or nothing: its ``profile``, a restore when
    ``active`` is True, the usage location (None: unchanged), a soft delete when ``active`` is
    False. The profile first: it moves no license, so it is written before anything locks the
    seats, which are then held only for the changes that need them. ``if_match``: only if the
    user still has one of these versions (``user_version``)."""
    check_tenant(tenant, user)
    user = _held(user, user_version, if_match)
    _change_user(
        tenant, user, profile=profile, usage_location=usage_location, active=active, actor=actor
    )


@service
def group_provision(
    *,
    tenant: Tenant,
    name: str,
    external_id: str = "",
    members: Sequence[DirectoryUser] = (),
    actor,
) -> Group:
    """A group the provider creates, with its id at the provider and its first members (the
    provider's disabled users among them)."""
    group = group_create(tenant=tenant, name=name, actor=actor)
    if external_id:
        group_update(tenant=tenant, group=group, external_id=external_id, actor=actor)
    if members:
        group_add_members(tenant=tenant, group=group, users=members, actor=actor, deleted_too=True)
    return group


@service
def group_set_members(
    *,
    tenant: Tenant,
    group: Group,
    users: Sequence[DirectoryUser],
    actor,
    deleted_too: bool = False,
) -> None:
    """The group's members become exactly ``users``: the others leave, then the newcomers
    join (``group_add_members``'s ``deleted_too``); members who stay are left as they are."""
    check_tenant(tenant, group, *users)
    _set_members(tenant, group, users, actor=actor, deleted_too=deleted_too)


@service
def group_provision_update(
    *,
    tenant: Tenant,
    group: Group,
    changes: Mapping[str, str] | None = None,
    members: Sequence[DirectoryUser] | None = None,
    add: Sequence[DirectoryUser] = (),
    remove: Sequence[DirectoryUser] = (),
    actor,
    if_match: Collection[str] | None = None,
) -> None:
    """The provider's change of a group, all or nothing: ``changes`` to its name and id
    (``group_update``), then its members: exactly ``members`` when given, else ``add`` and
    ``remove``, where who already is a member is not added and who is not is not removed.
    The members leave in one step and join in one, so the seats are locked once for each,
    however many operations a PATCH had. ``if_match``: only if the group still has one of
    these versions (``group_version``)."""
    check_tenant(tenant, group)
    group = _held(group, group_version, if_match)
    if changes:  # no seat lock: a group's name and id move no license
        group_update(tenant=tenant, group=group, actor=actor, **dict(changes))
    if members is not None:
        _set_members(tenant, group, members, actor=actor, deleted_too=True)
        return
    if not add and not remove:
        return
    have = set(
        GroupMembership.objects.filter(
            group=group, user_id__in=[u.id for u in (*add, *remove)]
        ).values_list("user_id", flat=True)
    )
    _change_members(
        tenant=tenant,
        group=group,
        add=[u for u in add if u.id not in have],
        remove=[u for u in remove if u.id in have],
        actor=actor,
        deleted_too=True,
    )


@service
def user_deprovision(
    *, tenant: Tenant, user: DirectoryUser, actor, if_match: Collection[str] | None = None
) -> None:
    """The provider's deletion of a user: for good (``user_delete_permanently``); with
    ``if_match``, only if the user still has one of these versions."""
    check_tenant(tenant, user)
    user_delete_permanently(tenant=tenant, user=_held(user, user_version, if_match), actor=actor)


@service
def group_deprovision(
    *, tenant: Tenant, group: Group, actor, if_match: Collection[str] | None = None
) -> None:
    """The provider's deletion of a group (``group_delete``); with ``if_match``, only if the
    group still has one of these versions."""
    check_tenant(tenant, group)
    group_delete(tenant=tenant, group=_held(group, group_version, if_match), actor=actor)


# The steps the services above share: plain functions, so that a service taking another's
# steps adds no savepoint of its own.


def _change_user(tenant, user, *, profile, usage_location, active, actor) -> None:
    if profile:
        user_update_profile(
            tenant=tenant, user=user, actor=actor, any_user_name=True, **dict(profile)
        )
    if active is True and user.is_soft_deleted:
        user_restore(tenant=tenant, user=user, actor=actor)
    if usage_location is not None:
        user_set_usage_location(
            tenant=tenant, user=user, usage_location=usage_location, actor=actor
        )
    if active is False and not user.is_soft_deleted:
        user_soft_delete(tenant=tenant, user=user, actor=actor)


def _set_members(tenant, group, users, *, actor, deleted_too: bool) -> None:
    wanted = {u.id: u for u in users}
    have = set(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
    _change_members(
        tenant=tenant,
        group=group,
        add=[u for i, u in wanted.items() if i not in have],
        remove=list(DirectoryUser.objects.filter(id__in=have - set(wanted))),
        actor=actor,
        deleted_too=deleted_too,
    )


def _change_members(*, tenant, group, add, remove, actor, deleted_too: bool) -> None:
    if remove:
        group_remove_members(tenant=tenant, group=group, users=remove, actor=actor)
    if add:
        group_add_members(
            tenant=tenant, group=group, users=add, actor=actor, deleted_too=deleted_too
        )
