"""Graph's error envelope, for every failure under ``/v1.0/`` (docs/api.md, "Errors").

``{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}``;
licensing refusals add ``innerError.code``, the license error behind them
(``CountViolation``, ``MutuallyExclusiveViolation``, …), as the portal shows it.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from licensing.errors import (
    InheritedLicense,
    InsufficientSeats,
    LicensingError,
    NotFound,
)
from licensing.models import LicenseError

BAD_REQUEST = "Request_BadRequest"
NOT_FOUND = "Request_ResourceNotFound"
UNAUTHORIZED = "InvalidAuthenticationToken"
FORBIDDEN = "Authorization_RequestDenied"
UNSUPPORTED_QUERY = "Request_UnsupportedQuery"
TOO_LARGE = "Request_EntityTooLarge"


class GraphError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        inner_code: str = "",
        headers=None,
        details=None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.inner_code, self.headers, self.details = inner_code, headers or {}, details or []


def bad_request(message: str, inner_code: str = "") -> GraphError:
    return GraphError(400, BAD_REQUEST, message, inner_code=inner_code)


def not_found(what: str) -> GraphError:
    return GraphError(
        404,
        NOT_FOUND,
        f"Resource '{what}' does not exist or one of its queried reference-"
        "property objects are not present.",
    )


def request_id(request: HttpRequest) -> str:
    if not hasattr(request, "graph_request_id"):
        request.graph_request_id = str(uuid.uuid4())
    return request.graph_request_id


def response(request: HttpRequest, error: GraphError) -> JsonResponse:
    inner = {
        "date": timezone.now().strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id(request),
        "client-request-id": request.headers.get("client-request-id") or request_id(request),
    }
    if error.inner_code:
        inner["code"] = error.inner_code
    body = {"code": error.code, "message": error.message, "innerError": inner}
    if error.details:
        body["details"] = error.details
    reply = JsonResponse({"error": body}, status=error.status)
    for name, value in error.headers.items():
        reply[name] = value
    return reply


# Graph's sentence per license error; ours follows it, naming the users and plans.
GRAPH_SAYS = {
    str(LicenseError.MUTUALLY_EXCLUSIVE): "License assignment failed because service plans "
    "are mutually exclusive.",
    str(LicenseError.DEPENDENCY): "License assignment failed because a service plan depends "
    "on another service plan that is not assigned.",
    str(LicenseError.PROHIBITED_LOCATION): "License assignment cannot be done for user with "
    "invalid usage location.",
}


def from_licensing(error: LicensingError) -> GraphError:
    """A service's refusal in Graph's words, with the license error as ``innerError.code``."""
    if isinstance(error, NotFound):
        return GraphError(404, NOT_FOUND, str(error))
    if isinstance(error, InsufficientSeats):
        return bad_request(_no_seats(error.product.sku_id), str(LicenseError.COUNT))
    if isinstance(error, InheritedLicense):
        return bad_request(
            "User license is inherited from group membership and it cannot be removed "
            "directly from the user.",
            "InheritedLicense",
        )
    code = getattr(error, "code", "")
    if code == LicenseError.COUNT and getattr(error, "skus", None):
        return bad_request(" ".join(_no_seats(s) for s in error.skus), code)
    if code in GRAPH_SAYS:
        return bad_request(f"{GRAPH_SAYS[code]} {error}", code)
    return bad_request(str(error), code)


def _no_seats(sku_id) -> str:
    return f"Subscription with SKU {sku_id} does not have any available licenses."
