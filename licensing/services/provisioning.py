"""What an identity provider changes by SCIM (docs/provisioning.md), one service per request:
each creates or changes a user or a group whole, in one transaction, through the services the
portal uses, and is audited as they are. The provider's disabled users are soft-deleted here
and stay in its groups (``deleted_too``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from licensing.models import DirectoryUser, Group, GroupMembership, Tenant, UserSource
from licensing.services.base import check_tenant, service
from licensing.services.directory import (
    user_create,
    user_restore,
    user_set_usage_location,
    user_soft_delete,
    user_update_profile,
)
from licensing.services.groups import (
    group_add_members,
    group_create,
    group_remove_members,
    group_update,
)


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
) -> None:
    """The provider's change of a user, all or nothing: its ``profile``, a restore when
    ``active`` is True, the usage location (None: unchanged), a soft delete when ``active`` is
    False. The profile first: it moves no license, so it is written before anything locks the
    seats, which are then held only for the changes that need them."""
    check_tenant(tenant, user)
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
) -> None:
    """The provider's change of a group, all or nothing: ``changes`` to its name and id
    (``group_update``), then its members: exactly ``members`` when given, else ``add`` and
    ``remove``, where who already is a member is not added and who is not is not removed.
    The members leave in one step and join in one, so the seats are locked once for each,
    however many operations a PATCH had."""
    check_tenant(tenant, group)
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
