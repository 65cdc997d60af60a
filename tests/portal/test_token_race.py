"""Second security test, F16: admins who issue a provisioning token at the same moment leave
exactly one live token (the tenant's row is locked while the previous one is revoked). Real
threads, each with its own PostgreSQL connection."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from licensing import services
from licensing.models import ScimToken
from tests.factories import TenantFactory

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]
ADMINS = 8


def _issue_at_once(tenant) -> list[str]:
    start = threading.Barrier(ADMINS)
    crashes: list[str] = []

    def issue():
        try:
            start.wait(timeout=30)
            services.scim_token_issue(tenant=tenant, actor=None)
        except Exception as crash:
            crashes.append(repr(crash))
        finally:
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(ADMINS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return crashes


def test_admins_issuing_tokens_at_once_leave_exactly_one_live_token():
    assert connection.vendor == "postgresql"
    for _round in range(3):
        tenant = TenantFactory()
        assert _issue_at_once(tenant) == []
        assert ScimToken.objects.filter(tenant=tenant).count() == ADMINS
        assert ScimToken.objects.filter(tenant=tenant, revoked_at=None).count() == 1
