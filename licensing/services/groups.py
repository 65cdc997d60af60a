"""Group-based licensing (docs/rules.md §4, §6): group licenses, members, processing, deletion."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from licensing import audit
from licensing.catalog_store import current_catalog
from licensing.errors import (
    AssignmentRefused,
    GroupStillLicensed,
    InvalidInput,
    NotFound,
    names_and_more,
)
from licensing.locking import hold_seats
from licensing.models import (
    DirectoryUser,
    Group,
    GroupMembership,
    LicenseAssignment,
    ProcessingState,
    Product,
    Tenant,
)
from licensing.processing import UNFINISHED, last_member, queue_group, run_group
from licensing.reconcile import reconcile
from licensing.seats import (
    add_members_counted,
    delete_with_paths,
    products_touching,
    recount_assigned,
)
from licensing.services.assignments import (
    _account,
    check_assignable,
    direct_licenses_change,
    members_with_dependents,
    refuse_breaking_members,
)
from licensing.services.base import (
    check_tenant,
    group_assignment_ids,
    refuse_breaking,
    save_changed,
    service,
    validate_disabled_plans,
    validate_group_plans,
)
from licensing.services.directory import clean_text

# The text fields of a group, with the words their refusals use.
GROUP_FIELDS = {
    "name": gettext_lazy("Name"),
    "description": gettext_lazy("Description"),
    "external_id": gettext_lazy("External id"),
}

# More joiners than this at once are applied by the group's run (licensing.processing) rather
# than in the request.
BULK_MEMBERS = 100


@service
def group_create(*, tenant: Tenant, name: str, description: str = "", actor) -> Group:
    """A group, its name and description by the directory's text rule (``clean_text``)."""
    group = Group.objects.create(
        tenant=tenant,
        name=clean_text(name, field=_("Name"), max_length=256, required=True),
        description=clean_text(description, field=_("Description"), max_length=1024),
    )
    audit.event(
        tenant=tenant, actor=actor, activity=audit.ADD_GROUP, target=group, target_type="Group"
    )
    return group


@service
def group_update(*, tenant: Tenant, group: Group, actor, **changes) -> None:
    """A group's name, description or identity provider id; audited."""
    check_tenant(tenant, group)
    unknown = set(changes) - {"name", "description", "external_id"}
    if unknown:
        raise InvalidInput(_("Not a group field: %(f)s") % {"f": ", ".join(sorted(unknown))})
    if "name" in changes and not str(changes["name"] or "").strip():
        raise InvalidInput(_("A group needs a name."))
    changes = {
        f: clean_text(v, field=GROUP_FIELDS[f], max_length=1024 if f == "description" else 256)
        for f, v in changes.items()
    }
    _before, after = save_changed(group, changes)
    if not after:
        return
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.UPDATE_GROUP,
        target=group,
        target_type="Group",
        details={"after": after},
    )


@service
def licenses_assign(
    *,
    tenant: Tenant,
    products: Mapping[Product, Iterable[str]],
    users: Sequence[DirectoryUser] = (),
    groups: Sequence[Group] = (),
    actor,
) -> None:
    """The Licenses blade's Assign: products (each with its disabled plans) to users directly
    and to groups, in one step: a refusal for anyone leaves nothing applied."""
    if users:
        direct_licenses_change(tenant=tenant, users=users, add=products, actor=actor)
    for group in groups:
        group_assign_products(tenant=tenant, group=group, products=products, actor=actor)


@service
def group_assign_products(
    *, tenant: Tenant, group: Group, products: Mapping[Product, Iterable[str]], actor
) -> dict | None:
    """Assign products (each with its disabled plans) to a group; members inherit them."""
    check_tenant(tenant, group)
    catalog = current_catalog()
    plans = {p: validate_disabled_plans(p, d, catalog) for p, d in products.items()}
    for product in plans:
        check_assignable(tenant, product)
    validate_group_plans(group, {p.id: d for p, d in plans.items()}, catalog=catalog)
    # The group's run (licensing.processing) takes the seats; locking first completes any run
    # still pending on these products, so this change is decided after it.
    locked = hold_seats(
        tenant, products_touching(tenant, groups=[group.id], products=[p.id for p in plans])
    )
    existing = {a.product_id: a for a in LicenseAssignment.objects.filter(group=group)}
    now = timezone.now()
    for product, disabled in plans.items():
        assignment = existing.get(product.id)
        if assignment is None:
            LicenseAssignment.objects.create(
                tenant=tenant,
                group=group,
                product=product,
                disabled_plans=disabled,
                created_by=_account(actor),
                created_at=now,
            )
        elif assignment.disabled_plans != disabled:
            LicenseAssignment.objects.filter(id=assignment.id).update(disabled_plans=disabled)
    # Options changed on a product the group had: members whose other licenses need a plan
    # turned off refuse the change (rules §5). Only checked here; the run writes the rows.
    refuse_breaking_members(tenant=tenant, group=group, locked=locked, catalog=catalog)
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.SET_GROUP_LICENSE,
        target=group,
        target_type="Group",
        details={
            "added": [p.sku_part_number for p in plans],
            "disabled_plans": {p.sku_part_number: d for p, d in plans.items()},
        },
    )
    return queue_group(tenant=tenant, group=group, actor=actor)


@service
def group_remove_products(
    *, tenant: Tenant, group: Group, products: Iterable[Product], actor
) -> dict | None:
    """Remove products from a group: the path goes from every member; members who hold the
    product another way keep their seat (docs/rules.md §6)."""
    check_tenant(tenant, group)
    products = list(products)
    assignments = LicenseAssignment.objects.filter(group=group, product__in=products)
    found = set(assignments.values_list("product_id", flat=True))
    missing = [p.display_name for p in products if p.id not in found]
    if missing:
        raise NotFound(
            _("%(group)s has no license for %(products)s.")
            % {"group": group.name, "products": ", ".join(missing)}
        )
    catalog = current_catalog()
    validate_group_plans(group, {}, removing=found, catalog=catalog)
    locked = hold_seats(tenant, products_touching(tenant, groups=[group.id]))
    group_paths = group_assignment_ids(group.id)
    dependents = members_with_dependents(group)
    # The paths go with the intent (one DELETE). A member whose other license needs a plan
    # only this group gave refuses the change (rules §5). The seats freed go to waiting claims
    # now, other than the group's own, which its run decides in claim order.
    delete_with_paths(tenant, assignments, found)
    refuse_breaking_members(
        tenant=tenant,
        group=group,
        locked=locked,
        catalog=catalog,
        members=dependents,
        group_paths=group_paths,
    )
    # Seats freed now go at once to waiting claims, of products no member of the group can
    # claim: a seat of any other product (the group's own, or one a member holds another way)
    # waits for the group's run, which decides it with the members' changed claims in claim
    # order (a member's claim may come first: found by the state machine, seed 2390328677).
    reconcile(
        tenant=tenant,
        user_ids=[],
        locked_products=locked,
        products=found,
        frozen=[group.id],
        reserved=products_touching(tenant, groups=[group.id]),
    )
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.SET_GROUP_LICENSE,
        target=group,
        target_type="Group",
        details={"removed": [p.sku_part_number for p in products]},
    )
    return queue_group(tenant=tenant, group=group, actor=actor)


@service
def group_licenses_change(
    *,
    tenant: Tenant,
    group: Group,
    add: Mapping[Product, Iterable[str]] | None = None,
    remove: Iterable[Product] = (),
    actor,
) -> dict | None:
    """Remove and add a group's products in one step, all or nothing (Graph's
    ``assignLicense`` on a group): the removal is decided first, so a swap is one change."""
    check_tenant(tenant, group)
    add, remove = dict(add or {}), list(dict.fromkeys(remove))
    run = None
    if remove:
        run = group_remove_products(tenant=tenant, group=group, products=remove, actor=actor)
    if add:
        run = group_assign_products(tenant=tenant, group=group, products=add, actor=actor)
    return run


@service
def group_add_members(
    *,
    tenant: Tenant,
    group: Group,
    users: Sequence[DirectoryUser],
    actor,
    deleted_too: bool = False,
) -> None:
    """Joining a licensed group grants its licenses (docs/rules.md §4). Already a member: no
    change. A deleted user cannot join, as in Azure; except, with ``deleted_too``, for an
    identity provider, whose disabled users are soft-deleted here and still belong to its
    groups: such a member's licenses are not applied until the user is restored (§7)."""
    check_tenant(tenant, group, *users)
    deleted = [u.user_principal_name for u in users if u.is_soft_deleted]
    if deleted and not deleted_too:
        raise AssignmentRefused(
            _("Deleted users cannot be added to groups: %(names)s")
            % {"names": names_and_more(deleted)}
        )
    user_ids = [u.id for u in users]
    already = set(
        GroupMembership.objects.filter(group=group, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
    joining = [u for u in users if u.id not in already]
    if not joining:
        return
    bulk = len(joining) > BULK_MEMBERS and group.assignments.exists()
    locked = hold_seats(tenant, products_touching(tenant, users=user_ids, groups=[group.id]))
    now = timezone.now()
    before = last_member(group) if bulk else None
    GroupMembership.objects.bulk_create(
        [GroupMembership(group=group, user=u, added_at=now) for u in joining]
    )
    add_members_counted([group.id], len(joining))
    Group.objects.filter(id=group.id).update(modified_at=now)
    if bulk:
        # Many joiners of a licensed group: the group's run applies it. Their
        # claims come after every member before them, whose run is complete (``hold_seats``
        # completed any pending one): the run starts behind the last of those, so that adding
        # 1,000 members to a group of 50,000 processes 1,000 (docs/rules.md §8).
        state = Group.objects.filter(id=group.id).values_list("processing_state", flat=True)
        if before and before[0] < now and state.get() == ProcessingState.COMPLETE:
            queue_group(tenant=tenant, group=group, actor=actor, after=before)
        else:
            queue_group(tenant=tenant, group=group, actor=actor)
    else:
        reconcile(tenant=tenant, user_ids=[u.id for u in joining], locked_products=locked)
    audit.events(
        tenant=tenant,
        actor=actor,
        activity=audit.ADD_MEMBER,
        targets=joining,
        target_type="User",
        details_for=lambda u: {"group": group.name, "group_id": str(group.public_id)},
    )


@service
def group_remove_members(
    *, tenant: Tenant, group: Group, users: Sequence[DirectoryUser], actor
) -> None:
    """Leaving a group revokes the licenses inherited through that group only (docs/rules.md
    §4)."""
    check_tenant(tenant, group, *users)
    user_ids = [u.id for u in users]
    memberships = GroupMembership.objects.filter(group=group, user_id__in=user_ids)
    members = set(memberships.values_list("user_id", flat=True))
    strangers = [u.user_principal_name for u in users if u.id not in members]
    if strangers:
        raise NotFound(
            _("Not members of %(group)s: %(names)s")
            % {"group": group.name, "names": names_and_more(strangers)}
        )
    locked = hold_seats(tenant, products_touching(tenant, users=user_ids, groups=[group.id]))
    leaving = group_assignment_ids(group.id)
    deleted = memberships.delete()[1]
    add_members_counted([group.id], -deleted.get(GroupMembership._meta.label, 0))
    Group.objects.filter(id=group.id).update(modified_at=timezone.now())
    # Leaving must not take a prerequisite from another license of the member (rules §5).
    refuse_breaking(
        reconcile(tenant=tenant, user_ids=user_ids, locked_products=locked),
        leaving,
        current_catalog(),
    )
    audit.events(
        tenant=tenant,
        actor=actor,
        activity=audit.REMOVE_MEMBER,
        targets=users,
        target_type="User",
        details_for=lambda u: {"group": group.name, "group_id": str(group.public_id)},
    )


@service
def group_delete(*, tenant: Tenant, group: Group, actor) -> None:
    """A group that still holds licenses cannot be deleted (docs/rules.md §4)."""
    check_tenant(tenant, group)
    licensed = list(
        LicenseAssignment.objects.filter(group=group)
        .select_related("product")
        .order_by("product__display_name")
    )
    if licensed:
        raise GroupStillLicensed(
            _(
                "%(group)s still has licenses (%(products)s). Remove the group's licenses "
                "before deleting it."
            )
            % {"group": group.name, "products": ", ".join(a.product.display_name for a in licensed)}
        )
    if group.processing_state in UNFINISHED:
        # The run of the group's last change (its products or options going) still waits:
        # it is completed first, or the members' other licenses would never be decided
        # again without the group's (docs/rules.md §8).
        run_group(group.id, group.processing_run)
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.DELETE_GROUP,
        target=group,
        target_type="Group",
        details={"members": group.memberships.count()},
    )
    group.delete()


@service
def reprocess_group(*, tenant: Tenant, group: Group, actor) -> dict | None:
    check_tenant(tenant, group)
    # Reprocess repairs: the counters are set from the rows before the run reads them.
    recount_assigned(tenant, hold_seats(tenant, products_touching(tenant, groups=[group.id])))
    audit.event(
        tenant=tenant,
        actor=actor,
        activity=audit.REPROCESS_GROUP,
        target=group,
        target_type="Group",
    )
    return queue_group(tenant=tenant, group=group, actor=actor)
