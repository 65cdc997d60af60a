"""Binding portal accounts to their organization identity (licensing/services/accounts.py,
docs/security.md): one identity per account, one account per identity, each change audited."""

from __future__ import annotations

import pytest

from licensing.models import AccountIdentity, AuditEvent
from licensing.services.accounts import identity_bind, identity_unbind
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

X = {"issuer": "https://idp.example", "subject": "x", "tenant_id": ""}
Y = {"issuer": "https://idp.example", "subject": "y", "tenant_id": ""}


def test_an_account_is_bound_once_to_the_identity_of_its_first_sign_in():
    account = AccountFactory()
    assert identity_bind(account=account, **X) is True
    assert identity_bind(account=account, **X) is True  # the same identity again
    assert identity_bind(account=account, **Y) is False  # another one
    assert AccountIdentity.objects.get(account=account).subject == "x"
    assert AuditEvent.objects.filter(activity="Bind sign-in identity").count() == 1


def test_an_identity_is_bound_to_one_account():
    first, second = AccountFactory(), AccountFactory()
    assert identity_bind(account=first, **X) is True
    assert identity_bind(account=second, **X) is False
    assert not AccountIdentity.objects.filter(account=second).exists()


def test_unbinding_is_audited_and_frees_the_account_for_another_identity():
    account, staff = AccountFactory(), AccountFactory(is_staff=True)
    identity_bind(account=account, **X)
    assert identity_unbind(account=account, actor=staff) is True
    assert identity_unbind(account=account, actor=staff) is False  # nothing left to unbind
    event = AuditEvent.objects.get(activity="Unbind sign-in identity")
    assert event.actor_id == staff.id and event.details == X
    assert identity_bind(account=account, **Y) is True
