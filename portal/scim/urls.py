"""SCIM's URLs under ``/scim/v2/<tenant id>/`` (RFC 7644 §3.2), each an endpoint with the
methods it takes; anything else is SCIM's 404."""

from __future__ import annotations

from django.urls import path

from portal.scim import views as v
from portal.scim.protocol import endpoint

urlpatterns = [
    path("Users", endpoint(GET=v.list_users, POST=v.create_user)),
    path(".search", endpoint(POST=v.search_everything)),
    path("Users/.search", endpoint(POST=v.searching(v.list_users))),
    path("Groups/.search", endpoint(POST=v.searching(v.list_groups))),
    path(
        "Users/<str:key>",
        endpoint(GET=v.get_user, PUT=v.replace_user, PATCH=v.patch_user, DELETE=v.delete_user),
    ),
    path("Groups", endpoint(GET=v.list_groups, POST=v.create_group)),
    path(
        "Groups/<str:key>",
        endpoint(GET=v.get_group, PUT=v.replace_group, PATCH=v.patch_group, DELETE=v.delete_group),
    ),
    path("ServiceProviderConfig", endpoint(GET=v.service_provider_config)),
    path("Schemas", endpoint(GET=v.list_schemas)),
    path("Schemas/<str:key>", endpoint(GET=v.get_schema)),
    path("ResourceTypes", endpoint(GET=v.list_resource_types)),
    path("ResourceTypes/<str:key>", endpoint(GET=v.get_resource_type)),
    path(
        "<path:rest>",
        endpoint(GET=v.unknown, POST=v.unknown, PUT=v.unknown, PATCH=v.unknown, DELETE=v.unknown),
    ),
]
