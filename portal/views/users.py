"""Users: list, profile with usage location, and the user's Licenses blade."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import reswap, retarget

from licensing import selectors, services
from licensing.errors import InheritedLicense, LicensingError
from licensing.models import DirectoryUser, Product
from portal.access import portal_view, require_license_admin
from portal.responses import bad_request, command_done, found, template_for
from portal.sorting import Column, Sorter

MALFORMED_SELECTION = gettext_lazy(
    "The selection of products is missing or names an unknown product; nothing was changed."
)
MALFORMED_PLANS = gettext_lazy(
    "The services are missing or name a service plan the product does not have; nothing was "
    "changed."
)

USER_COLUMNS = [
    Column("name", gettext_lazy("Name"), ("display_name", "id")),
    Column("upn", gettext_lazy("User principal name"), ("user_principal_name",)),
    Column("source", gettext_lazy("Source"), ("source", "display_name")),
    Column("location", gettext_lazy("Usage location"), ("usage_location", "display_name")),
    # All users lists no deleted user (they are under Deleted users, as in Azure): what is
    # left to tell apart is whether the account may sign in, Azure's "Account enabled".
    Column("enabled", gettext_lazy("Account enabled"), ("-account_enabled", "display_name", "id")),
]


def _get_user(request: HttpRequest, user_id) -> DirectoryUser:
    return found(selectors.users.user(tenant=request.tenant, public_id=user_id))


@require_safe
@portal_view
def user_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    sorter = Sorter(request, USER_COLUMNS, "name")
    page = selectors.users.listed_users(
        tenant=request.tenant,
        search=search,
        order_by=sorter.order_by(),
        page=request.GET.get("page", 1),
    )
    context = {
        "section": "users",
        "page": page,
        "search": search,
        "sort_headers": sorter.headers(),
        "sort_param": sorter.param,
        "tab": "all",
    }
    return render(request, template_for(request, "portal/users/list.html", "user-rows"), context)


@require_safe
@portal_view
def profile(request: HttpRequest, user_id) -> HttpResponse:
    user = _get_user(request, user_id)
    context = {"section": "users", "person": user, "tab": "profile"}
    return render(request, "portal/users/profile.html", context)


def _licenses_context(request: HttpRequest, user: DirectoryUser) -> dict:
    return {
        "section": "users",
        "person": user,
        "tab": "licenses",
        "lines": selectors.users.license_lines(tenant=request.tenant, user=user),
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
        products = selectors.products.picked_products(ids=request.POST.getlist("product"))
        if not products:
            raise LicensingError(_("Select the licenses you want to remove."))
        services.direct_licenses_change(
            tenant=request.tenant, users=[user], remove=products, actor=request.user
        )
    except InheritedLicense as inherited:
        return _inherited_answer(request, user, inherited)
    except LicensingError as refused:
        return command_done(request, str(refused), back, level="error")
    text = _("Removed %(products)s from %(user)s.") % {
        "products": ", ".join(p.display_name for p in products),
        "user": user.display_name,
    }
    return command_done(request, text, back)


def _inherited_answer(request: HttpRequest, user, inherited: InheritedLicense) -> HttpResponse:
    """Azure's answer, on the page itself, with the way out: remove the user from the
    group."""
    context = {**_licenses_context(request, user), "inherited": inherited}
    response = render(
        request, template_for(request, "portal/users/licenses.html", "user-licenses"), context
    )
    if request.htmx:
        response = reswap(retarget(response, "#user-licenses"), "outerHTML")
    return response


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
    user only inherits is shown but managed from its group, as in Azure."""
    require_license_admin(request)
    user = _get_user(request, user_id)
    choices = selectors.users.direct_choices(tenant=request.tenant, user=user)
    error = ""
    if request.method == "POST":
        wanted = _selection(request, [c["product"] for c in choices])
        if wanted is None:
            return bad_request(request, MALFORMED_SELECTION)
        try:
            services.user_set_direct_products(
                tenant=request.tenant, user=user, products=wanted, actor=request.user
            )
        except LicensingError as refused:
            error = str(refused)
        else:
            text = _("Saved the license assignments of %(user)s.") % {"user": user.display_name}
            return command_done(
                request, text, reverse("portal:user_licenses", args=[user.public_id])
            )
    context = {"section": "users", "person": user, "tab": "licenses", "choices": choices}
    template = (
        "portal/users/_assignments_dialog.html" if request.htmx else "portal/users/assignments.html"
    )
    return render(request, template, {**context, "error": error})


def _selection(request: HttpRequest, offered: list[Product]) -> list[Product] | None:
    """The products the dialog sent, marked by ``selection``: without the mark, or with a
    product that is not offered, the request is malformed (None), never "untick
    everything"."""
    try:
        wanted = {
            p.sku_id
            for p in selectors.products.picked_products(ids=request.POST.getlist("product"))
        }
    except LicensingError:
        return None
    if request.POST.get("selection") != "direct" or wanted - {p.sku_id for p in offered}:
        return None
    return [p for p in offered if p.sku_id in wanted]


@require_http_methods(["GET", "POST"])
@portal_view
def license_plans(request: HttpRequest, user_id, sku_id) -> HttpResponse:
    """The services of one of the user's licenses (Azure's assignment options of a user's
    license): a switch per service plan of the direct assignment, saved in one step; the
    services of each group the user inherits it from, read-only, with the way to the group."""
    require_license_admin(request)
    user = _get_user(request, user_id)
    options = found(
        selectors.users.license_options(tenant=request.tenant, user=user, sku_id=sku_id)
    )
    direct = options["direct"]
    off = direct.disabled_plans if direct else []
    error = ""
    if request.method == "POST":
        off = _switched_off(request, [plan for plan, _name in options["plans"]])
        if direct is None or off is None:
            return bad_request(request, MALFORMED_PLANS)
        try:
            services.assignment_set_disabled_plans(
                tenant=request.tenant, assignment=direct, disabled_plans=off, actor=request.user
            )
        except LicensingError as refused:
            error = str(refused)
        else:
            text = _("Saved the services of %(product)s for %(user)s.") % {
                "product": options["product"].display_name,
                "user": user.display_name,
            }
            return command_done(
                request, text, reverse("portal:user_licenses", args=[user.public_id])
            )
    context = {
        "section": "users",
        "person": user,
        "tab": "licenses",
        "product": options["product"],
        "direct": direct,
        "switches": _switches(options["plans"], off),
        "inherited": [
            {"group": a.group, "switches": _switches(options["plans"], a.disabled_plans)}
            for a in options["inherited"]
        ],
        "error": error,
    }
    template = "portal/users/_plans_dialog.html" if request.htmx else "portal/users/plans.html"
    return render(request, template, context)


def _switches(plans: list[tuple[str, str]], off) -> list[dict]:
    return [{"id": plan, "name": name, "on": plan not in off} for plan, name in plans]


def _switched_off(request: HttpRequest, plans: list[str]) -> list[str] | None:
    """The plans the dialog switched off: the product's plans not sent as on. Without the
    form's mark, or with a plan that is not the product's, the request is malformed (None),
    never "switch everything off"."""
    on = set(request.POST.getlist("plan"))
    if request.POST.get("services") != "sent" or on - set(plans):
        return None
    return [plan for plan in plans if plan not in on]
