"""Every page of the portal answers in the same number of queries for a licensed group of 60
members as for one of 60,000 (with 24 and 24,000 of them in CountViolation): the big
customer's tenant of ``make bench``, built twice alike, once small.

The pages are every GET route of the portal's URLconf, enumerated as the bench does it, so
a new page is counted here as soon as it is timed there. A count the page would take by
scanning the group (its members, its members in Error) shows as a difference; the engine's
counters are what make a fixed count possible (docs/rules.md §1).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licensing.models import Product
from scripts.bench import FILES, big_customer, route_urls, signed_in
from tests.factories import AccountFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def query_counts(world: dict) -> dict[str, int]:
    client = signed_in(world)
    counts = {}
    for name, url in route_urls(world):
        if name in FILES:  # a download streams its rows: queries by the thousand rows
            continue
        client.get(url)  # the first visit fills what a session caches
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        if response.status_code == 405:  # POST only: not a page
            continue
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(ctx.captured_queries)
    return counts


def test_every_page_has_the_same_query_count_for_60_and_60000_members():
    actor = AccountFactory()
    product = Product.objects.get(sku_part_number="ENTERPRISEPACK")
    shape = {"groups": 4, "events": 500}
    small = big_customer(product, actor, name="Small", users=400, members=60, seats=36, **shape)
    big = big_customer(
        product, actor, name="Big", users=60_400, members=60_000, seats=36_000, **shape
    )
    small_counts, big_counts = query_counts(small), query_counts(big)
    assert len(small_counts) >= 15  # the blades, not only the commands
    differing = {
        name: (n, big_counts[name]) for name, n in small_counts.items() if big_counts[name] != n
    }
    assert not differing, f"queries with 60 members, with 60,000: {differing}"
