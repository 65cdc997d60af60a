"""SCIM 2.0 provisioning (RFC 7643/7644) per tenant, as Entra ID and Okta speak it
(docs/provisioning.md): ``/scim/v2/<tenant id>/`` with Users, Groups and discovery.

``protocol`` is the endpoint (token, methods, errors, body); ``resources`` SCIM's shapes of
users and groups and the discovery documents; ``filter`` and ``patch`` parse a list's query and
a PATCH; ``views`` parse, read through ``licensing.selectors``, call one service per change and
answer; ``urls`` routes them.
"""

from __future__ import annotations

from django.http import HttpRequest


def tenant_url(request: HttpRequest, tenant) -> str:
    """The tenant's SCIM base URL, as an identity provider is given it."""
    return request.build_absolute_uri(f"/scim/v2/{tenant.public_id}/")
