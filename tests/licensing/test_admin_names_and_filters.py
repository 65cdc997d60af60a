"""The Django admin's model names: plurals that read right, in English and Dutch."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    account = AccountFactory(username="support@operator.example", is_staff=True, is_superuser=True)
    client.force_login(account)
    return account


@pytest.mark.parametrize(
    ("language", "present", "absent"),
    [
        ("en", ["Account preferences", "SCIM tokens", "Sign-in identities"], ["preferencess"]),
        ("nl", ["Accountvoorkeuren", "SCIM-tokens", "Aanmeldingsidentiteiten"], ["preferencess"]),
    ],
)
def test_the_admin_index_names_each_model_in_a_plural_that_reads_right(
    client, staff, language, present, absent
):
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for text in present:
        assert f">{text}</a>" in page
    for text in absent:
        assert text not in page
    assert "Scim tokens" not in page
