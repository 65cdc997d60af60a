"""The Django admin's model names (plurals that read right, in English and Dutch) and the
tenants' country filter, a text box matching a country's name or code."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:licensing_tenant_changelist"


@pytest.fixture
def tenants(db):
    for domain, country in [("nl", "NL"), ("us", "US"), ("be", "BE"), ("gb", "GB"), ("fi", "FI")]:
        TenantFactory(name=f"Tenant {domain}", initial_domain=f"{domain}.example", country=country)


def listed(response) -> set[str]:
    assert response.status_code == 200
    return {tenant.initial_domain.split(".")[0] for tenant in response.context["cl"].result_list}


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


def test_the_country_filter_is_a_text_box_not_a_list_of_countries(client, staff, tenants):
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert 'id="country-search-filter"' in page and 'name="country"' in page
    assert "?country__exact=" not in page  # no link per country
    assert "Afghanistan" not in page


def test_the_country_filter_narrows_by_a_fragment_of_the_name_in_any_case(client, staff, tenants):
    assert listed(client.get(reverse(CHANGELIST), {"country": "NETHER"})) == {"nl"}
    assert listed(client.get(reverse(CHANGELIST), {"country": "united"})) == {"us", "gb"}
    # With the admin's "Show counts" on too.
    shown = client.get(reverse(CHANGELIST), {"country": "nether", "_facets": "True"})
    assert listed(shown) == {"nl"}


def test_the_country_filter_matches_names_in_the_admins_language(client, staff, tenants):
    dutch = {"HTTP_ACCEPT_LANGUAGE": "nl"}
    assert listed(client.get(reverse(CHANGELIST), {"country": "verenigde"}, **dutch)) == {"us"}
    assert listed(client.get(reverse(CHANGELIST), {"country": "belgie"}, **dutch)) == {"be"}
    assert listed(client.get(reverse(CHANGELIST), {"country": "nederland"}, **dutch)) == {"nl"}
    assert listed(client.get(reverse(CHANGELIST), {"country": "netherlands"}, **dutch)) == set()


def test_the_country_filter_matches_a_code(client, staff, tenants):
    assert listed(client.get(reverse(CHANGELIST), {"country": "gb"})) == {"gb"}
    # "nl" is the Netherlands' code and a fragment of Finland's name: both match.
    assert listed(client.get(reverse(CHANGELIST), {"country": "nl"})) == {"nl", "fi"}


def test_no_match_lists_no_tenant(client, staff, tenants):
    assert listed(client.get(reverse(CHANGELIST), {"country": "atlantis"})) == set()


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_country_filters_nothing(client, staff, tenants, value):
    response = client.get(reverse(CHANGELIST), {"country": value})
    assert listed(response) == {"nl", "us", "be", "gb", "fi"}
    assert "?e=1" not in response.get("Location", "")


def test_the_country_filter_keeps_the_search_and_the_order_and_the_search_keeps_it(
    client, staff, tenants
):
    response = client.get(reverse(CHANGELIST), {"country": "united", "q": "Tenant", "o": "-1"})
    assert listed(response) == {"us", "gb"}
    page = response.content.decode()
    form = page[page.index('class="country-search-filter"') :]
    form = form[: form.index("</form>")]
    assert '<input type="hidden" name="q" value="Tenant">' in form
    assert '<input type="hidden" name="o" value="-1">' in form
    assert 'name="country" value="united"' in form
    assert 'name="country"' not in form.replace('name="country" value="united"', "")
    # Django's own search box keeps the country, and "All" drops only the country.
    search = page[page.index('id="changelist-search"') :]
    assert (
        '<input type="hidden" name="country" value="united">' in search[: search.index("</form>")]
    )
    assert 'href="?o=-1&amp;q=Tenant">All</a>' in form
    # The search narrows within the filter.
    narrowed = client.get(reverse(CHANGELIST), {"country": "united", "q": "Tenant us"})
    assert listed(narrowed) == {"us"}
