"""URLs of the Graph-compatible API under ``/v1.0/`` and of the token endpoint (docs/api.md).
Actions answer at their short and namespaced names (``assignLicense`` and
``microsoft.graph.assignLicense``)."""

from __future__ import annotations

from django.urls import include, path, re_path

from portal.graph import auth, batch
from portal.graph import views as v
from portal.graph.views import endpoint


def action(prefix: str, name: str, view, write: bool = True):
    return [
        path(f"{prefix}/{name}", endpoint(POST=(view, write))),
        path(f"{prefix}/microsoft.graph.{name}", endpoint(POST=(view, write))),
    ]


graph = [
    path("subscribedSkus", endpoint(GET=(v.list_skus, False))),
    path("subscribedSkus/<str:key>", endpoint(GET=(v.get_sku, False))),
    path("users", endpoint(GET=(v.list_users, False), POST=(v.create_user, True))),
    path("users/$count", endpoint(GET=(v.count_users, False))),
    path(
        "users/<str:key>",
        endpoint(
            GET=(v.get_user, False), PATCH=(v.update_user, True), DELETE=(v.delete_user, True)
        ),
    ),
    *action("users/<str:key>", "assignLicense", v.assign_user),
    *action("users/<str:key>", "reprocessLicenseAssignment", v.reprocess_user),
    path("users/<str:key>/licenseDetails", endpoint(GET=(v.license_details, False))),
    path("groups", endpoint(GET=(v.list_groups, False))),
    path("groups/$count", endpoint(GET=(v.count_groups, False))),
    path(
        "groups/<str:key>",
        endpoint(GET=(v.get_group, False), PATCH=(v.update_group, True)),
    ),
    *action("groups/<str:key>", "assignLicense", v.assign_group),
    path("groups/<str:key>/members", endpoint(GET=(v.group_members, False))),
    path("groups/<str:key>/members/$ref", endpoint(POST=(v.add_member, True))),
    path(
        "groups/<str:key>/members/<str:member>/$ref",
        endpoint(DELETE=(v.remove_member, True)),
    ),
    path(
        "groups/<str:key>/membersWithLicenseErrors",
        endpoint(GET=(v.members_with_errors, False)),
    ),
    # The SDKs cast the deleted items to users by the short name (graph.user), Graph's
    # documents by the long one.
    path("directory/deletedItems/microsoft.graph.user", endpoint(GET=(v.deleted_users, False))),
    path("directory/deletedItems/graph.user", endpoint(GET=(v.deleted_users, False))),
    path(
        "directory/deletedItems/<str:key>",
        endpoint(GET=(v.get_deleted, False), DELETE=(v.purge_deleted, True)),
    ),
    *action("directory/deletedItems/<str:key>", "restore", v.restore_deleted),
    path("auditLogs/directoryAudits", endpoint(GET=(v.directory_audits, False))),
    path("$batch", batch.batch),
    re_path(r"^(?P<rest>.*)$", v.unknown),
]

urlpatterns = [
    path("v1.0/", include(graph)),
    path("<str:tenant>/oauth2/v2.0/token", auth.token),
    path("<str:tenant>/v2.0/.well-known/openid-configuration", auth.openid_configuration),
    path("<str:tenant>/discovery/v2.0/keys", auth.keys),
]
