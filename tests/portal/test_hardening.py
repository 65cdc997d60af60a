"""Production settings and hardening: deploy check, CSP, clickjacking, sign-in throttling,
session expiry, and error pages in the portal's look that leak nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from tests.factories import AccountFactory, RoleAssignmentFactory

pytestmark = pytest.mark.django_db
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_deploy_check_passes_with_production_settings():
    # A production environment: nothing the test run itself set (the browser tests allow
    # async-unsafe ORM calls in their own process).
    skip = ("DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "false",
            "SECRET_KEY": "k9#Qv2!xL7@pR4$wZ8^nB1&mT6*cY3(hJ5)dF0_gS-eA+uW=iO",
            "ALLOWED_HOSTS": "portal.example.com",
            "DATABASE_URL": "postgres://portal:secret@db.example.com:5432/portal",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_every_page_sends_a_strict_content_security_policy(client, as_role):
    as_role()
    response = client.get(reverse("portal:products"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in response.content.decode()  # no inline script anywhere
    assert 'style="' not in response.content.decode()


def test_repeated_failed_sign_ins_lock_the_account_out_with_a_clear_page(client, tenant):
    account = AccountFactory(username="megan@contoso.com")
    RoleAssignmentFactory(account=account, tenant=tenant)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "megan@contoso.com", "password": "wrong"})
    locked = client.post(
        reverse("login"),
        {"username": "megan@contoso.com", "password": "correct horse battery staple"},
    )
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    other = client.post(reverse("login"), {"username": "someone@contoso.com", "password": "wrong"})
    assert other.status_code == 200  # only that user name from that address is locked


def test_sessions_expire():
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_not_found_page_is_in_the_portal_look_and_leaks_nothing(client):
    response = client.get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert (
        "This page doesn" in page
        and "belongs to another organization" in page
        and "portal.css" in page
    )
    assert "Traceback" not in page and "urlpatterns" not in page.lower()


def test_forbidden_page_is_in_the_portal_look(client, as_role):
    as_role("GlobalReader")
    response = client.post(reverse("portal:assign"), {"action": "assign"})
    assert response.status_code == 403
    assert "have access to this" in response.content.decode()


def test_server_error_page_says_nothing_changed_and_shows_no_internals():
    page = render_to_string("500.html")
    assert "Something went wrong" in page and "Nothing was changed" in page
    assert "Traceback" not in page and "{%" not in page
