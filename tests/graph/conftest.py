from __future__ import annotations

import asyncio
import json
import os
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from wsgiref.simple_server import WSGIRequestHandler

import httpx
import pytest
import trustme
from azure.identity import ClientSecretCredential
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connections
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph_core import GraphClientFactory

from licensing import services

# The official clients' scripts (test_real_clients*.py) run in a thread of their own while
# the test holds the database.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SCOPES = ["https://graph.microsoft.com/.default"]


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


# -- The official clients over TLS (test_real_clients*.py) ------------------------------


class _Handler(WSGIRequestHandler):
    def get_environ(self):
        environ = super().get_environ()
        environ["HTTPS"] = "on"  # the socket is TLS: the portal builds https:// URLs
        return environ

    def handle_one_request(self):
        super().handle_one_request()
        connections.close_all()  # a kept-alive client must not keep a database session

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_server(transactional_catalog, tmp_path):
    """The portal over HTTPS on localhost, with a certificate of a throwaway CA (trustme)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server = ThreadedWSGIServer(("127.0.0.1", 0), _Handler)
    server.set_app(WSGIHandler())
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield f"localhost:{server.server_address[1]}", str(ca_file)
    server.shutdown()
    server.server_close()


@pytest.fixture
def contoso(transactional_catalog):
    from tests.factories import TenantFactory

    return TenantFactory(name="Contoso", initial_domain="contoso.onmicrosoft.com", country="NL")


def client_for(host: str, ca_file: str, tenant, client_id, secret) -> GraphServiceClient:
    """As Microsoft documents a national cloud: the credential's authority and the request
    adapter's base URL point at the portal; nothing else changes."""
    credential = ClientSecretCredential(
        tenant_id=str(tenant.public_id),
        client_id=str(client_id),
        client_secret=secret,
        authority=f"https://{host}",
        disable_instance_discovery=True,
        connection_verify=ca_file,
    )
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=SCOPES, allowed_hosts=[host.split(":")[0]]
    )
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca_file), timeout=30)
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"https://{host}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def run(coroutine):
    """The script's own event loop, in a thread of its own: in the full suite Playwright's
    sync API keeps a loop running in the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
