"""No page of the portal scrolls sideways at 1024 and at 768 pixels wide, with long names in
it (a 60-character user principal name, a long display name, a long product name, a long
group name): a wide table scrolls inside its card (not the page, not the whole blade), and
names never break inside a word.

Every page of the portal's URLconf (``portal.portal_urls``) that answers a GET with a page,
not a list of pages someone remembered."""

from __future__ import annotations

import pytest

from licensing import services
from licensing.models import Product
from scripts.bench import route_urls
from tests.factories import DirectoryUserFactory, GroupFactory, SubscriptionFactory, product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (1024, 768)
UPN = "aleksandra.vanwesthuizenoppenheimer1@contoso.onmicrosoft.com"  # 60 characters
DISPLAY_NAME = "Aleksandra Maria van der Westhuizen-Oppenheimer Schwarzenberg"
PRODUCT_NAME = "Microsoft 365 E3 Extra Features with Enterprise Mobility and Security Compliance"
GROUP_NAME = "Regional Sales and Marketing Operations Europe Middle East Africa"
# Pages that show more with a query: Assign with a product and the long-named user picked
# (its review) and a search that finds them (its picker).
QUERIES = {
    "portal:assign": lambda w: (
        f"?product={w['product'].sku_id}&user={w['user'].public_id}&q=aleksandra"
    ),
}

# Each word of ``text`` wherever it is on the page (a space or a hyphen ends a word, as line
# breaking has it): the words split over two lines. A user principal name is one word.
BROKEN_WORDS = """(text) => {
  const broken = [];
  let found = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(text);
    if (at < 0) continue;
    found += 1;
    let start = at;
    for (const word of text.split(/(?<=[ -])/)) {
      const range = document.createRange();
      range.setStart(node, start);
      range.setEnd(node, start + word.trimEnd().length);
      const lines = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
      if (lines.size > 1) broken.push(word);
      start += word.length;
    }
  }
  return {found, broken};
}"""


@pytest.fixture
def world(tenant):
    SubscriptionFactory(tenant=tenant, product=product("ENTERPRISEPACK"), units=10)
    SubscriptionFactory(tenant=tenant, product=product("AAD_PREMIUM"), units=10)
    Product.objects.filter(sku_part_number="ENTERPRISEPACK").update(display_name=PRODUCT_NAME)
    e3 = product("ENTERPRISEPACK")
    user = DirectoryUserFactory(
        tenant=tenant, display_name=DISPLAY_NAME, user_principal_name=UPN, usage_location="NL"
    )
    group = GroupFactory(tenant=tenant, name=GROUP_NAME)
    services.group_add_members(tenant=tenant, group=group, users=[user], actor=None)
    services.product_assign_to_users(tenant=tenant, product=e3, users=[user], actor=None)
    services.group_assign_products(
        tenant=tenant, group=group, products={product("AAD_PREMIUM"): []}, actor=None
    )
    gone = DirectoryUserFactory(
        tenant=tenant, display_name=DISPLAY_NAME, user_principal_name="z" + UPN[1:]
    )
    services.user_soft_delete(tenant=tenant, user=gone, actor=None)
    app, _secret = services.app_register(tenant=tenant, name=GROUP_NAME, read_only=True, actor=None)
    token, _value = services.scim_token_issue(tenant=tenant, actor=None)
    return {"product": e3, "user": user, "group": group, "app": app, "token": token}


def _pages(client, world) -> list[tuple[str, str]]:
    """(URL name, address) of every route of the portal's URLconf that answers a GET with a
    page (asked with Django's test client first: not the POST-only commands, not the
    downloads)."""
    pages = []
    for name, address in route_urls(world):
        url = address + QUERIES.get(name, lambda w: "")(world)
        response = client.get(url)
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            pages.append((name, url))
    return pages


def test_no_page_scrolls_sideways_at_1024_and_768_and_names_keep_their_words(
    page, signed_in, client, world
):
    client.force_login(signed_in())
    pages = _pages(client, world)
    seen, wide, split, found = set(), [], [], set()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        for name, address in pages:
            assert page.goto(address).status == 200
            seen.add(name)
            overflow = page.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth]"
            )
            if overflow[0] > overflow[1]:
                wide.append(f"{name} at {width}: {overflow[0]} > {overflow[1]}")
            # Nor does the blade: what is wide (a table) scrolls in its own box, the blade's
            # heading and commands stay in place.
            blade = page.evaluate(
                "() => [document.querySelector('.blade').scrollWidth,"
                " document.querySelector('.blade').clientWidth]"
            )
            if blade[0] > blade[1]:
                wide.append(f"{name}'s blade at {width}: {blade[0]} > {blade[1]}")
            for text in (UPN, DISPLAY_NAME, PRODUCT_NAME, GROUP_NAME):
                words = page.evaluate(BROKEN_WORDS, text)
                if words["found"]:
                    found.add(text)
                if broken := words["broken"]:
                    split.append(f"{name} at {width}: {broken} broken over two lines")
    # Not vacuous: the pages of every area were opened, with the long names in them.
    assert {
        "portal:overview",
        "portal:products",
        "portal:product",
        "portal:product_groups",
        "portal:assign",
        "portal:users",
        "portal:deleted_users",
        "portal:user",
        "portal:user_licenses",
        "portal:group",
        "portal:group_licenses",
        "portal:groups",
        "portal:audit",
        "portal:apps",
    } <= seen, seen
    assert len(UPN) == 60
    assert found == {UPN, DISPLAY_NAME, PRODUCT_NAME, GROUP_NAME}
    assert wide == []
    assert split == []
