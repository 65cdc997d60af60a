"""Licenses > All products and the product blade."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST, require_safe

from licensing import selectors, services
from licensing.errors import LicensingError
from licensing.models import LicenseError, LicenseState
from portal.access import portal_view, require_license_admin
from portal.csv_export import csv_lines
from portal.responses import command_done, found, template_for
from portal.sorting import Column, Sorter

LICENSED_USER_COLUMNS = [
    Column("name", gettext_lazy("Name"), ("display_name", "id")),
    Column("upn", gettext_lazy("User principal name"), ("user_principal_name",)),
    Column("location", gettext_lazy("Usage location"), ("usage_location", "display_name")),
]
PRODUCT_COLUMNS = [
    Column("name", gettext_lazy("Name"), ()),
    Column("total", gettext_lazy("Total"), (), numeric=True),
    Column("assigned", gettext_lazy("Assigned"), (), numeric=True),
    Column("available", gettext_lazy("Available"), (), numeric=True),
    Column("expiring", gettext_lazy("Expiring soon"), (), numeric=True),
]


@require_safe
@portal_view
def product_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    product_url = _url_per_row("portal:product")
    rows = [
        {**row, "url": product_url(row["product"].sku_id)}
        for row in selectors.products.products_with_seats(tenant=request.tenant)
        if not search or search.lower() in row["product"].display_name.lower()
    ]
    sorter = Sorter(request, PRODUCT_COLUMNS, "name")
    key, descending = sorter.key_and_direction
    if key == "name":
        rows.sort(key=lambda r: r["product"].display_name.lower(), reverse=descending)
    else:
        rows.sort(key=lambda r: r[key], reverse=descending)
    context = {
        "rows": rows,
        "search": search,
        "section": "licenses",
        "sort_headers": sorter.headers(),
        "sort_param": sorter.param,
    }
    return render(
        request, template_for(request, "portal/licenses/products.html", "product-rows"), context
    )


def _product(request: HttpRequest, sku_id) -> dict:
    """The product with its seats; only products this tenant has: another tenant's purchase
    is not found here."""
    rows = selectors.products.products_with_seats(tenant=request.tenant, sku_id=sku_id)
    return found(rows[0] if rows else None)


def _product_context(seats: dict, tab: str) -> dict:
    return {"product": seats["product"], "tab": tab, "seats": seats, "section": "licenses"}


def _header_only(request: HttpRequest, seats: dict, tab: str) -> HttpResponse | None:
    """The header alone (seat counts and tabs), when it asks for itself after a change
    (``licensesChanged``): one query for the seats, not the page's lists."""
    if request.htmx and request.htmx.target == "product-header":
        return render(request, "portal/licenses/_product_header.html", _product_context(seats, tab))
    return None


def _url_per_row(name: str) -> Callable[[object], str]:
    """A URL for each row of a long list from one reverse(): the URL with a placeholder id,
    filled in per row (reverse() per row was a tenth of the page's time)."""
    placeholder = str(uuid.UUID(int=0))
    url = reverse(name, args=[placeholder])
    return lambda public_id: url.replace(placeholder, str(public_id))


@require_safe
@portal_view
def licensed_users(request: HttpRequest, sku_id) -> HttpResponse:
    seats = _product(request, sku_id)
    if header := _header_only(request, seats, "users"):
        return header
    search = request.GET.get("q", "").strip()
    # Azure's values in the URL (Active, CountViolation); anything else is no filter.
    state = request.GET.get("state", "")
    state = state if state in LicenseState.values else ""
    error = request.GET.get("error", "")
    error = error if error and error in LicenseError.values else ""
    sorter = Sorter(request, LICENSED_USER_COLUMNS, "name")
    page, lines = selectors.products.licensed_user_lines(
        tenant=request.tenant,
        product_seats=seats,
        search=search,
        page=request.GET.get("page", 1),
        order_by=sorter.order_by(),
        state=state,
        error=error,
    )
    _link_users(lines)
    context = {
        **_product_context(seats, "users"),
        "lines": lines,
        "page": page,
        "search": search,
        "state": state,
        "error": error,
        "states": LicenseState.choices,
        "errors": [(value, label) for value, label in LicenseError.choices if value],
        "plan_count": len(seats["plans"]),
        "sort": sorter.header_map(),
        "sort_param": sorter.param,
    }
    return render(
        request,
        template_for(request, "portal/licenses/product_users.html", "licensed-users"),
        context,
    )


def _link_users(lines: list[dict]) -> None:
    """Each line's link to its user's Licenses blade."""
    user_url = _url_per_row("portal:user_licenses")
    for line in lines:
        line["url"] = user_url(line["user"]["public_id"])


@require_safe
@portal_view
def licensed_groups(request: HttpRequest, sku_id) -> HttpResponse:
    seats = _product(request, sku_id)
    if header := _header_only(request, seats, "groups"):
        return header
    product = seats["product"]
    groups = selectors.groups.licensed_groups(tenant=request.tenant, product=product)
    context = {
        **_product_context(seats, "groups"),
        "groups": groups,
        # Polls while any of them is processed in the background (see the template).
        "processing": any(g.is_processing for g in groups),
    }
    return render(
        request,
        template_for(request, "portal/licenses/product_groups.html", "licensed-groups"),
        context,
    )


@require_safe
@portal_view
def service_plans(request: HttpRequest, sku_id) -> HttpResponse:
    seats = _product(request, sku_id)
    if header := _header_only(request, seats, "plans"):
        return header
    product = seats["product"]
    links = selectors.products.plan_links(product=product)
    context = {**_product_context(seats, "plans"), "links": links}
    return render(request, "portal/licenses/product_plans.html", context)


@require_safe
@portal_view
def download(request: HttpRequest, sku_id) -> StreamingHttpResponse:
    """Licensed users as CSV, streamed in chunks so a 100,000-user product stays small."""
    seats = _product(request, sku_id)
    product = seats["product"]
    rows = selectors.products.licensed_user_rows(tenant=request.tenant, product=product)
    # The header in the page's language; states and errors are Azure's values (Active,
    # CountViolation), as in Azure's own download.
    header = [
        _("Name"),
        _("User principal name"),
        _("Assignment path"),
        _("State"),
        _("Error"),
        _("Usage location"),
    ]
    response = StreamingHttpResponse(
        csv_lines(header, _licensed_user_cells(rows)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{product.sku_part_number}-licensed-users.csv"'
    )
    return response


def _licensed_user_cells(rows) -> Iterator[list[str]]:
    """One CSV line per path. The path's words are read now, in the request's language: the
    lines are written after the view returns."""
    inherited, direct = _("Inherited (%(group)s)"), _("Direct")

    def cells():
        for row in rows:
            path = inherited % {"group": row.via_group.name} if row.via_group else direct
            user = row.user
            yield [
                user.display_name,
                user.user_principal_name,
                path,
                row.state,
                row.error,
                str(user.usage_location or ""),
            ]

    return cells()


@require_POST
@portal_view
def remove_license(request: HttpRequest, sku_id) -> HttpResponse:
    require_license_admin(request)
    seats = _product(request, sku_id)
    product = seats["product"]
    try:
        users = selectors.users.picked_users(
            tenant=request.tenant, ids=request.POST.getlist("user")
        )
        if not users:
            raise LicensingError(_("Select the users whose license you want to remove."))
        services.product_remove_from_users(
            tenant=request.tenant, product=product, users=users, actor=request.user
        )
    except LicensingError as refused:
        return command_done(
            request, str(refused), reverse("portal:product", args=[product.sku_id]), level="error"
        )
    text = ngettext(
        "Removed %(product)s from %(n)s user.", "Removed %(product)s from %(n)s users.", len(users)
    ) % {
        "product": product.display_name,
        "n": intcomma(len(users)),
    }
    return command_done(request, text, reverse("portal:product", args=[product.sku_id]))


@require_POST
@portal_view
def reprocess(request: HttpRequest, sku_id) -> HttpResponse:
    require_license_admin(request)
    seats = _product(request, sku_id)
    product = seats["product"]
    services.reprocess_product(tenant=request.tenant, product=product, actor=request.user)
    text = _("Reprocessed the license assignments of %(product)s.") % {
        "product": product.display_name
    }
    return command_done(request, text, reverse("portal:product", args=[product.sku_id]))
