"""Settings from the environment and the start page."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.urls import reverse


def _settings_run(env: dict, code: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")
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
