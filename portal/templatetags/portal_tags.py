"""Labels for stored enum values (the pages show words, the data keeps Azure's codes), and
the rows of the Licensed users table."""

from __future__ import annotations

from django import template
from django.template.defaulttags import querystring
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from licensing.errors import names_and_more as _names_and_more
from licensing.models import LicenseError, LicenseState

register = template.Library()

_STATES = dict(LicenseState.choices)
_ERRORS = dict(LicenseError.choices)


@register.filter
def state_label(value: str) -> str:
    return _STATES.get(value, value)


@register.filter
def error_label(value: str) -> str:
    return _ERRORS.get(value, value)


@register.simple_tag
def names_and_more(names, total: int) -> str:
    """A note's list of names: the first few and "and N more" (``errors.names_and_more``).
    Escaped by the tag, as any simple tag's answer."""
    return _names_and_more(names, total)


@register.simple_tag(takes_context=True)
def sort_th(context, header: dict, target: str) -> str:
    """A sortable column header: a link (and htmx swap of ``target``) that sorts by it, with
    ``aria-sort`` and an arrow on the current column. The link is Django's ``{% querystring %}``
    of the request: search and filters stay, the page goes back to the first. A tag, not an
    include: tables draw several, and an include per header cost more than the table's rows.
    The swap pushes the link's URL, so Back and a bookmark come back to this sort."""
    # The arrow is for the eye; screen readers hear aria-sort ("Name, sorted ascending").
    arrow = {"ascending": "▲", "descending": "▼"}.get(header["aria_sort"], "")
    arrow = f' <span class="sort-arrow" aria-hidden="true">{arrow}</span>' if arrow else ""
    url = escape(querystring(context, sort=header["sort"], page=None))
    target = escape(target)
    numeric = ' class="num"' if header.get("numeric") else ""
    return mark_safe(
        f'<th aria-sort="{escape(header["aria_sort"])}"{numeric}><a href="{url}" '
        f'hx-get="{url}" hx-target="{target}" hx-select="{target}" hx-swap="outerHTML" '
        f'hx-push-url="true">'
        f"{escape(header['label'])}{arrow}</a></th>"
    )


@register.simple_tag
def licensed_user_rows(lines: list[dict], plan_count: int, selectable: bool) -> str:
    """The rows of a product's Licensed users table, 50 to a page.

    Built here rather than with template tags per cell: at 50 rows the template engine spent
    more time on these cells than the whole request spent elsewhere (``make bench``,
    ``licensed_users_page_vs_minimal_view``). Same markup as a template would produce; every
    value goes through ``escape``.
    """
    select, inherited, direct = _("Select %(name)s"), _("Inherited (%(group)s)"), _("Direct")
    rows = []
    for line in lines:
        user = line["user"]
        name = escape(user["display_name"])
        check = (
            f'<td class="check"><input type="checkbox" name="user" '
            f'value="{escape(user["public_id"])}" '
            f'data-name="{name}" '
            f'aria-label="{escape(select % {"name": user["display_name"]})}"></td>'
            if selectable
            else ""
        )
        paths = ", ".join(
            inherited % {"group": row.via_group__name} if row.via_group_id else direct
            for row in line["rows"]
        )
        state = escape(line["state"])
        error = (
            f' <span class="badge badge-error" title="{escape(line["error"])}">'
            f"{escape(error_label(line['error']))}</span>"
            if line["error"]
            else ""
        )
        rows.append(
            f'<tr>{check}<td><a href="{escape(line["url"])}">{name}</a></td>'
            f"<td>{escape(user['user_principal_name'])}</td><td>{escape(paths)}</td>"
            f'<td><span class="state state-{state}">{escape(state_label(line["state"]))}</span>'
            f'{error}</td><td title="{escape(", ".join(line["enabled"]))}">'
            f"{len(line['enabled'])} / {int(plan_count)}</td>"
            f"<td>{escape(line['location'] or '—')}</td></tr>"
        )
    return mark_safe("\n".join(rows))
