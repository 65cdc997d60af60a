"""The portal's language: English or Dutch.

``LocaleMiddleware`` follows the browser (``Accept-Language``) or the language cookie; an
account that chose a language in the top bar (``set_language``) gets it on every device
(``AccountPreferences``). The Graph-compatible API and SCIM always answer in English, as
Microsoft's do: their messages are for scripts and logs.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from licensing import selectors
from licensing.services.accounts import account_set_language
from portal import graph
from portal.responses import HttpResponseSeeOther

ENGLISH_ONLY = (graph.PREFIX, "/scim/")
SESSION_LANGUAGE = "portal_language"


def _english_only(request: HttpRequest) -> bool:
    return request.path.startswith(ENGLISH_ONLY) or "/oauth2/" in request.path


class AccountLanguageMiddleware:
    """After authentication: the account's chosen language, or English for the API."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = None
        if _english_only(request):
            language = settings.LANGUAGE_CODE
        elif hasattr(request, "session"):
            # Put in the session at sign-in (``remember_at_sign_in``): no query per page.
            language = request.session.get(SESSION_LANGUAGE)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


@receiver(user_logged_in)
def remember_at_sign_in(sender, request, user, **kwargs) -> None:
    """The account's language, read once, for the whole session."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_LANGUAGE] = selectors.accounts.language(account=user)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The top bar's language switch: remembered for the account (and in a cookie, for the
    sign-in page), then back to the page it was chosen on."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    if request.user.is_authenticated:
        account_set_language(account=request.user, language=language)
        request.session[SESSION_LANGUAGE] = language
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseSeeOther(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=request.is_secure(),
        httponly=True,
    )
    return response
