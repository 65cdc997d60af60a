"""Groups: list, members, and the group's Licenses blade."""

from __future__ import annotations

from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST, require_safe

from licensing import selectors, services
from licensing.errors import LicensingError
from licensing.models import (
    Group,
)
from portal.access import portal_view, require_directory_admin, require_license_admin
from portal.responses import command_done, found, safe_next, template_for
from portal.sorting import Column, Sorter

GROUP_COLUMNS = [
    Column("name", gettext_lazy("Name"), ("name", "id")),
    Column("description", gettext_lazy("Description"), ("description", "name")),
    Column("members", gettext_lazy("Members"), ("member_count", "name"), numeric=True),
    Column("state", gettext_lazy("Processing state"), ("processing_state", "name")),
    Column("errors", gettext_lazy("Members in error"), ("members_in_error", "name"), numeric=True),
]


def _get_group(request: HttpRequest, group_id) -> Group:
    return found(selectors.groups.group(tenant=request.tenant, public_id=group_id))


@require_safe
@portal_view
def group_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    sorter = Sorter(request, GROUP_COLUMNS, "name")
    page = selectors.groups.listed_groups(
        tenant=request.tenant,
        search=search,
        order_by=sorter.order_by(),
        page=request.GET.get("page", 1),
    )
    context = {
        "section": "groups",
        "page": page,
        "search": search,
        "sort_headers": sorter.headers(),
        "sort_param": sorter.param,
    }
    return render(request, template_for(request, "portal/groups/list.html", "group-rows"), context)


@require_safe
@portal_view
def group_overview(request: HttpRequest, group_id) -> HttpResponse:
    """Overview and Members: who is in the group, add and remove members."""
    group = _get_group(request, group_id)
    search = request.GET.get("q", "").strip()
    page = selectors.groups.members(
        tenant=request.tenant, group=group, page=request.GET.get("page", 1)
    )
    candidates = selectors.groups.member_candidates(
        tenant=request.tenant, group=group, search=search
    )
    context = {
        "section": "groups",
        "group": group,
        "tab": "members",
        "page": page,
        "search": search,
        "candidates": candidates,
        "licensed": selectors.groups.is_licensed(tenant=request.tenant, group=group),
    }
    return render(request, template_for(request, "portal/groups/overview.html", "members"), context)


@require_safe
@portal_view
def group_licenses(request: HttpRequest, group_id) -> HttpResponse:
    """The group's products, its processing status, and the members in error."""
    group = _get_group(request, group_id)
    search = request.GET.get("q", "").strip()
    context = {
        "section": "groups",
        "group": group,
        "tab": "licenses",
        "search": search,
        **selectors.groups.license_blade(
            tenant=request.tenant, group=group, page=request.GET.get("page", 1), search=search
        ),
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
        products = selectors.products.picked_products(ids=request.POST.getlist("product"))
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
        return ngettext(
            "Applying the licenses of %(group)s to its %(n)s member in the background; "
            "the group's Licenses page shows the progress.",
            "Applying the licenses of %(group)s to its %(n)s members in the background; "
            "the group's Licenses page shows the progress.",
            group.processing_total,
        ) % {"group": group.name, "n": intcomma(group.processing_total)}
    return ngettext(
        "%(group)s: %(assigned)s user licensed, %(failed)s with errors.",
        "%(group)s: %(assigned)s users licensed, %(failed)s with errors.",
        outcome["assigned"],
    ) % {
        "group": group.name,
        "assigned": intcomma(outcome["assigned"]),
        "failed": intcomma(outcome["failed"]),
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
        people = selectors.users.picked_users(
            tenant=request.tenant, ids=request.POST.getlist("user")
        )
        if not people:
            raise LicensingError(_("Select the users to add."))
        services.group_add_members(
            tenant=request.tenant, group=group, users=people, actor=request.user
        )
    except LicensingError as refused:
        return command_done(request, str(refused), back, level="error")
    return command_done(
        request,
        ngettext(
            "Added %(n)s member to %(group)s.", "Added %(n)s members to %(group)s.", len(people)
        )
        % {"n": intcomma(len(people)), "group": group.name},
        back,
    )


@require_POST
@portal_view
def remove_members(request: HttpRequest, group_id) -> HttpResponse:
    require_directory_admin(request)
    group = _get_group(request, group_id)
    back = safe_next(request, reverse("portal:group", args=[group.public_id]))
    try:
        people = selectors.users.picked_users(
            tenant=request.tenant, ids=request.POST.getlist("user")
        )
        if not people:
            raise LicensingError(_("Select the members to remove."))
        services.group_remove_members(
            tenant=request.tenant, group=group, users=people, actor=request.user
        )
    except LicensingError as refused:
        return command_done(request, str(refused), back, level="error")
    text = ngettext(
        "Removed %(n)s member from %(group)s.", "Removed %(n)s members from %(group)s.", len(people)
    ) % {"n": intcomma(len(people)), "group": group.name}
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
