"""Labels for stored enum values (the pages show words, the data keeps Azure's codes), and
the rows of the Licensed users table."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

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
def licensed_user_rows(lines: list[dict], plan_count: int, selectable: bool):
    """The rows of a product's Licensed users table (SPEC §4.3), 50 to a page.

    Built here rather than with template tags per cell: at 50 rows the template engine spent
    more time on these cells than the whole request spent elsewhere (``make bench``,
    ``licensed_users_page_vs_minimal_view``). Same markup as a template would produce.
    """
    select = '<td class="check"><input type="checkbox" name="user" value="{}" aria-label="{}"></td>'
    return format_html_join(
        "\n",
        '<tr>{}<td><a href="{}">{}</a></td><td>{}</td><td>{}</td>'
        '<td><span class="state state-{}">{}</span>{}</td><td title="{}">{} / {}</td>'
        "<td>{}</td></tr>",
        (
            (
                format_html(
                    select,
                    line["user"]["public_id"],
                    _("Select %(name)s") % {"name": line["user"]["display_name"]},
                )
                if selectable
                else "",
                line["url"],
                line["user"]["display_name"],
                line["user"]["user_principal_name"],
                ", ".join(
                    _("Inherited (%(group)s)") % {"group": row.via_group__name}
                    if row.via_group_id
                    else _("Direct")
                    for row in line["rows"]
                ),
                line["state"],
                state_label(line["state"]),
                format_html(
                    ' <span class="badge badge-error" title="{}">{}</span>',
                    line["error"],
                    error_label(line["error"]),
                )
                if line["error"]
                else "",
                ", ".join(line["enabled"]),
                len(line["enabled"]),
                plan_count,
                line["location"] or "—",
            )
            for line in lines
        ),
    )
