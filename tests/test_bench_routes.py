"""`make bench` times every GET blade of the portal's URLconf (scripts/bench.py,
``page_figures``): it enumerates the routes itself, so a new route is timed as soon as the
bench can fill its URL arguments. This fails when it cannot: a route without a bench entry."""

from __future__ import annotations

from django.urls import get_resolver

from scripts.bench import FILES, ROUTE_ARGS, portal_routes


def test_every_blade_of_the_urlconf_is_in_the_bench():
    resolver = get_resolver("portal.portal_urls")
    named = {f"portal:{p.name}" for p in resolver.url_patterns}
    routes = dict(portal_routes())
    assert set(routes) == named
    missing = {name: args for name, args in routes.items() if set(args) - set(ROUTE_ARGS)}
    assert not missing, f"the bench cannot fill these routes' URL arguments: {missing}"
    assert named >= FILES
