from __future__ import annotations

import json

import pytest

from licensing import services


@pytest.fixture
def app(tenant):
    """register(read_only=False): an app of the tenant and its secret."""

    def _register(read_only: bool = False, on=None):
        return services.app_register(
            tenant=on or tenant, name="Licensing script", read_only=read_only, actor=None
        )

    return _register


@pytest.fixture
def graph(client, app, tenant):
    """graph(): a function calling the API with a fresh token of a new app:
    call("GET", "/v1.0/users", body=None) -> response."""

    def _graph(read_only: bool = False, on=None):
        registered, secret = app(read_only=read_only, on=on)
        reply = client.post(
            f"/{(on or tenant).initial_domain}/oauth2/v2.0/token",
            {
                "grant_type": "client_credentials",
                "client_id": str(registered.client_id),
                "client_secret": secret,
                "scope": "https://graph.microsoft.com/.default",
            },
        )
        assert reply.status_code == 200, reply.content
        token = reply.json()["access_token"]

        def call(method: str, url: str, body=None, **headers):
            kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}", **headers}
            if body is not None:
                kwargs.update(data=json.dumps(body), content_type="application/json")
            return client.generic(method, url, **kwargs)

        call.app, call.token = registered, token
        return call

    return _graph
