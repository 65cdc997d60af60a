"""Checks generated from the URL configuration, so a new portal URL is covered without anyone
remembering: anonymous visitors are sent to sign in, whatever the URL and method."""

from __future__ import annotations

import uuid

import pytest
from django.urls import URLPattern, get_resolver, reverse

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def portal_urls(*, with_ids_only: bool = False) -> list[str]:
    (portal,) = [
        p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "portal"
    ]
    urls = []
    for pattern in portal.url_patterns:
        assert isinstance(pattern, URLPattern)
        if with_ids_only and not pattern.pattern.converters:
            continue
        kwargs = {name: uuid.uuid4() for name in pattern.pattern.converters}
        urls.append(reverse(f"portal:{pattern.name}", kwargs=kwargs))
    return urls


@pytest.mark.parametrize("url", portal_urls())
def test_anonymous_is_sent_to_sign_in(client, url):
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code in (302, 405), (url, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", portal_urls(with_ids_only=True))
def test_unknown_ids_are_404_for_a_signed_in_admin(client, as_role, url):
    as_role()
    response = client.get(url)
    if response.status_code == 405:  # a command: POST only
        response = client.post(url)
    assert response.status_code == 404, url
