"""Licenses > Overview and the Assign blade."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_safe
from django_htmx.http import HttpResponseClientRedirect

from licensing import selectors, services
from licensing.errors import LicensingError
from portal.access import portal_view, require_license_admin
from portal.forms import AssignRequest, picker_results
from portal.responses import HttpResponseSeeOther, template_for


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
        return _done(request, picked)
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


def _done(request: HttpRequest, picked: AssignRequest) -> HttpResponse:
    """Back to All products, with a message naming what went to whom and, for each group, the
    outcome of its run when it has finished already (the immediate task backend), else a link
    to its Licenses page where the progress shows. Never a success for a group with errors."""
    text = _("%(products)s assigned to %(whom)s.") % {
        "products": ", ".join(p.display_name for p in picked.products),
        "whom": _whom(picked.users, picked.groups),
    }
    parts, levels = [text], {messages.SUCCESS}
    for outcome in selectors.groups.license_outcomes(
        tenant=request.tenant, groups=picked.groups, products=picked.products
    ):
        group = outcome["group"]
        if outcome["complete"]:
            parts.append(_outcome_text(outcome))
            if outcome["failed"]:
                levels.add(messages.WARNING if outcome["licensed"] else messages.ERROR)
            continue
        levels.add(messages.INFO)
        parts.append(
            format_html(
                '{} <a href="{}">{}</a>',
                _("%(group)s is being processed.") % {"group": group.name},
                reverse("portal:group_licenses", args=[group.public_id]),
                _("See its progress"),
            )
        )
    # The worst wins; a run still going is news, not yet a success.
    level = max(levels) if levels & {messages.WARNING, messages.ERROR} else min(levels)
    message = format_html_join(" ", "{}", ((part,) for part in parts))
    messages.add_message(request, level, message)
    if request.htmx:
        return HttpResponseClientRedirect(reverse("portal:products"))
    return HttpResponseSeeOther(reverse("portal:products"))


def _whom(users, groups) -> str:
    """ "Adele Wilber", "Sales", "Adele Wilber and Sales", "Adele Wilber, Sales and 3 others":
    the first user and the first group by name, and how many more."""
    shown = [u.display_name for u in users[:1]] + [g.name for g in groups[:1]]
    others = len(users) + len(groups) - len(shown)
    if not others:
        if len(shown) == 1:
            return shown[0]
        return _("%(first)s and %(second)s") % {"first": shown[0], "second": shown[1]}
    return ngettext("%(names)s and %(n)s other", "%(names)s and %(n)s others", others) % {
        "names": ", ".join(shown),
        "n": _number(others),
    }


def _outcome_text(outcome: dict) -> str:
    """ "Sales: 100 users licensed, 199 with errors: Not enough licenses"."""
    text = ngettext(
        "%(group)s: %(n)s user licensed", "%(group)s: %(n)s users licensed", outcome["licensed"]
    ) % {"group": outcome["group"].name, "n": _number(outcome["licensed"])}
    if not outcome["failed"]:
        return f"{text}."
    errors = ngettext("%(n)s with an error", "%(n)s with errors", outcome["failed"]) % {
        "n": _number(outcome["failed"])
    }
    if len(outcome["errors"]) == 1:
        reasons = str(outcome["errors"][0][0])
    else:
        reasons = ", ".join(f"{label} ({_number(n)})" for label, n in outcome["errors"])
    return f"{text}, {errors}: {reasons}."


def _number(n: int) -> str:
    """12,500 in English, 12.500 in Dutch."""
    return number_format(n, force_grouping=True)


def _assign_context(request: HttpRequest, data, picked: AssignRequest, catalog, products) -> dict:
    query = data.get("q", "").strip()
    found_users, found_groups = picker_results(request.tenant, query)
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
        "preview": picked.preview(catalog),
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
        "kept": picked.kept.get(product.id, []),
        "on_count": sum(1 for p in plans if p["on"]),
        "error": error.removeprefix(f"{product.display_name}: "),
    }
