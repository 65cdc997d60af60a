"""Groups: list, members, and the group's Licenses blade."""

from __future__ import annotations

from collections import Counter

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from licensing import services
from licensing.errors import LicensingError
from licensing.models import (
    DirectoryUser,
    Group,
    LicenseAssignment,
    LicenseError,
    LicenseState,
    UserLicense,
)
from licensing.services.base import get_products, get_users
from portal.access import portal_view, require_directory_admin, require_license_admin
from portal.responses import command_done, safe_next, template_for
from portal.sorting import Column, Sorter

GROUP_COLUMNS = [
    Column("name", gettext_lazy("Name"), ("name", "id")),
    Column("description", gettext_lazy("Description"), ("description", "name")),
    Column("members", gettext_lazy("Members"), ("member_count", "name"), numeric=True),
    Column("state", gettext_lazy("Processing state"), ("processing_state", "name")),
    Column("errors", gettext_lazy("Members in error"), ("members_in_error", "name"), numeric=True),
]


def _get_group(request: HttpRequest, group_id) -> Group:
    return get_object_or_404(Group, tenant=request.tenant, public_id=group_id)


@require_safe
@portal_view
def group_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    groups = Group.objects.filter(tenant=request.tenant).with_license_counts()
    if search:
        groups = groups.filter(name__icontains=search)
    sorter = Sorter(request, GROUP_COLUMNS, "name")
    page = Paginator(groups.order_by(*sorter.order_by()), 50).get_page(request.GET.get("page", 1))
    context = {
        "section": "groups",
        "page": page,
        "search": search,
        "sort_headers": sorter.headers(),
    }
    return render(request, template_for(request, "portal/groups/list.html", "group-rows"), context)


@require_safe
@portal_view
def group_overview(request: HttpRequest, group_id) -> HttpResponse:
    """Overview and Members: who is in the group, add and remove members."""
    group = _get_group(request, group_id)
    search = request.GET.get("q", "").strip()
    members = DirectoryUser.objects.filter(memberships__group=group).order_by("display_name", "id")
    page = Paginator(members, 50).get_page(request.GET.get("page", 1))
    candidates = []
    if search:
        candidates = list(
            DirectoryUser.objects.active()
            .filter(tenant=request.tenant)
            .filter(Q(display_name__icontains=search) | Q(user_principal_name__icontains=search))
            .exclude(memberships__group=group)
            .order_by("display_name")[:20]
        )
    context = {
        "section": "groups",
        "group": group,
        "tab": "members",
        "page": page,
        "search": search,
        "candidates": candidates,
        "licensed": LicenseAssignment.objects.filter(group=group).exists(),
    }
    return render(request, template_for(request, "portal/groups/overview.html", "members"), context)


@require_safe
@portal_view
def group_licenses(request: HttpRequest, group_id) -> HttpResponse:
    """The group's products, its processing status, and the members in error."""
    group = _get_group(request, group_id)
    assignments = list(
        LicenseAssignment.objects.filter(group=group)
        .select_related("product")
        .order_by("product__display_name")
    )
    errors = (
        UserLicense.objects.filter(via_group=group, state=LicenseState.ERROR)
        .select_related("user", "product")
        .order_by("user__display_name", "product__display_name")
    )
    by_user: dict[int, dict] = {}
    for row in errors[:500]:
        line = by_user.setdefault(
            row.user_id, {"user": row.user, "failed": [], "reasons": Counter()}
        )
        line["failed"].append(row.product.display_name)
        line["reasons"][row.error] += 1
    reasons = dict(LicenseError.choices)
    in_error = [
        {**line, "top_reason": reasons.get(line["reasons"].most_common(1)[0][0], "")}
        for line in by_user.values()
    ]
    context = {
        "section": "groups",
        "group": group,
        "tab": "licenses",
        "assignments": assignments,
        "in_error": in_error,
        "error_count": errors.values("user_id").distinct().count(),
    }
    return render(
        request, template_for(request, "portal/groups/licenses.html", "group-licenses"), context
    )


@require_POST
@portal_view
def remove_licenses(request: HttpRequest, group_id) -> HttpResponse:
    require_license_admin(request)
    group = _get_group(request, group_id)
    back = reverse("portal:group_licenses", args=[group.public_id])
    try:
        products = get_products(request.POST.getlist("product"))
        if not products:
            raise LicensingError(_("Select the licenses you want to remove."))
        outcome = services.group_remove_products(
            tenant=request.tenant, group=group, products=products, actor=request.user
        )
    except LicensingError as refused:
        return command_done(request, str(refused), back, level="error")
    text = _("Removed %(products)s from %(group)s.") % {
        "products": ", ".join(p.display_name for p in products),
        "group": group.name,
    }
    return command_done(request, f"{text} {processing_text(group, outcome)}", back)


def processing_text(group, outcome: dict | None) -> str:
    """What the notification says after a change to a group's licenses: the outcome when the
    run finished at once, else that it runs in the background."""
    if outcome is None:
        return _(
            "Applying the licenses of %(group)s to its %(n)d members in the background; "
            "the group's Licenses page shows the progress."
        ) % {"group": group.name, "n": group.processing_total}
    return _("%(group)s: %(assigned)d users licensed, %(failed)d with errors.") % {
        "group": group.name,
        **outcome,
    }


@require_POST
@portal_view
def reprocess(request: HttpRequest, group_id) -> HttpResponse:
    require_license_admin(request)
    group = _get_group(request, group_id)
    outcome = services.reprocess_group(tenant=request.tenant, group=group, actor=request.user)
    text = processing_text(group, outcome)
    return command_done(request, text, reverse("portal:group_licenses", args=[group.public_id]))


@require_POST
@portal_view
def add_members(request: HttpRequest, group_id) -> HttpResponse:
    require_directory_admin(request)
    group = _get_group(request, group_id)
    back = reverse("portal:group", args=[group.public_id])
    try:
        people = get_users(request.tenant, request.POST.getlist("user"))
        if not people:
            raise LicensingError(_("Select the users to add."))
        services.group_add_members(
            tenant=request.tenant, group=group, users=people, actor=request.user
        )
    except LicensingError as refused:
        return command_done(request, str(refused), back, level="error")
    return command_done(
        request,
        _("Added %(n)d members to %(group)s.") % {"n": len(people), "group": group.name},
        back,
    )


@require_POST
@portal_view
def remove_members(request: HttpRequest, group_id) -> HttpResponse:
    require_directory_admin(request)
    group = _get_group(request, group_id)
    back = safe_next(request, reverse("portal:group", args=[group.public_id]))
    try:
        people = get_users(request.tenant, request.POST.getlist("user"))
        if not people:
            raise LicensingError(_("Select the members to remove."))
        services.group_remove_members(
            tenant=request.tenant, group=group, users=people, actor=request.user
        )
    except LicensingError as refused:
        return command_done(request, str(refused), back, level="error")
    text = _("Removed %(n)d members from %(group)s.") % {"n": len(people), "group": group.name}
    return command_done(request, text, back)


@require_POST
@portal_view
def delete(request: HttpRequest, group_id) -> HttpResponse:
    require_directory_admin(request)
    group = _get_group(request, group_id)
    try:
        services.group_delete(tenant=request.tenant, group=group, actor=request.user)
    except LicensingError as refused:
        return command_done(
            request, str(refused), reverse("portal:group", args=[group.public_id]), level="error"
        )
    return command_done(
        request,
        _("Deleted %(group)s.") % {"group": group.name},
        reverse("portal:groups"),
        navigate=True,
    )
