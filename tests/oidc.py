"""A real OpenID Connect provider for the tests: oidc-provider-mock on loopback, and the
portal's settings pointed at it (as the environment would: README, "Configuration")."""

from __future__ import annotations

import contextlib

from django.conf import settings
from oidc_provider_mock import run_server_in_thread


@contextlib.contextmanager
def provider():
    """The provider, running; yields its base URL."""
    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def configured(base: str) -> dict:
    """The settings of a portal configured for the provider at ``base``."""
    return {
        "OIDC_RP_CLIENT_ID": "licensing-portal",
        "OIDC_RP_CLIENT_SECRET": "not-checked-by-the-mock",
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{base}/oauth2/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": f"{base}/oauth2/token",
        "OIDC_OP_USER_ENDPOINT": f"{base}/userinfo",
        "OIDC_OP_JWKS_ENDPOINT": f"{base}/jwks",
        "AUTHENTICATION_BACKENDS": [
            *settings.AUTHENTICATION_BACKENDS,
            "portal.oidc.PortalOIDCBackend",
        ],
        "MIDDLEWARE": [
            *settings.MIDDLEWARE[:-1],
            "portal.oidc.SessionRefresh",
            settings.MIDDLEWARE[-1],
        ],
    }
