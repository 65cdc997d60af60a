"""The portal in Dutch: a complete catalog in Microsoft's terms, the language of the browser or
the account's own choice, dates and numbers in the language, and no English UI words left on
the demo tenant's pages."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from licensing import audit
from licensing.models import AccountPreferences, DirectoryUser, Group, Product, Tenant

pytestmark = pytest.mark.django_db

PO = Path(settings.BASE_DIR) / "locale" / "nl" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\{ ?\w+ ?\}\}")

# Microsoft's Dutch terms for the licensing blades.
MICROSOFT_TERMS = {
    "Licenses": "Licenties",
    "All products": "Alle producten",
    "Purchased": "Gekocht",
    "Total": "Totaal",
    "Assigned": "Toegewezen",
    "Available": "Beschikbaar",
    "Expiring soon": "Verloopt binnenkort",
    "Assign": "Toewijzen",
    "Users and groups": "Gebruikers en groepen",
    "Assignment options": "Toewijzingsopties",
    "Usage location": "Gebruikslocatie",
    "Licensed users": "Gelicentieerde gebruikers",
    "Licensed groups": "Gelicentieerde groepen",
    "Remove license": "Licentie verwijderen",
    "Not enough licenses": "Niet genoeg licenties",
    "Conflicting service plans": "Conflicterende serviceplannen",
    "Usage location isn't allowed": "Gebruikslocatie is niet toegestaan",
    "Failed assignments": "Mislukte toewijzingen",
}

# English words of the portal's own vocabulary: none may be left on a Dutch page.
ENGLISH_UI = [
    "Licenses",
    "License",
    "Users",
    "Groups",
    "Total",
    "Assigned",
    "Available",
    "Expiring",
    "Assign",
    "Remove",
    "Search",
    "Select",
    "Refresh",
    "Download",
    "Members",
    "Name",
    "Active",
    "Error",
    "Overview",
    "Sign",
    "Reprocess",
    "Save",
    "Cancel",
    "Add",
    "Delete",
    "Deleted",
    "Restore",
    "Products",
    "Purchased",
    "Enabled",
    "Disabled",
    "Services",
    "Usage",
    "Location",
    "Suspended",
    "Inherited",
    "Page",
    "Next",
    "Previous",
    "Apply",
    "Profile",
    "Processing",
    "Review",
    "Assignments",
    "Options",
    "Description",
    "Source",
    "Created",
    "Revoke",
    "Permission",
    "Register",
    "Skip",
    "Switch",
]


def catalog():
    with PO.open("rb") as f:
        return read_po(f, locale="nl")


def test_every_message_is_translated_none_fuzzy_with_the_same_placeholders():
    problems = []
    for message in catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        if not all(strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = sorted(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            if sorted(PLACEHOLDER.findall(string)) != wanted and sorted(
                PLACEHOLDER.findall(string)
            ) != sorted(PLACEHOLDER.findall(ids[0])):
                problems.append(f"placeholders differ: {ids[0]!r} → {string!r}")
    assert problems == []


def test_microsofts_own_dutch_terms_are_used():
    translated = {m.id: m.string for m in catalog() if m.id and isinstance(m.id, str)}
    assert {k: translated.get(k) for k in MICROSOFT_TERMS} == MICROSOFT_TERMS


def test_the_catalog_holds_every_marked_string_of_the_code(settings):
    """makemessages over the code finds no message the catalog lacks: a string marked since
    is translated before it ships."""
    from babel.messages.extract import extract_from_dir

    known = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog() if m.id}
    found = set()
    root = Path(settings.BASE_DIR)
    for folder in ("portal", "licensing"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            root / folder,
            method_map=[("**.py", "python")],
            keywords={"_": None, "gettext": None, "gettext_lazy": None, "ngettext": (1, 2)},
        ):
            found.add(message if isinstance(message, str) else message[0])
    assert sorted(found - known) == []


class VisibleText(HTMLParser):
    """The text a person sees or hears: text outside script and style, and the labels in
    aria-label, title and placeholder."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "placeholder") and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


@pytest.fixture
def demo_in_dutch(settings, client):
    settings.DEBUG = True  # demo data is for the quick start only
    call_command("load_demo", port=8123, stdout=io.StringIO())
    admin = get_user_model().objects.get(username="admin@contoso.onmicrosoft.com")
    client.force_login(admin)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "nl"
    return Tenant.objects.get(initial_domain="contoso.onmicrosoft.com")


def demo_pages(tenant) -> list[str]:
    e3 = Product.objects.get(sku_part_number="ENTERPRISEPACK")
    person = (
        DirectoryUser.objects.filter(tenant=tenant, soft_deleted_at=None, licenses__isnull=False)
        .order_by("id")
        .first()
    )
    group = Group.objects.filter(tenant=tenant, assignments__isnull=False).order_by("id").first()
    return [
        reverse("portal:overview"),
        reverse("portal:products"),
        reverse("portal:product", args=[e3.sku_id]),
        reverse("portal:product_groups", args=[e3.sku_id]),
        reverse("portal:product_plans", args=[e3.sku_id]),
        reverse("portal:assign") + f"?product={e3.sku_id}",
        reverse("portal:users"),
        reverse("portal:user", args=[person.public_id]),
        reverse("portal:user_licenses", args=[person.public_id]),
        reverse("portal:deleted_users"),
        reverse("portal:sync_upload"),
        reverse("portal:groups"),
        reverse("portal:group", args=[group.public_id]),
        reverse("portal:group_licenses", args=[group.public_id]),
        reverse("portal:audit"),
        reverse("portal:apps"),
        reverse("portal:provisioning"),
    ]


def test_the_demo_in_dutch_shows_microsofts_terms_and_no_english_ui_words(demo_in_dutch, client):
    tenant = demo_in_dutch
    # What is data, not UI: names from the directory and the catalog, and the audit log's
    # activity names, which stay English as in Azure's audit logs.
    data = {
        *Product.objects.values_list("display_name", flat=True),
        *Group.objects.filter(tenant=tenant).values_list("name", flat=True),
        *Group.objects.filter(tenant=tenant).values_list("description", flat=True),
        *(v for k, v in vars(audit).items() if k.isupper() and isinstance(v, str)),
    }
    from licensing.models import ServicePlan

    data |= set(ServicePlan.objects.values_list("display_name", flat=True))
    leftovers = {}
    for url in demo_pages(tenant):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Language"] == "nl", url
        text = visible(response.content.decode())
        for value in sorted(data, key=len, reverse=True):
            text = text.replace(value, " ")
        english = sorted({w for w in re.findall(r"[A-Za-z]+", text) if w in ENGLISH_UI})
        if english:
            leftovers[url] = english
    assert leftovers == {}
    products = visible(client.get(reverse("portal:products")).content.decode())
    for term in ("Licenties", "Alle producten", "Totaal", "Toegewezen", "Beschikbaar"):
        assert term in products
    assert "Verloopt binnenkort" in products and "Toewijzen" in products
    e3 = Product.objects.get(sku_part_number="ENTERPRISEPACK")
    assert "Gelicentieerde gebruikers" in visible(
        client.get(reverse("portal:product", args=[e3.sku_id])).content.decode()
    )


def test_dates_and_numbers_follow_the_language(demo_in_dutch, client):
    overview = visible(client.get(reverse("portal:overview")).content.decode())
    # Dutch dates are day-month-year (8-12-2026), never ISO or American.
    assert re.search(r"\b\d{1,2}-\d{1,2}-20\d\d\b", overview)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", overview)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    english = visible(client.get(reverse("portal:overview")).content.decode())
    assert re.search(r"\b\d{2}/\d{2}/20\d\d\b", english)


def test_thousands_are_grouped_as_the_language_groups_them(client, as_role, buy):
    buy("ENTERPRISEPACK", 12_500)
    as_role("GlobalReader")
    dutch = client.get(reverse("portal:products"), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    english = client.get(reverse("portal:products"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "12.500" in visible(dutch) and "12,500" in visible(english)


def test_the_language_switch_is_remembered_for_the_account(client, as_role):
    actor = as_role("GlobalReader")
    page = client.get(reverse("portal:products"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="language" value="nl"' in page and "All products" in page
    answer = client.post(
        reverse("set_language"), {"language": "nl", "next": reverse("portal:products")}
    )
    assert answer.status_code == 303 and answer["Location"] == reverse("portal:products")
    assert AccountPreferences.objects.get(account=actor).language == "nl"
    # Another browser, asking for English: the account's choice wins.
    from django.test import Client

    elsewhere = Client(HTTP_ACCEPT_LANGUAGE="en")
    elsewhere.force_login(actor)
    assert "Alle producten" in elsewhere.get(reverse("portal:products")).content.decode()
    # A foreign address is not followed; an unknown language falls back to English.
    answer = client.post(
        reverse("set_language"), {"language": "xx", "next": "https://evil.example/"}
    )
    assert answer["Location"] == "/"
    assert AccountPreferences.objects.get(account=actor).language == "en"


def test_the_sign_in_page_follows_the_browser(client):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="nl-NL,nl;q=0.9").content.decode()
    assert "Aanmelden" in page and '<html lang="nl">' in page


def test_the_api_and_scim_answer_in_english_whatever_the_browser_or_account_says(
    client, tenant, actor
):
    AccountPreferences.objects.create(account=actor, language="nl")
    client.force_login(actor)
    answer = client.get(
        f"/scim/v2/{tenant.public_id}/Users", HTTP_ACCEPT_LANGUAGE="nl", HTTP_AUTHORIZATION="x"
    )
    assert answer.status_code == 401 and answer.get("Content-Language", "en") == "en"
    graph = client.get("/v1.0/subscribedSkus", HTTP_ACCEPT_LANGUAGE="nl")
    assert graph.status_code == 401
    assert graph.json()["error"]["message"].isascii()


def test_the_csv_download_has_a_dutch_header_and_azures_values(demo_in_dutch, client):
    e3 = Product.objects.get(sku_part_number="ENTERPRISEPACK")
    answer = client.get(reverse("portal:product_download", args=[e3.sku_id]))
    lines = b"".join(answer.streaming_content).decode().splitlines()
    assert lines[0] == ("Naam,User principal name,Toewijzingspad,Status,Fout,Gebruikslocatie")
    assert any(",Overgenomen (" in line and ",Active," in line for line in lines[1:])
