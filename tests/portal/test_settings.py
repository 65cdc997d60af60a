"""Settings from the environment and the start page."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
from django.urls import reverse

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _settings_run(env: dict, code: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "SECRET_KEY",
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "ADMINS",
            "CACHE_URL",
            "SERVER_EMAIL",
        )
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='portal.settings'; django.setup(); {code}",
        ],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_to_start_without_a_secret_key_outside_debug():
    result = _settings_run({"DEBUG": "false"}, "pass")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_runs_with_a_development_key_and_local_hosts():
    result = _settings_run(
        {"DEBUG": "1"}, "from django.conf import settings; print(settings.ALLOWED_HOSTS)"
    )
    assert result.returncode == 0, result.stderr
    assert "127.0.0.1" in result.stdout


# The key of the quick start before F20: public (it is in the history), so anyone could sign
# an API token for any app of a portal started with `make run`.
PUBLIC_FALLBACK_KEY = "insecure-development-key-only-for-debug"


def test_debug_without_a_secret_key_uses_this_checkouts_random_key():
    """F20: under `make run` (DEBUG=1, no SECRET_KEY) the key is random, made once per
    checkout and kept in an ignored file, never a key written in the code."""
    show = "from django.conf import settings; print(settings.SECRET_KEY)"
    first, second = _settings_run({"DEBUG": "1"}, show), _settings_run({"DEBUG": "1"}, show)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert key != PUBLIC_FALLBACK_KEY and len(key) >= 50
    assert second.stdout.strip() == key  # sessions survive a restart of `make run`
    assert (ROOT / ".secret_key").read_text().strip() == key
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".secret_key"], cwd=ROOT, capture_output=True
    )
    assert ignored.returncode == 0, ".secret_key must be in .gitignore"


def test_the_development_key_is_made_once_per_file_and_kept_private(tmp_path):
    from portal.settings import development_secret_key

    key = development_secret_key(tmp_path / "a")
    assert development_secret_key(tmp_path / "a") == key and len(key) >= 50
    assert development_secret_key(tmp_path / "b") != key
    assert (tmp_path / "a").stat().st_mode & 0o077 == 0


@pytest.mark.django_db
def test_an_api_token_forged_with_the_public_fallback_key_is_refused_under_debug(
    client, tenant, settings
):
    """F20, end to end: the key `make run` runs with does not accept a token signed with the
    old public fallback key."""
    import hashlib
    import hmac
    import time

    import jwt

    from licensing import services

    result = _settings_run(
        {"DEBUG": "1"}, "from django.conf import settings; print(settings.SECRET_KEY)"
    )
    assert result.returncode == 0, result.stderr
    settings.SECRET_KEY = result.stdout.strip()
    app, _ = services.app_register(tenant=tenant, name="Script", read_only=True, actor=None)
    now = int(time.time())
    forged = jwt.encode(
        {
            "aud": "https://graph.microsoft.com",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "tid": str(tenant.public_id),
            "appid": str(app.client_id),
        },
        hmac.new(PUBLIC_FALLBACK_KEY.encode(), b"graph-access-token", hashlib.sha256).digest(),
        algorithm="HS256",
    )
    reply = client.get("/v1.0/users", HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert reply.status_code == 401


def test_admins_come_from_the_environment():
    """F10: who gets the e-mail of a 500 outside debug."""
    result = _settings_run(
        {
            "SECRET_KEY": "x" * 50,
            "ADMINS": "Portal Ops <ops@example.com>, dev@example.com",
            "SERVER_EMAIL": "portal@example.com",
        },
        "from django.conf import settings; print(settings.ADMINS, settings.SERVER_EMAIL)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "[('Portal Ops', 'ops@example.com'), ('', 'dev@example.com')] portal@example.com"
    )
    bad = _settings_run({"SECRET_KEY": "x" * 50, "ADMINS": "Ops <not an address>"}, "pass")
    assert bad.returncode != 0 and "ADMINS" in bad.stderr


def test_cache_url_selects_a_shared_cache():
    """F12: the API's rate limit counts in Django's cache; CACHE_URL shares it between the
    workers (and hosts)."""
    show = "from django.conf import settings; c=settings.CACHES['default']; print(c['BACKEND'], c.get('LOCATION', ''))"
    default = _settings_run({"SECRET_KEY": "x" * 50}, show)
    assert default.stdout.split()[0] == "django.core.cache.backends.locmem.LocMemCache"
    shared = _settings_run({"SECRET_KEY": "x" * 50, "CACHE_URL": "redis://cache:6379/0"}, show)
    assert shared.stdout.split() == [
        "django.core.cache.backends.redis.RedisCache",
        "redis://cache:6379/0",
    ]
    bad = _settings_run({"SECRET_KEY": "x" * 50, "CACHE_URL": "memcached://cache"}, "pass")
    assert bad.returncode != 0 and "CACHE_URL" in bad.stderr


def test_database_url_selects_postgresql():
    result = _settings_run(
        {"SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://u:p@db.example:5432/portal"},
        "from django.conf import settings; d=settings.DATABASES['default']; print(d['ENGINE'], d['HOST'], d['CONN_HEALTH_CHECKS'])",
    )
    assert result.stdout.split() == ["django.db.backends.postgresql", "db.example", "True"]


@pytest.mark.django_db
def test_start_page_sends_each_kind_of_account_to_its_place(client, as_role):
    from tests.factories import AccountFactory

    assert client.get(reverse("home"))["Location"] == reverse("login")
    client.force_login(AccountFactory(is_staff=True))
    assert client.get(reverse("home"))["Location"] == reverse("admin:index")
    as_role("GlobalReader")
    assert client.get(reverse("home"))["Location"] == reverse("portal:overview")
