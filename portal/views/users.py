"""Users: list, profile with usage location, and the user's Licenses blade."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_countries import countries
from django_htmx.http import reswap, retarget

from licensing import services
from licensing.catalog_store import current_catalog
from licensing.errors import InheritedLicense, LicensingError
from licensing.models import DirectoryUser, LicenseAssignment, Product, UserLicense
from licensing.rules import effective_location
from licensing.selectors.products import product_line, tenant_products
from licensing.services.base import get_products
from portal.access import portal_view, require_license_admin
from portal.responses import bad_request, command_done, template_for
from portal.sorting import Column, Sorter

USER_COLUMNS = [
    Column("name", gettext_lazy("Name"), ("display_name", "id")),
    Column("upn", gettext_lazy("User principal name"), ("user_principal_name",)),
    Column("source", gettext_lazy("Source"), ("source", "display_name")),
    Column("location", gettext_lazy("Usage location"), ("usage_location", "display_name")),
    Column("status", gettext_lazy("Status"), ("soft_deleted_at", "display_name")),
]


def _get_user(request: HttpRequest, user_id) -> DirectoryUser:
    return get_object_or_404(
        DirectoryUser.objects.select_related("tenant"), tenant=request.tenant, public_id=user_id
    )


@require_safe
@portal_view
def user_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    people = DirectoryUser.objects.filter(tenant=request.tenant)
    if search:
        people = people.filter(
            Q(display_name__icontains=search) | Q(user_principal_name__icontains=search)
        )
    sorter = Sorter(request, USER_COLUMNS, "name")
    page = Paginator(people.order_by(*sorter.order_by()), 50).get_page(request.GET.get("page", 1))
    context = {
        "section": "users",
        "page": page,
        "search": search,
        "sort_headers": sorter.headers(),
        "tab": "all",
    }
    return render(request, template_for(request, "portal/users/list.html", "user-rows"), context)


@require_safe
@portal_view
def profile(request: HttpRequest, user_id) -> HttpResponse:
    user = _get_user(request, user_id)
    context = {"section": "users", "person": user, "tab": "profile", "countries": list(countries)}
    return render(request, "portal/users/profile.html", context)


def _licenses_context(request: HttpRequest, user: DirectoryUser) -> dict:
    rows = list(
        UserLicense.objects.filter(user=user)
        .select_related("product", "via_group")
        .order_by("product__display_name")
    )
    catalog = current_catalog()
    location = effective_location(user.usage_location, request.tenant.country)
    by_product: dict[Product, list[UserLicense]] = {}
    for row in rows:
        by_product.setdefault(row.product, []).append(row)
    lines = [
        {
            "product": product,
            "direct": any(r.via_group_id is None for r in product_rows),
            "inherited_from": [r.via_group for r in product_rows if r.via_group_id],
            **product_line(product_rows, location, catalog),
        }
        for product, product_rows in by_product.items()
    ]
    return {
        "section": "users",
        "person": user,
        "tab": "licenses",
        "lines": lines,
        "inherited_only": any(line["inherited_from"] and not line["direct"] for line in lines),
    }


@require_safe
@portal_view
def licenses(request: HttpRequest, user_id) -> HttpResponse:
    user = _get_user(request, user_id)
    context = _licenses_context(request, user)
    return render(
        request, template_for(request, "portal/users/licenses.html", "user-licenses"), context
    )


@require_POST
@portal_view
def remove_license(request: HttpRequest, user_id) -> HttpResponse:
    require_license_admin(request)
    user = _get_user(request, user_id)
    back = reverse("portal:user_licenses", args=[user.public_id])
    try:
        products = get_products(request.POST.getlist("product"))
        if not products:
            raise LicensingError(_("Select the licenses you want to remove."))
        services.direct_licenses_change(
            tenant=request.tenant, users=[user], remove=products, actor=request.user
        )
    except InheritedLicense as inherited:
        # Azure's answer, on the page itself, with the way out: remove the user from the group.
        context = {**_licenses_context(request, user), "inherited": inherited}
        response = render(
            request, template_for(request, "portal/users/licenses.html", "user-licenses"), context
        )
        if request.htmx:
            response = reswap(retarget(response, "#user-licenses"), "outerHTML")
        return response
    except LicensingError as refused:
        return command_done(request, str(refused), back, level="error")
    text = _("Removed %(products)s from %(user)s.") % {
        "products": ", ".join(p.display_name for p in products),
        "user": user.display_name,
    }
    return command_done(request, text, back)


@require_POST
@portal_view
def reprocess(request: HttpRequest, user_id) -> HttpResponse:
    require_license_admin(request)
    user = _get_user(request, user_id)
    services.reprocess_user(tenant=request.tenant, user=user, actor=request.user)
    text = _("Reprocessed the licenses of %(user)s.") % {"user": user.display_name}
    return command_done(request, text, reverse("portal:user_licenses", args=[user.public_id]))


@require_POST
@portal_view
def set_usage_location(request: HttpRequest, user_id) -> HttpResponse:
    require_license_admin(request)
    user = _get_user(request, user_id)
    back = reverse("portal:user", args=[user.public_id])
    if "usage_location" not in request.POST:
        # A missing field is not "no usage location": the form always sends it.
        return bad_request(request, _("The usage location is missing; nothing was changed."))
    try:
        services.user_set_usage_location(
            tenant=request.tenant,
            user=user,
            usage_location=request.POST["usage_location"],
            actor=request.user,
        )
    except LicensingError as refused:
        return command_done(request, str(refused), back, level="error")
    return command_done(request, _("Usage location saved; licenses re-evaluated."), back)


@require_http_methods(["GET", "POST"])
@portal_view
def assignments(request: HttpRequest, user_id) -> HttpResponse:
    """The Assignments dialog: tick and untick the user's direct products and save them in
    one step, so a swap never leaves the user without a license (docs/rules.md §6). A product the
    user inherits is not offered here; an extra direct assignment of it is made from Products."""
    require_license_admin(request)
    user = _get_user(request, user_id)
    held = set(LicenseAssignment.objects.filter(user=user).values_list("product_id", flat=True))
    inherited = set(
        UserLicense.objects.filter(user=user, via_group__isnull=False).values_list(
            "product_id", flat=True
        )
    )
    offered = [p for p in tenant_products(tenant=request.tenant) if p.is_assignable]
    error = ""
    if request.method == "POST":
        # The dialog sends the whole selection, marked by ``selection``: without it (or with a
        # product that is not offered) the request is malformed, never "untick everything".
        try:
            wanted = {p.sku_id for p in get_products(request.POST.getlist("product"))}
        except LicensingError:
            wanted = None
        if (
            request.POST.get("selection") != "direct"
            or wanted is None
            or wanted - {p.sku_id for p in offered}
        ):
            return bad_request(
                request,
                _(
                    "The selection of products is missing or names an unknown product; "
                    "nothing was changed."
                ),
            )
        try:
            services.user_set_direct_products(
                tenant=request.tenant,
                user=user,
                products=[p for p in offered if p.sku_id in wanted],
                actor=request.user,
            )
        except LicensingError as refused:
            error = str(refused)
        else:
            text = _("Saved the license assignments of %(user)s.") % {"user": user.display_name}
            return command_done(
                request, text, reverse("portal:user_licenses", args=[user.public_id])
            )
    choices = [
        {
            "product": p,
            "checked": p.id in held,
            "inherited_only": p.id in inherited and p.id not in held,
        }
        for p in offered
    ]
    context = {
        "section": "users",
        "person": user,
        "tab": "licenses",
        "choices": choices,
        "error": error,
    }
    template = (
        "portal/users/_assignments_dialog.html" if request.htmx else "portal/users/assignments.html"
    )
    return render(request, template, context)
