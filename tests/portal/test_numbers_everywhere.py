"""Every page of the portal groups its thousands as the language does (1,200 / 1.200), and
writes numbers bare where a machine reads them (a progress bar's value, a URL): the big
customer's tenant of ``make bench`` built with a group of 1,200, every GET route of the
URLconf in English and in Dutch."""

from __future__ import annotations

import re

import pytest

from licensing.models import Product
from scripts.bench import FILES, big_customer, route_urls, signed_in
from tests.factories import AccountFactory
from tests.portal.test_i18n import visible

pytestmark = pytest.mark.django_db

# A number of four digits or more, not part of a word, a date, a time or an address, and not
# a year; the tenant's user names are numbered from 000001, with leading zeros.
UNGROUPED = re.compile(r"(?<![\w.,:/-])(?!(?:19|20)\d\d\b)[1-9]\d{3,}(?![\w.,:/-])")


@pytest.fixture
def grouped_world():
    actor = AccountFactory()
    product = Product.objects.get(sku_part_number="ENTERPRISEPACK")
    return big_customer(
        product,
        actor,
        name="Grouped",
        users=1_500,
        members=1_200,
        seats=1_100,
        groups=2,
        events=40,
    )


@pytest.mark.parametrize("language, separator", [("en", ","), ("nl", ".")])
def test_every_page_groups_its_thousands(grouped_world, language, separator):
    client = signed_in(grouped_world, HTTP_ACCEPT_LANGUAGE=language)
    seen = {}
    for name, url in route_urls(grouped_world):
        if name in FILES:
            continue
        response = client.get(url)
        if response.status_code == 405:
            continue
        text = visible(response.content.decode())
        assert not UNGROUPED.findall(text), (name, UNGROUPED.findall(text))
        seen[name] = text
    # Not vacuous: the group's 1,200 members and the product's 1,100 seats were on the pages.
    assert f"1{separator}200" in seen["portal:groups"]
    assert f"1{separator}100" in seen["portal:product"]


def test_messages_count_in_words_and_group_their_thousands():
    from django.utils import translation

    from licensing.errors import InsufficientSeats, names_and_more

    e3 = Product.objects.get(sku_part_number="ENTERPRISEPACK")
    with translation.override("en"):
        assert "needs 1,500 and 1 is available." in str(InsufficientSeats(e3, 1_500, 1))
        assert "needs 2 and 0 are available." in str(InsufficientSeats(e3, 2, -3))
        assert names_and_more(["Ann"], 1_235) == "Ann and 1,234 more"
    with translation.override("nl"):
        assert "er 1.500 nodig en er is 1 beschikbaar" in str(InsufficientSeats(e3, 1_500, 1))
        assert names_and_more(["Ann"], 1_235) == "Ann en nog 1.234 anderen"
        assert names_and_more(["Ann"], 2) == "Ann en nog 1 andere"
