"""Django's ``{% url %}`` tag, with each route's address worked out once per process.

A list of fifty rows links each row to its user, group or product: fifty reversals, each about
20 µs, a third of what the whole request costs without them. Every id in a link is a UUID (the
public ids), and a UUID always fills a route's argument the same way (its ``str``). So the
first time a route is asked for with UUIDs, the tag reverses it once with marker UUIDs and
keeps the address in pieces; every later row joins its ids between the pieces. Anything else
(no UUID, a string, a number) is reversed by Django as before. Registered as a template builtin
(``TEMPLATES`` in portal/settings.py), so it stands in for Django's tag in every template, the
admin's included; ``tests/portal/test_url_tag.py`` checks it against ``reverse`` on every
route."""

from __future__ import annotations

import functools
import uuid

from django import template
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()

# Ids no public id takes (version-4 UUIDs are random; these are fixed, with a version of 0).
_MARKERS = tuple(
    str(uuid.UUID(int=0xF00D_0000_0000_0000_0000_0000_0000_0000 + i)) for i in range(8)
)


@functools.cache
def _pieces(view_name, names, current_app, urlconf, prefix) -> tuple[str, ...] | None:
    """The route's address split around its arguments (``names``: the keyword arguments'
    names, or positions for positional ones), or None when the markers don't come through
    unchanged. ``urlconf`` and ``prefix`` are part of the key only: reverse reads them itself."""
    markers = _MARKERS[: len(names)]
    if all(isinstance(n, int) for n in names):
        address = reverse(view_name, args=markers, current_app=current_app)
    else:
        address = reverse(
            view_name, kwargs=dict(zip(names, markers, strict=True)), current_app=current_app
        )
    pieces = []
    for marker in markers:
        before, found, address = address.partition(marker)
        if not found or marker in address:
            return None
        pieces.append(before)
    pieces.append(address)
    return tuple(pieces)


def address(view_name: str, *ids: uuid.UUID, names=None, current_app=None) -> str | None:
    """The address of route ``view_name`` for these UUIDs (positional, or for the keyword
    arguments ``names``), as ``reverse`` gives it; None when the route is not one to keep in
    pieces. Raises NoReverseMatch as ``reverse`` does. Also for tags that build rows."""
    if len(ids) > len(_MARKERS) or not all(isinstance(v, uuid.UUID) for v in ids):
        return None
    names = tuple(names) if names else tuple(range(len(ids)))
    pieces = _pieces(view_name, names, current_app, get_urlconf(), get_script_prefix())
    if pieces is None:
        return None
    return pieces[0] + "".join(str(v) + piece for v, piece in zip(ids, pieces[1:], strict=True))


class CachedURLNode(URLNode):
    def render(self, context):
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {k: v.resolve(context) for k, v in self.kwargs.items()}
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", None)
        if current_app is None:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        try:
            found = address(
                self.view_name.resolve(context),
                *(kwargs.values() if kwargs else args),
                names=tuple(kwargs),
                current_app=current_app,
            )
        except NoReverseMatch:
            found = None  # Django's tag raises it, or leaves the variable empty
        if found is None:
            return super().render(context)
        if self.asvar:
            context[self.asvar] = found
            return ""
        return conditional_escape(found) if context.autoescape else found


@register.tag
def url(parser, token):
    """Django's ``{% url %}``, same syntax and same addresses (see the module's text)."""
    node = django_url(parser, token)
    return CachedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
