"""The Graph-compatible licensing API at ``/v1.0/`` and its Entra-shaped token endpoint
(docs/api.md). Views translate HTTP and call the same services as the portal."""

from __future__ import annotations

from django.http import HttpRequest

PREFIX = "/v1.0/"


def is_api(request: HttpRequest) -> bool:
    """Whether this request is for the API: JSON answers, bearer tokens, never the browser's
    session, always English."""
    return request.path.startswith(PREFIX)
