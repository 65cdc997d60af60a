"""Notes and messages that name users name a few and count the rest ("and N more"), in both
languages: a group of thousands makes a sentence, not a wall of names, and the count is
exact."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from licensing import services
from licensing.errors import AssignmentRefused, NotFound, names_and_more
from tests.factories import DirectoryUserFactory, GroupFactory, product

pytestmark = pytest.mark.django_db


def test_names_and_more_in_english_and_dutch():
    five = ["Ann", "Bob", "Cas", "Dee", "Eve"]
    assert names_and_more(five) == "Ann, Bob, Cas and 2 more"
    assert names_and_more(five[:4]) == "Ann, Bob, Cas and 1 more"
    assert names_and_more(five[:3]) == "Ann, Bob, Cas"
    assert names_and_more(five[:3], 1000) == "Ann, Bob, Cas and 997 more"
    with translation.override("nl"):
        assert names_and_more(five) == "Ann, Bob, Cas en nog 2 anderen"
        assert names_and_more(five[:4]) == "Ann, Bob, Cas en nog 1 andere"


def test_the_assign_note_names_three_users_taking_the_org_location_and_counts_the_rest(
    client, as_role, tenant, buy, actor
):
    buy("ENTERPRISEPACK", 500)
    group = GroupFactory(tenant=tenant)
    nowhere = [
        DirectoryUserFactory(tenant=tenant, display_name=f"Nowhere {i:03}") for i in range(120)
    ]
    somewhere = DirectoryUserFactory.create_batch(30, tenant=tenant, usage_location="BE")
    services.group_add_members(tenant=tenant, group=group, users=nowhere + somewhere, actor=actor)
    as_role()
    url = reverse("portal:assign") + (
        f"?product={product('ENTERPRISEPACK').sku_id}&group={group.public_id}"
    )
    note = client.get(url).content.decode().split("take the organization")[1]
    assert "Nowhere 000, Nowhere 001, Nowhere 002 and 117 more" in note
    assert "Nowhere 003" not in note
    client.post(reverse("set_language"), {"language": "nl", "next": "/"})
    note = client.get(url).content.decode()
    assert "Nowhere 000, Nowhere 001, Nowhere 002 en nog 117 anderen" in note


def test_service_messages_name_a_few_users_and_count_the_rest(tenant, actor, buy):
    buy("ENTERPRISEPACK", 50)
    people = DirectoryUserFactory.create_batch(10, tenant=tenant)
    for person in people:
        services.user_soft_delete(tenant=tenant, user=person, actor=actor)
    with pytest.raises(AssignmentRefused, match=r"and 7 more$"):
        services.product_assign_to_users(
            tenant=tenant, product=product("ENTERPRISEPACK"), users=people, actor=actor
        )
    group = GroupFactory(tenant=tenant)
    with pytest.raises(AssignmentRefused, match=r"and 7 more$"):
        services.group_add_members(tenant=tenant, group=group, users=people, actor=actor)
    strangers = DirectoryUserFactory.create_batch(5, tenant=tenant)
    with pytest.raises(NotFound, match=r"and 2 more$"):
        services.group_remove_members(tenant=tenant, group=group, users=strangers, actor=actor)
