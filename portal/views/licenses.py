"""Licenses > Overview and the Assign blade."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from licensing import selectors, services
from licensing.errors import LicensingError
from portal.access import portal_view, require_license_admin
from portal.forms import AssignRequest, picker_results
from portal.responses import command_done, template_for


@require_safe
@portal_view
def overview(request: HttpRequest) -> HttpResponse:
    context = {
        "section": "licenses",
        **selectors.products.licenses_overview(tenant=request.tenant),
    }
    return render(request, "portal/licenses/overview.html", context)


@portal_view
def assign(request: HttpRequest) -> HttpResponse:
    """Pick users and groups, set options per product, see the seats it takes, assign.

    GET and POST both carry the whole selection, so the page works as a plain form; htmx
    swaps the picker results and the preview as the admin types and toggles.
    """
    require_license_admin(request)
    data = request.POST if request.method == "POST" else request.GET
    catalog = selectors.products.catalog()
    products = selectors.products.tenant_products(tenant=request.tenant)
    picked = AssignRequest.read(request.tenant, data, catalog=catalog, products=products)
    if request.method == "POST" and data.get("action") == "assign" and _assigned(request, picked):
        names = ", ".join(p.display_name for p in picked.products)
        text = _("Assigned %(products)s.") % {"products": names}
        return command_done(request, text, reverse("portal:products"), navigate=True)
    context = _assign_context(request, data, picked, catalog, products)
    partial = request.headers.get("HX-Target", "") if request.htmx else ""
    region = {"picker": "picker", "preview": "preview"}.get(partial, "assign-form")
    return render(request, template_for(request, "portal/licenses/assign.html", region), context)


def _assigned(request: HttpRequest, picked: AssignRequest) -> bool:
    """Assign what was picked; False with the reason in ``picked.errors`` when refused."""
    if picked.errors:
        return False
    if not picked.products or not (picked.users or picked.groups):
        picked.errors.append(_("Select at least one product and one user or group."))
        return False
    try:
        services.licenses_assign(
            tenant=request.tenant,
            products={p: picked.disabled.get(p.id, []) for p in picked.products},
            users=picked.users,
            groups=picked.groups,
            actor=request.user,
        )
    except LicensingError as refused:
        picked.errors.append(str(refused))
        return False
    return True


def _assign_context(request: HttpRequest, data, picked: AssignRequest, catalog, products) -> dict:
    query = data.get("q", "").strip()
    found_users, found_groups = picker_results(request.tenant, query)
    counts = selectors.seats.seats(tenant=request.tenant)
    options = [_options(p, picked, catalog) for p in picked.products]
    return {
        "section": "licenses",
        "picked": picked,
        "query": query,
        "found_users": [u for u in found_users if u not in picked.users],
        "found_groups": [g for g in found_groups if g not in picked.groups],
        "all_products": products,
        "options": options,
        # Toggling a switch re-renders the form: the options dialog opens again, and stays
        # open while a choice is refused.
        "options_open": data.get("open") == "options" or any(o["error"] for o in options),
        "preview": picked.preview(counts),
        "default_location": picked.taking_tenant_location(),
    }


def _options(product, picked: AssignRequest, catalog) -> dict:
    """One product's part of the Assignment options dialog: a switch per service plan, and
    the error of the plans chosen."""
    off = picked.disabled.get(product.id, [])
    plans = [
        {"id": plan, "name": catalog.names[plan], "on": plan not in off}
        for plan in catalog.product_plans.get(product.id, ())
    ]
    error = next((e for e in picked.errors if e.startswith(f"{product.display_name}: ")), "")
    return {
        "product": product,
        "plans": plans,
        "on_count": sum(1 for p in plans if p["on"]),
        "error": error.removeprefix(f"{product.display_name}: "),
    }
