"""The ``{% url %}`` tag that keeps each route's address in pieces (portal/templatetags/
cached_url.py) gives Django's ``reverse`` address for every named route of the URLconf, with new
random ids each run, keeps Django's behaviour for what it does not cache, and follows the
script prefix."""

from __future__ import annotations

import uuid

import pytest
from django.template import engines
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.urls.base import set_script_prefix
from django.urls.converters import UUIDConverter

from portal.templatetags.cached_url import CachedURLNode


def named_routes(patterns=None, namespace="", converters=None):
    """(qualified name, {argument: converter}) of every named route, the admin's too."""
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if entry.pattern.regex.groups != len(entry.pattern.converters):
            continue  # a regular expression's groups (the admin's app_list): no converter
        these = {**(converters or {}), **entry.pattern.converters}
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += named_routes(entry.url_patterns, inner, these)
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((namespace + entry.name, these))
    return found


def render(text: str, **context) -> str:
    return engines["django"].from_string(text).render(context)


UUID_ROUTES = [
    (name, list(converters))
    for name, converters in named_routes()
    if all(isinstance(c, UUIDConverter) for c in converters.values())
]


def test_the_tag_is_ours_in_every_template():
    template = engines["django"].from_string("{% url 'portal:users' %}")
    assert isinstance(template.template.nodelist[0], CachedURLNode)


def test_the_walk_finds_the_portal_s_routes_with_ids():
    names = {name for name, arguments in UUID_ROUTES if arguments}
    assert {"portal:user_licenses", "portal:group_licenses", "portal:product"} <= names


@pytest.mark.parametrize("name,arguments", UUID_ROUTES, ids=[n for n, _ in UUID_ROUTES])
def test_every_route_gives_django_s_address(name, arguments):
    for _ in range(3):
        ids = {a: uuid.uuid4() for a in arguments}
        tag = " ".join(f"{a}=id_{a}" for a in arguments)
        context = {f"id_{a}": value for a, value in ids.items()}
        assert render(f"{{% url '{name}' {tag} %}}", **context) == reverse(name, kwargs=ids)
        positional = " ".join(f"id_{a}" for a in arguments)
        assert render(f"{{% url '{name}' {positional} %}}", **context) == reverse(
            name, args=list(ids.values())
        )


def test_what_is_not_an_id_is_reversed_by_django():
    key = str(uuid.uuid4())  # an id's text, not a UUID: Django's own path
    assert render("{% url 'portal:user_licenses' key %}", key=key) == f"/users/{key}/licenses/"
    with pytest.raises(NoReverseMatch):
        render("{% url 'portal:user_licenses' key %}", key="not-an-id")


def test_a_missing_route_raises_as_django_and_as_var_leaves_it_empty():
    with pytest.raises(NoReverseMatch):
        render("{% url 'portal:no_such_page' key %}", key=uuid.uuid4())
    assert (
        render("{% url 'portal:no_such_page' key as there %}[{{ there }}]", key=uuid.uuid4())
        == "[]"
    )


def test_as_var_and_escaping():
    key = uuid.uuid4()
    out = render("{% url 'portal:user_licenses' key as there %}<{{ there }}>", key=key)
    assert out == f"<{reverse('portal:user_licenses', args=[key])}>"


def test_the_script_prefix_is_followed():
    key = uuid.uuid4()
    render("{% url 'portal:user_licenses' key %}", key=key)  # cached without a prefix
    set_script_prefix("/portal/")
    try:
        assert render("{% url 'portal:user_licenses' key %}", key=key) == (
            f"/portal/users/{key}/licenses/"
        )
    finally:
        set_script_prefix("/")
    assert render("{% url 'portal:user_licenses' key %}", key=key) == f"/users/{key}/licenses/"
