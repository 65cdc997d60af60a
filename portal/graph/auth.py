"""Apps and their tokens (docs/api.md, "Sign-in for scripts").

The token endpoint answers like Entra's ``/{tenant}/oauth2/v2.0/token`` for the
client-credentials grant, so ``azure-identity`` and MSAL obtain tokens from the portal
unchanged. A token is a JWT signed with a key derived from ``SECRET_KEY`` (HS256: only the
portal checks it), for one tenant and one app, for an hour; every request re-reads the app,
so a revoked app's tokens stop working at once.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import uuid

import jwt
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, JsonResponse, QueryDict
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from licensing.models import AppRegistration, Tenant
from licensing.selectors import tenants
from licensing.selectors.credentials import live_app, live_app_exists
from licensing.services import app_authenticate
from licensing.services.apps import app_sign_in_failed, mark_used
from portal.graph.errors import FORBIDDEN, UNAUTHORIZED, GraphError
from portal.json_body import NOT_TEXT, declared_length
from portal.signin import client_ip

GRAPH = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Graph's own id in Entra
SCOPES = {f"{GRAPH}/.default", f"{GRAPH_APP_ID}/.default"}
LIFETIME = datetime.timedelta(hours=1)


def clock() -> datetime.datetime:
    """Now, for tokens (tests move it)."""
    return timezone.now()


def _key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"graph-access-token", hashlib.sha256).digest()


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def find_tenant(key: str) -> Tenant | None:
    """A tenant by its id (GUID) or initial domain, as Entra's URLs name it. A name with a
    control character names none (a NUL reached the query: a 500)."""
    if NOT_TEXT.search(key) or len(key) > 253:
        return None
    return tenants.tenant(key=key)


def issue(request: HttpRequest, app: AppRegistration) -> tuple[str, int]:
    now = clock()
    tid = str(app.tenant.public_id)
    claims = {
        "aud": GRAPH,
        "iss": f"{_base(request)}/{tid}/v2.0",
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + LIFETIME).timestamp()),
        "tid": tid,
        "appid": str(app.client_id),
        "azp": str(app.client_id),
        "app_displayname": app.name,
        "roles": [app.permission],
        "ver": "2.0",
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, _key(), algorithm="HS256"), int(LIFETIME.total_seconds()) - 1


def _entra_error(status: int, error: str, description: str) -> JsonResponse:
    now = clock()
    return JsonResponse(
        {
            "error": error,
            "error_description": f"{description}\r\nTrace ID: {uuid.uuid4()}\r\n"
            f"Timestamp: {now:%Y-%m-%d %H:%M:%SZ}",
            "error_codes": [int(description[6:].split(":")[0])],
            "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
            "trace_id": str(uuid.uuid4()),
        },
        status=status,
    )


def _printable(value: str) -> str:
    return NOT_TEXT.sub("?", value)[:100]


# A client-credentials request is a few hundred bytes (docs/api.md, "Limits").
MAX_TOKEN_REQUEST_BYTES = 64 * 1024


def _form(request: HttpRequest) -> QueryDict | None:
    """The token request's form, or None when it is over the limit or malformed."""
    if declared_length(request) > MAX_TOKEN_REQUEST_BYTES:
        return None
    try:
        return request.POST
    except (RequestDataTooBig, TooManyFieldsSent):
        return None


# Failed token requests (a wrong secret, an unknown client id) per client id and source
# address within a window, in Django's cache; past the limit that pair is refused with a 429
# until the window ends, the right secret too (docs/api.md, "Throttling").
TOKEN_FAILURE_LIMIT = getattr(settings, "TOKEN_FAILURE_LIMIT", 10)
TOKEN_FAILURE_WINDOW = getattr(settings, "TOKEN_FAILURE_WINDOW", 15 * 60)


def _failures_key(client_id: str, address: str) -> str:
    pair = f"{client_id.strip().lower()[:100]}|{address}".encode()
    return f"token-failures:{hashlib.sha256(pair).hexdigest()}"


def _failed(tenant: Tenant, client_id: str, address: str, key: str, reason: str) -> None:
    """Count the failure toward the pair's lockout and audit it, as a failed sign-in."""
    if cache.add(key, 1, timeout=TOKEN_FAILURE_WINDOW):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=TOKEN_FAILURE_WINDOW)
            count = 1
    if count == TOKEN_FAILURE_LIMIT:
        cache.set(f"{key}:until", clock().timestamp() + TOKEN_FAILURE_WINDOW, TOKEN_FAILURE_WINDOW)
    app_sign_in_failed(
        tenant=tenant,
        client_id=_printable(client_id),
        address=address,
        reason=reason if count < TOKEN_FAILURE_LIMIT else f"{reason}; locked out",
    )


def _locked_out(key: str) -> JsonResponse:
    until = cache.get(f"{key}:until") or clock().timestamp() + TOKEN_FAILURE_WINDOW
    retry = max(1, int(until - clock().timestamp()))
    reply = _entra_error(
        429,
        "temporarily_unavailable",
        f"AADSTS50053: Too many failed attempts with this client id from this address. Try "
        f"again in {retry} seconds.",
    )
    reply["Retry-After"] = str(retry)
    return reply


def _only(method: str):
    """The one method an Entra endpoint takes; another is Entra's JSON refusal
    (AADSTS900561), not Django's empty HTML 405."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method != method:
                reply = _entra_error(
                    405,
                    "invalid_request",
                    f"AADSTS900561: The endpoint only accepts {method} requests. Received a "
                    f"{_printable(request.method or '')} request.",
                )
                reply["Allow"] = method
                return reply
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


@csrf_exempt
@never_cache
@_only("POST")
def token(request: HttpRequest, tenant: str) -> JsonResponse:
    form = _form(request)
    found = None if form is None else find_tenant(tenant)
    refused = _request_refused(form, found, tenant)
    if refused is not None:
        return refused
    app = _client(request, form, found, tenant)
    if isinstance(app, JsonResponse):
        return app
    access_token, expires_in = issue(request, app)
    return JsonResponse(
        {
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": access_token,
        }
    )


def _request_refused(form, found, tenant: str) -> JsonResponse | None:
    """Entra's answer to a token request it cannot take (too long, unknown directory, another
    grant or scope), before any client is looked at; None for a request it takes."""
    if form is None:
        return _entra_error(
            413,
            "invalid_request",
            f"AADSTS90015: The request is too long: a token request has at most "
            f"{MAX_TOKEN_REQUEST_BYTES // 1024} KB.",
        )
    if found is None:
        return _entra_error(
            400,
            "invalid_request",
            f"AADSTS90002: Tenant '{_printable(tenant)}' not found. Check to make sure you have "
            "the correct tenant ID and are signing into the correct cloud.",
        )
    if form.get("grant_type") != "client_credentials":
        return _entra_error(
            400,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type. This endpoint "
            "supports client_credentials only.",
        )
    if form.get("scope", "").strip() not in SCOPES:
        return _entra_error(
            400,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid. Client credential "
            f"flows must have a scope value with /.default suffixed to the resource "
            f"identifier ({GRAPH}/.default).",
        )
    return None


def _client(request: HttpRequest, form, found, tenant: str):
    """The app the request's client id and secret sign in as, or Entra's refusal (each
    failure counted against the client id and address, which locks them out at the limit)."""
    raw_id = form.get("client_id", "")
    address = client_ip(request)
    throttle = _failures_key(raw_id, address)
    if (cache.get(throttle) or 0) >= TOKEN_FAILURE_LIMIT:
        return _locked_out(throttle)
    try:
        client_id = uuid.UUID(raw_id)
    except ValueError:
        client_id = None
    if client_id is None or not live_app_exists(tenant=found, client_id=client_id):
        _failed(found, raw_id, address, throttle, "unknown client id")
        # Entra's words, with the directory as the caller named it, not the tenant's name.
        return _entra_error(
            400,
            "unauthorized_client",
            f"AADSTS700016: Application with identifier '{_printable(raw_id)}' was not found "
            f"in the directory '{_printable(tenant)}'.",
        )
    app = app_authenticate(found, client_id, form.get("client_secret", ""))
    if app is None:
        _failed(found, raw_id, address, throttle, "invalid client secret")
        return _entra_error(
            401,
            "invalid_client",
            f"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
            f"the request is the client secret value, not the client secret ID, for a secret "
            f"added to app '{client_id}'.",
        )
    return app


@_only("GET")
def openid_configuration(request: HttpRequest, tenant: str) -> JsonResponse:
    found = find_tenant(tenant)
    if found is None:
        return _entra_error(
            400, "invalid_tenant", f"AADSTS90002: Tenant '{_printable(tenant)}' not found."
        )
    root = f"{_base(request)}/{found.public_id}"
    return JsonResponse(
        {
            "issuer": f"{root}/v2.0",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": ["token"],
            "scopes_supported": [f"{GRAPH}/.default"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["HS256"],
            "tenant_region_scope": None,
            "cloud_instance_name": request.get_host(),
        }
    )


@_only("GET")
def keys(request: HttpRequest, tenant: str) -> JsonResponse:
    """No public keys: the portal's tokens are checked by the portal alone."""
    return JsonResponse({"keys": []})


def authenticate(request: HttpRequest, *, write: bool, counted: bool = True) -> AppRegistration:
    """The app behind the request's bearer token, allowed to make this call; else a
    GraphError (401 or 403). ``counted=False``: not counted against the app's rate (a batch,
    whose requests are counted one by one)."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise GraphError(401, UNAUTHORIZED, "Access token is empty.")
    try:
        claims = jwt.decode(
            raw.strip(),
            _key(),
            algorithms=["HS256"],
            audience=[GRAPH, GRAPH_APP_ID],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
        app_id, tenant_id = uuid.UUID(claims["appid"]), uuid.UUID(claims["tid"])
        expires, not_before = int(claims["exp"]), int(claims["nbf"])
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
        raise GraphError(401, UNAUTHORIZED, "Invalid access token.") from None
    now = clock()
    if now.timestamp() >= expires:
        raise GraphError(401, UNAUTHORIZED, "Lifetime validation failed, the token is expired.")
    if now.timestamp() < not_before - 300:
        raise GraphError(
            401, UNAUTHORIZED, "Lifetime validation failed, the token is not yet valid."
        )
    app = live_app(tenant_public_id=tenant_id, client_id=app_id)
    if app is None:
        raise GraphError(401, UNAUTHORIZED, "The application of this token has been revoked.")
    if write and not app.can_write:
        raise GraphError(403, FORBIDDEN, "Insufficient privileges to complete the operation.")
    if counted:
        _throttle(app)
    mark_used(app, now)
    return app


def _throttle(app: AppRegistration) -> None:
    """At most ``GRAPH_RATE_LIMIT`` requests per app per ``GRAPH_RATE_WINDOW`` seconds (a
    fixed window in Django's cache); beyond that a 429 with ``Retry-After``."""
    window = settings.GRAPH_RATE_WINDOW
    now = clock().timestamp()
    slot = int(now // window)
    key = f"graph-rate:{app.id}:{slot}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        count = 1
    if count > settings.GRAPH_RATE_LIMIT:
        retry = max(1, int((slot + 1) * window - now))
        raise GraphError(
            429,
            "TooManyRequests",
            "Too many requests. Retry after the number of seconds in Retry-After.",
            headers={"Retry-After": str(retry)},
        )
