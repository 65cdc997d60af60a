"""Request hygiene for every URL, so that no view has to remember it.

* **Control characters.** A NUL byte or another C0/C1 control character (tab, line feed and
  carriage return excepted) in a query-string or form field is refused with a 400 and a plain
  message before any view runs: PostgreSQL cannot store or compare NUL in text (it raised a
  500 in every search box), and nothing a person types contains the others.
* **Oversized bodies.** A request body larger than ``MAX_REQUEST_BYTES`` (6 MB: the 5 MB
  directory export and its form) is refused with a 413 before anything reads it.
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


def _bad_fields(request: HttpRequest) -> list[str]:
    bad = []
    sources = [request.GET]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sources.append(request.POST)
    for source in sources:
        for key, values in source.lists():
            if has_control_characters(key) or any(has_control_characters(v) for v in values):
                bad.append(CONTROL.sub("?", key)[:40])
    return bad


class RequestHygieneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            response = bad_request(
                request, _("The request is too large (more than 6 MB). Nothing was changed.")
            )
            response.status_code = 413
            return response
        bad = _bad_fields(request)
        if bad:
            return bad_request(
                request,
                _(
                    "The request was refused: %(fields)s contains a control character (such as "
                    "a NUL byte). Nothing was changed."
                )
                % {"fields": ", ".join(sorted(set(bad)))},
            )
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
