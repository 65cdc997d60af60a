"""Labels for stored enum values (the pages show words, the data keeps Azure's codes), and
the rows of the Licensed users table."""

from __future__ import annotations

import functools
import html

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaulttags import querystring
from django.utils.formats import date_format, localize, time_format
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _
from django_countries import countries

from licensing.errors import names_and_more as _names_and_more
from licensing.models import LicenseError, LicenseState
from portal.templatetags.cached_url import address

register = template.Library()

_STATES = dict(LicenseState.choices)
_ERRORS = dict(LicenseError.choices)


@register.filter
def state_label(value: str) -> str:
    return _STATES.get(value, value)


@register.filter
def error_label(value: str) -> str:
    return _ERRORS.get(value, value)


@functools.cache
def _choice_labels(field) -> dict:
    return dict(field.flatchoices)


@register.filter
def display(obj, field_name: str):
    """The label of a field with choices, as ``obj.get_<field>_display`` gives it, from the
    field's choices read once: the model's method rebuilds them on every call and, hashing
    each lazy label, translates all of them, for every row of a list."""
    if obj is None:
        return ""
    field = obj._meta.get_field(field_name)
    value = getattr(obj, field.attname)
    return _choice_labels(field).get(value, value)


@register.simple_tag
def country_options(selected: str) -> str:
    """The ``<option>`` of every country, by its name in the page's language, ``selected``
    (a code) marked: one string, where a template loop over 250 countries cost more than
    the rest of the page."""
    return mark_safe(
        "".join(
            f'<option value="{escape(code)}"{" selected" if code == selected else ""}>'
            f"{escape(name)}</option>"
            for code, name in countries
        )
    )


@register.filter
def select_label(name) -> str:
    """A row checkbox's label, "Select <name>" (the same text as the short tables'
    blocktranslate): a blocktranslate per row of a long list costs more than the row."""
    return _("Select %(name)s") % {"name": name}


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


def _text(value) -> str:
    """Django's ``escape`` for the row tags below, the same text without its check for lazy
    text on every call: a page of rows escapes three hundred values."""
    return html.escape(str(value))


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
        name = _text(user["display_name"])
        check = (
            f'<td class="check"><input type="checkbox" name="user" '
            f'value="{_text(user["public_id"])}" '
            f'data-name="{name}" '
            f'aria-label="{_text(select % {"name": user["display_name"]})}"></td>'
            if selectable
            else ""
        )
        paths = ", ".join(
            inherited % {"group": row.via_group__name} if row.via_group_id else direct
            for row in line["rows"]
        )
        state = _text(line["state"])
        error = (
            f' <span class="badge badge-error" title="{_text(line["error"])}">'
            f"{_text(error_label(line['error']))}</span>"
            if line["error"]
            else ""
        )
        rows.append(
            f'<tr>{check}<td><a href="{_text(line["url"])}">{name}</a></td>'
            f"<td>{_text(user['user_principal_name'])}</td><td>{_text(paths)}</td>"
            f'<td><span class="state state-{state}">{_text(state_label(line["state"]))}</span>'
            f'{error}</td><td title="{_text(", ".join(line["enabled"]))}">'
            f"{len(line['enabled'])} / {int(plan_count)}</td>"
            f"<td>{_text(line['location'] or '—')}</td></tr>"
        )
    return mark_safe("\n".join(rows))


@register.simple_tag
def user_rows(people) -> str:
    """The rows of All users, 50 to a page, built here for the reason ``licensed_user_rows``
    is. The markup is what the template loop in ``tests/portal/test_row_tags.py`` renders,
    which that test compares it with; every value goes through ``escape``."""
    yes, no = _("Yes"), _("No")
    rows = []
    for person in people:
        link = _text(address("portal:user_licenses", person.public_id))
        rows.append(
            f'<tr><td><a href="{link}">{_text(person.display_name)}</a></td>'
            f"<td>{_text(person.user_principal_name)}</td>"
            f"<td>{_text(display(person, 'source'))}</td>"
            f"<td>{_text(person.usage_location or '—')}</td>"
            f"<td>{_text(yes if person.account_enabled else no)}</td></tr>"
        )
    return mark_safe("\n".join(rows))


def _join(items) -> str:
    """``{{ items|join:", " }}`` as the template gives it."""
    return ", ".join(_text(item) for item in items)


@register.simple_tag
def group_rows(groups) -> str:
    """The rows of All groups (as ``user_rows``; the reference loop is in the same test)."""
    rows = []
    for group in groups:
        link = _text(address("portal:group", group.public_id))
        in_error = group.members_in_error
        errors = (
            f'<span class="badge badge-error">{_text(localize(in_error))}</span>'
            if in_error
            else "0"
        )
        rows.append(
            f'<tr><td><a href="{link}">{_text(group.name)}</a></td>'
            f"<td>{_text(group.description)}</td>"
            f'<td class="num">{_text(intcomma(group.member_count))}</td>'
            f"<td>{_text(display(group, 'processing_state'))}</td>"
            f'<td class="num">{errors}</td></tr>'
        )
    return mark_safe("\n".join(rows))


@register.simple_tag
def member_rows(people, selectable: bool) -> str:
    """The rows of a group's Members (as ``user_rows``)."""
    rows = []
    for person in people:
        name = _text(person.display_name)
        check = (
            f'<td class="check"><input type="checkbox" name="user" '
            f'value="{_text(person.public_id)}" data-name="{name}" '
            f'aria-label="{_text(select_label(person.display_name))}"></td>'
            if selectable
            else ""
        )
        link = _text(address("portal:user_licenses", person.public_id))
        rows.append(
            f'<tr>{check}<td><a href="{link}">{name}</a></td>'
            f"<td>{_text(person.user_principal_name)}</td></tr>"
        )
    return mark_safe("\n".join(rows))


@register.simple_tag
def error_rows(lines) -> str:
    """The rows of a group's Users with license assignment errors (as ``user_rows``)."""
    rows = []
    for line in lines:
        user = line["user"]
        link = _text(address("portal:user_licenses", user.public_id))
        rows.append(
            f'<tr><td><a href="{link}">{_text(user.display_name)}</a></td>'
            f"<td>{_text(user.user_principal_name)}</td><td>{_join(line['failed'])}</td>"
            f"<td>{_text(line['top_reason'])}</td></tr>"
        )
    return mark_safe("\n".join(rows))


@register.simple_tag
def audit_rows(events) -> str:
    """The rows of the Audit logs (as ``user_rows``): when (in the page's time zone and
    language), what, on what, by whom, and the details' summary or what was added and
    removed."""
    rows = []
    for event in events:
        when = template_localtime(event.occurred_at)
        details = event.details if isinstance(event.details, dict) else {}
        if details.get("summary"):
            detail = _text(details["summary"])
        else:
            added, removed = details.get("added"), details.get("removed")
            detail = (f"+ {_join(added)} " if added else "") + (
                f"− {_join(removed)}" if removed else ""
            )
        rows.append(
            f"<tr><td>{_text(date_format(when, 'SHORT_DATE_FORMAT'))} "
            f"{_text(time_format(when, 'H:i:s'))}</td><td>{_text(event.activity)}</td>"
            f"<td>{_text(event.target_name)}</td><td>{_text(event.actor_name)}</td>"
            f"<td>{detail}</td></tr>"
        )
    return mark_safe("\n".join(rows))
