"""Settings, read from the environment (see README, "Configuration")."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from email.utils import getaddresses
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def development_secret_key(path: Path) -> str:
    """The quick start's key: random, made once per checkout in ``path`` (ignored by git,
    readable by its owner only) and read from there afterwards, so that sessions survive a
    restart and no key written in the code ever signs anything."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    # Written aside and linked into place: two processes starting at once agree on one key.
    spare = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(50) + "\n")
    try:
        os.link(spare, path)
    except FileExistsError:
        pass
    finally:
        spare.unlink()
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", default=False)
# The quick start: no DATABASE_URL, so the SQLite file in the checkout (DATABASES below).
QUICK_START_DATABASE = "DATABASE_URL" not in os.environ
DEVELOPMENT_KEY_FILE = BASE_DIR / ".secret_key"

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = development_secret_key(DEVELOPMENT_KEY_FILE)
    elif QUICK_START_DATABASE and DEVELOPMENT_KEY_FILE.is_file():
        # `.venv/bin/python manage.py ...` in the checkout after `make run` (README): the key
        # the quick start made, for the quick start's own SQLite database. It is only read
        # here, never made: a deployment names its database, and without DEBUG a checkout
        # that never ran the quick start has no key, so both still need SECRET_KEY.
        SECRET_KEY = DEVELOPMENT_KEY_FILE.read_text().strip()
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is false (only the quick start, with DEBUG=1 or "
            "on its own SQLite database after `make run`, uses the key kept in .secret_key)."
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_countries",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "csp",
    "axes",
    "mozilla_django_oidc",
    "licensing",
    "portal",
]

MIDDLEWARE = [
    # First: every response, and every log record of the request, names its id.
    "portal.requestid.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The account's own choice of language; the API and SCIM always answer in English.
    "portal.language.AccountLanguageMiddleware",
    # Refuses control characters in any parameter; no-store and Vary: HX-Request.
    "portal.middleware.RequestHygieneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
            # {% url %} with each route reversed once per process (the module says how).
            "builtins": ["portal.templatetags.cached_url"],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"

# SQLite is the zero-setup default of the quick start only; tests and production use
# PostgreSQL through DATABASE_URL.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Short OLTP statements: PostgreSQL's JIT compiler spends more compiling (hundreds of
    # milliseconds on a group-processing batch) than it could ever save here.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A task worker beside the web server (README, "Group processing in the background"):
    # readers never wait for the writer (WAL, kept in the file), a transaction takes the write
    # lock when it begins rather than failing to upgrade to it, and waits up to 20 seconds for it
    # rather than failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# English and Dutch (Microsoft's own Dutch terms, locale/nl). The browser's language decides
# (LocaleMiddleware), unless the account chose one in the top bar (portal.language).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
# Numbers read with their thousands separators in both languages (1,234 / 1.234); a number
# in an attribute or a URL is written with |unlocalize (or built in Python, unlocalized).
USE_THOUSAND_SEPARATOR = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves static files from the app server: compressed, with hashed names in
# production (run `collectstatic`); plain files while debugging and in tests.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or env_bool("PLAIN_STATIC_FILES")
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# While debugging, WhiteNoise serves the source files directly (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# -- Security (README, "Configuration") ---------------------------------------------------
# Outside debug everything defaults to HTTPS only; each can be turned off from the
# environment where a proxy terminates TLS differently.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
BEHIND_PROXY = env_bool("BEHIND_PROXY")
# How many proxies in front append to X-Forwarded-For: the client's address is that many
# entries from the right (portal.signin.client_ip).
TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "1"))
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Bodies larger than this are refused before they are read (portal.middleware); the biggest
# legitimate one is a 5 MB directory export.
MAX_REQUEST_BYTES = 6 * 1024 * 1024
# The Graph-compatible API (docs/api.md): requests per app per window, counted in Django's
# cache: each process's own memory, so under `make serve` (3 workers) an app gets up to three
# times the limit, unless CACHE_URL names a cache the workers share (README, "Deploying").
CACHE_URL = os.environ.get("CACHE_URL", "")
if not CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
elif CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    raise ImproperlyConfigured("CACHE_URL must be a redis:// or rediss:// URL (or unset).")
GRAPH_RATE_LIMIT = int(os.environ.get("GRAPH_RATE_LIMIT", "1200"))
GRAPH_RATE_WINDOW = int(os.environ.get("GRAPH_RATE_WINDOW", "60"))
# Failed client-secret attempts at the token endpoint, per client id and address, before it
# answers 429 for the rest of the window (docs/api.md, Throttling).
TOKEN_FAILURE_LIMIT = int(os.environ.get("TOKEN_FAILURE_LIMIT", "10"))
TOKEN_FAILURE_WINDOW = int(os.environ.get("TOKEN_FAILURE_WINDOW", "900"))
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie: the token travels in hx-headers

# Content-Security-Policy (django-csp): our own scripts and styles only, no inline code, no
# eval. htmx is configured for it in templates/portal/base.html (no indicator styles).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Sign-in throttling (django-axes; portal.signin): after 5 failed attempts for a user name
# from an address, that pair is locked out for 15 minutes; after 20 failures from one address
# over any user names, the address is. Both show the lockout page.
AUTHENTICATION_BACKENDS = [
    "portal.signin.AddressThrottleBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "portal.signin.client_ip"
SIGNIN_ADDRESS_LIMIT = int(os.environ.get("SIGNIN_ADDRESS_LIMIT", "20"))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HANDLER = "portal.signin.PasswordAttemptsHandler"

# Background tasks (django-tasks). The quick start and the tests run tasks at once; production
# sets TASKS_BACKEND=database and runs `manage.py run_worker` (several may run on several
# hosts; it waits out database restarts, docs/operations.md).
TASKS_BACKEND = os.environ.get("TASKS_BACKEND", "immediate")
if TASKS_BACKEND not in ("immediate", "database"):
    raise ImproperlyConfigured("TASKS_BACKEND must be 'immediate' or 'database'.")
TASKS = {
    "default": {
        "BACKEND": {
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
            "database": "django_tasks_db.DatabaseBackend",
        }[TASKS_BACKEND]
    }
}
# A group run that has not moved for this long is run again (its worker died), looked for
# this often by a worker (docs/operations.md).
GROUP_PROCESSING_STALL_SECONDS = int(os.environ.get("GROUP_PROCESSING_STALL_SECONDS", "600"))
GROUP_PROCESSING_WATCH_SECONDS = int(os.environ.get("GROUP_PROCESSING_WATCH_SECONDS", "300"))

# -- Logging and errors (README, "Deploying") ----------------------------------------------
# Everything at LOG_LEVEL and above goes to stderr (the process manager keeps it), each record
# with the id of the request it belongs to (portal.requestid; "-" outside a request). Outside
# debug a 500 is also e-mailed to ADMINS ("Name <address>, ..."), from SERVER_EMAIL through
# EMAIL_HOST.
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "portal.requestid.RequestIdFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"
        }
    },
    "handlers": {
        "stderr": {
            "class": "portal.requestid.StderrHandler",
            "filters": ["request_id"],
            "formatter": "plain",
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own records (a 500 is django.request's ERROR) reach stderr through the root.
        "django": {"handlers": ["mail_admins"], "level": LOG_LEVEL, "propagate": True},
        # django-axes greets every process at INFO; its lockouts are warnings.
        "axes": {"level": "WARNING"},
    },
}


def env_addresses(name: str) -> list[tuple[str, str]]:
    value = os.environ.get(name, "")
    pairs = getaddresses([value]) if value.strip() else []
    if any("@" not in address for _name, address in pairs):
        raise ImproperlyConfigured(f'{name} must be "Name <address>, ..." (got {value!r}).')
    return pairs


ADMINS = env_addresses("ADMINS")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", "root@localhost")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Sign-in with the organization's account (OpenID Connect, authorization code with PKCE;
# mozilla-django-oidc's setting names; README, "Configuration"). Configured when
# OIDC_RP_CLIENT_ID is set. An account is bound to the identity (issuer, subject, Entra's
# tenant id) of its first sign-in, matched by e-mail; accounts are never created
# (portal.oidc, docs/security.md).
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_PKCE = True
OIDC_CREATE_USER = False
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = int(
    os.environ.get("OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS", "900")
)
# Who may be matched at all: the ID token's `iss` exactly, and Entra's `tid` (any case).
# Empty: anyone the provider signs in. Production should set both (docs/security.md).
OIDC_ALLOWED_ISSUERS = env_list("OIDC_ALLOWED_ISSUERS")
OIDC_ALLOWED_TENANT_IDS = [tid.lower() for tid in env_list("OIDC_ALLOWED_TENANT_IDS")]
LOGIN_REDIRECT_URL_FAILURE = "/accounts/refused/"
if OIDC_RP_CLIENT_ID:
    AUTHENTICATION_BACKENDS.append("portal.oidc.PortalOIDCBackend")
    # Every 15 minutes a request goes back to the provider (silently), so that an account
    # disabled there stops here too.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("portal.middleware.RequestHygieneMiddleware"),
        "portal.oidc.SessionRefresh",
    )
# PASSWORD_SIGN_IN=0: only the organization's account signs in (the portal and the Django
# admin); a posted password is refused.
PASSWORD_SIGN_IN = env_bool("PASSWORD_SIGN_IN", default=True)
