"""The two ways a blade answers: a whole page, or (for htmx) the region it swaps
(README, "Conventions")."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from portal.graph import is_api


def template_for(request: HttpRequest, template: str, partial: str) -> str:
    """The page for a normal request; only the partial for htmx. A fragment URL opened
    directly is a normal request, so it renders the full page; so is htmx's own history restore
    (Back to a URL it pushed, when its cache no longer holds the page)."""
    htmx = getattr(request, "htmx", False)
    if htmx and not htmx.boosted and not htmx.history_restore_request:
        return f"{template}#{partial}"
    return template


def found(value):
    """A selector's answer, or 404 when it found nothing (another tenant's object is not
    found either: selectors are bound to the request's tenant)."""
    if value is None:
        raise Http404
    return value


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def command_done(
    request: HttpRequest,
    text: str,
    redirect_to: str,
    *,
    level: str = "success",
    navigate: bool = False,
) -> HttpResponse:
    """After a command: htmx gets an empty answer with events (a notification, and
    ``licensesChanged`` so lists refresh); a plain form POST is redirected (303) to the page,
    with the same text as a message."""
    if getattr(request, "htmx", False) and navigate:
        # A finished flow (Assign) goes on to the page it started from, with the message.
        messages.add_message(
            request, messages.ERROR if level == "error" else messages.SUCCESS, text
        )
        return HttpResponseClientRedirect(redirect_to)
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        trigger_client_event(response, "notify", {"text": text, "level": level})
        trigger_client_event(response, "licensesChanged")
        return trigger_client_event(response, "closeModal")
    messages.add_message(request, messages.ERROR if level == "error" else messages.SUCCESS, text)
    return HttpResponseSeeOther(redirect_to)


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    """A 400 that says what was wrong; the request changed nothing. Under ``/v1.0/`` it is
    Graph's JSON envelope, as every answer of the API."""
    if is_api(request):
        from portal.graph import errors

        return errors.response(request, errors.bad_request(message))
    return HttpResponse(
        render_to_string("400.html", {"message": message}, request=request), status=400
    )


def safe_next(request: HttpRequest, default: str) -> str:
    """The ``next`` the form carried, if it is a path on this site; else ``default``. Never an
    open redirect (``//evil.example/``, ``https://evil.example/``, ``/\\evil.example``)."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return default
