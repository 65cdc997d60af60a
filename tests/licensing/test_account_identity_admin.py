"""The Django admin's account list and the identity each account is bound to (README,
"Signing in with the organization's account"): shown, and unbound by an audited action."""

from __future__ import annotations

import pytest
from django.urls import reverse

from licensing.models import AccountIdentity, AuditEvent
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

ISSUER = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
def bound():
    account = AccountFactory(username="admin@contoso.onmicrosoft.com")
    AccountIdentity.objects.create(
        account=account,
        issuer=ISSUER,
        subject="AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        tenant_id=TID,
    )
    return account


def test_the_account_list_shows_the_bound_identity(
    client, staff, bound, django_assert_max_num_queries
):
    AccountFactory.create_batch(5)
    url = reverse("admin:auth_user_changelist")
    # The identity is joined to the accounts' query: no query per row.
    with django_assert_max_num_queries(8):
        page = client.get(url).content.decode()
    assert "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ" in page and TID in page
    # Support finds an account by its identity too.
    found = client.get(url, {"q": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"}).content.decode()
    assert "admin@contoso.onmicrosoft.com" in found
    assert "support@operator.example" not in found.split("result_list")[-1]


def test_the_unbind_action_removes_the_binding_and_is_audited(client, staff, bound):
    unbound = AccountFactory()
    response = client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "unbind_identity", "_selected_action": [bound.id, unbound.id]},
        follow=True,
    )
    assert response.status_code == 200
    assert not AccountIdentity.objects.exists()
    event = AuditEvent.objects.get(activity="Unbind sign-in identity")
    assert event.actor_id == staff.id and event.target_name == "admin@contoso.onmicrosoft.com"
    assert event.details == {
        "issuer": ISSUER,
        "subject": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "tenant_id": TID,
    }
    assert "1 account unbound" in response.content.decode()


def test_the_bindings_are_read_only_in_the_admin(client, staff, bound):
    identity = AccountIdentity.objects.get()
    change = reverse("admin:licensing_accountidentity_change", args=[identity.pk])
    assert client.post(change, {"subject": "someone-else"}).status_code == 403
    assert AccountIdentity.objects.get().subject != "someone-else"
