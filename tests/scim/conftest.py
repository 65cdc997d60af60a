"""What the SCIM tests share: a client for one tenant's endpoint with its bearer token."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from licensing import services

SCIM = "application/scim+json"


@pytest.fixture
def scim(client, tenant):
    _token, secret = services.scim_token_issue(tenant=tenant, actor=None)
    base = f"/scim/v2/{tenant.public_id}"

    def call(method, url, body=None, token=secret, query=None, raw=None, headers=None):
        """``raw``: the body as it is, instead of ``body`` as JSON; ``headers``: more
        headers (``If-Match``)."""
        if query is not None:
            url = f"{url}?{urlencode(query)}"
        response = client.generic(
            method,
            base + url,
            raw if raw is not None else json.dumps(body) if body is not None else "",
            content_type=SCIM,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        )
        if response.content:
            assert response["Content-Type"] == SCIM
        return response

    return call
