"""When the database is away (restarting, failing over, out of connections), every request
that needed it answers 503 with ``Retry-After`` in its protocol's own shape, never a 500
(docs/operations.md): a page for the browser, Graph's error envelope on the API, SCIM's error
schema on SCIM. Nothing was changed: a transaction the database lost is rolled back whole.

Django closes a broken connection at the end of the request, and checks persistent ones
before the next (``CONN_HEALTH_CHECKS``), so the process recovers by itself when the
database is back.
"""

from __future__ import annotations

import logging
import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.defaults import server_error as django_server_error

from licensing.errors import database_unavailable

logger = logging.getLogger(__name__)

RETRY_AFTER = "5"  # seconds
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def response(request: HttpRequest) -> HttpResponse:
    """The 503 for this request, in the shape its client reads."""
    from portal.graph import is_api  # the API answers in Graph's envelope

    message = "The service is temporarily unavailable. Nothing was changed. Retry shortly."
    if is_api(request):
        from portal.graph.errors import GraphError
        from portal.graph.errors import response as graph_response

        reply = graph_response(request, GraphError(503, "serviceNotAvailable", message))
    elif request.path.startswith("/scim/"):
        reply = JsonResponse(
            {"schemas": [SCIM_ERROR], "status": "503", "detail": message},
            status=503,
            content_type="application/scim+json",
        )
    else:
        # No context processors: they would read the session and the account, from the
        # database that is away.
        reply = HttpResponse(loader.render_to_string("503.html"), status=503)
    reply["Retry-After"] = RETRY_AFTER
    return reply


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """``handler500``: the database being away is a 503, anything else Django's 500."""
    error = sys.exc_info()[1]
    if database_unavailable(error):
        logger.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        return response(request)
    return django_server_error(request, template_name)
