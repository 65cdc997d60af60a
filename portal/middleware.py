"""Request hygiene for every URL, so that no view has to remember it.

* **Control characters.** A NUL byte or another C0/C1 control character (tab, line feed and
  carriage return excepted) in a query-string or form field is refused with a 400 and a plain
  message before any view runs: PostgreSQL cannot store or compare NUL in text (it raised a
  500 in every search box), and nothing a person types contains the others.
* **Oversized bodies.** A request body larger than ``MAX_REQUEST_BYTES`` (6 MB: the 5 MB
  directory export and its form) is refused with a 413 before anything reads it.
* **Each protocol's shape.** Under ``/v1.0/`` and ``/scim/`` these refusals are Graph's and
  SCIM's JSON errors, never a page; their JSON bodies have lower limits of their own
  (``portal.json_body``). The token and discovery endpoints are left to themselves: they
  answer in Entra's shape and read their fields within their own limit.
* **Oversized numbers.** ``page`` must be a number of at most six digits; anything else is
  page 1, as Django's paginator does for a malformed page.
* **Caching.** Pages of a signed-in account are ``Cache-Control: no-store`` (a shared or
  back-button cache never shows a tenant's data to the next person at the keyboard), so are
  all answers of the API (which never looks at the browser's session), and every
  response ``Vary: HX-Request``: an htmx fragment and the full page share their URL.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.translation import gettext as _

from portal.graph import is_api
from portal.responses import bad_request

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MAX_PAGE_DIGITS = 6


def has_control_characters(value: str) -> bool:
    return bool(CONTROL.search(value))


def _bad_fields(request: HttpRequest, *, forms: bool = True) -> list[str]:
    bad = []
    sources = [request.GET]
    if (
        forms
        and request.method == "POST"
        and request.content_type
        in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        )
    ):
        sources.append(request.POST)
    for source in sources:
        for key, values in source.lists():
            if has_control_characters(key) or any(has_control_characters(v) for v in values):
                bad.append(CONTROL.sub("?", key)[:40])
    return bad


# The token and discovery endpoints answer in Entra's shape and read their own fields
# within their own limits (portal.graph.auth); this middleware leaves them be.
ENTRA = re.compile(
    r"^/[^/]+/(oauth2/v2\.0/token|v2\.0/\.well-known/openid-configuration|discovery/v2\.0/keys)/?$"
)


def protocol(request: HttpRequest) -> str:
    """Whose answers a refusal takes the shape of: ``graph``, ``scim``, ``entra`` or
    ``portal`` (an HTML page)."""
    if is_api(request):
        return "graph"
    if request.path.startswith("/scim/"):
        return "scim"
    if ENTRA.match(request.path):
        return "entra"
    return "portal"


def _refuse(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """A refusal in the protocol's own envelope, never an HTML page for a script; the
    protocols answer in English."""
    kind = protocol(request)
    if kind == "scim":
        from portal.scim.protocol import ScimError, error_response

        return error_response(ScimError(status, message, "invalidValue" if status == 400 else None))
    if kind == "graph":
        from portal.graph import errors

        code = errors.TOO_LARGE if status == 413 else errors.BAD_REQUEST
        return errors.response(request, errors.GraphError(status, code, message))
    response = bad_request(request, message)
    response.status_code = status
    return response


class RequestHygieneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        kind = protocol(request)
        if kind == "entra":
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            if kind == "portal":
                message = _("The request is too large (more than 6 MB). Nothing was changed.")
            else:
                message = "The request body is larger than 6 MB. Nothing was changed."
            return _refuse(request, 413, message)
        # Graph and SCIM read JSON bodies only, within their own limits (portal.json_body).
        bad = _bad_fields(request, forms=kind == "portal")
        if bad:
            fields = ", ".join(sorted(set(bad)))
            if kind == "portal":
                message = _(
                    "The request was refused: %(fields)s contains a control character (such as "
                    "a NUL byte). Nothing was changed."
                ) % {"fields": fields}
            else:
                message = (
                    f"The request was refused: {fields} contains a control character (such as "
                    "a NUL byte). Nothing was changed."
                )
            return _refuse(request, 400, message)
        page = request.GET.get("page")
        if page is not None and not (page.isdigit() and len(page) <= MAX_PAGE_DIGITS):
            request.GET = request.GET.copy()
            request.GET["page"] = "1"
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        if is_api(request):
            # The API answers bearer tokens, never the browser's session: nothing to look up.
            add_never_cache_headers(response)
            return response
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
