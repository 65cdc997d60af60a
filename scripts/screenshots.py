"""Take a PNG of every page of the demo tenant: `make screenshots` (writes screenshots/);
with --docs, the flows the README shows (docs/screenshots/, committed): Assign's review with
enough licenses and short of them, a group's outcome after Assign, a paged error list.

Starts the development server on a free port against the database in DATABASE_URL (the
Makefile prepares a demo SQLite database), signs in with the demo account and visits each
page with Debian's Chromium.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: int = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server at {url} did not start")


def ids() -> dict[str, str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from licensing.models import DirectoryUser, Group, Product, UserLicense

    member = UserLicense.objects.filter(
        tenant__name="Contoso", via_group__name="Engineering", state="Active"
    ).first()
    # One group shown mid-way through processing, as a worker leaves it between batches.
    busy = (
        Group.objects.filter(tenant__name="Contoso", assignments__isnull=False)
        .exclude(name="Engineering")
        .order_by("name")
        .first()
    )
    Group.objects.filter(id=busy.id).update(
        processing_state="ProcessingInProgress",
        processing_done=busy.memberships.count() // 3,
        processing_total=busy.memberships.count(),
    )
    return {
        "busy": str(busy.public_id),
        "e3": str(Product.objects.get(sku_part_number="ENTERPRISEPACK").sku_id),
        "user": str(member.user.public_id),
        "deleted": str(
            DirectoryUser.objects.filter(tenant__name="Contoso", soft_deleted_at__isnull=False)
            .first()
            .public_id
        ),
        "group": str(Group.objects.get(tenant__name="Contoso", name="Engineering").public_id),
    }


def sign_in(page) -> None:
    """Sign in on the sign-in page shown, as the demo tenant's support account."""
    page.fill("#id_username", "support")
    page.fill("#id_password", "contoso-demo-2026")
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/licenses/")


def shoot(page, base: str, pages: dict, k: dict, out: Path, prefix: str) -> None:
    for name, path in pages.items():
        if name == "02-licenses-overview":
            sign_in(page)
        page.goto(base + path)
        page.screenshot(path=str(out / f"{prefix}{name}.png"))
    page.goto(base + pages["07-assign"])
    page.locator("#options-button").click()
    page.locator("#options-dialog input[role=switch]").nth(4).uncheck()
    # Drawn again with the choice, open again, the focus back on the switch.
    page.locator("#options-dialog[open] input[role=switch]:focus").wait_for()
    page.screenshot(path=str(out / f"{prefix}07-assign-options-dialog.png"))
    page.goto(f"{base}/users/{k['user']}/licenses/")
    page.locator("a.command[hx-target='#modal']").click()
    page.locator("#modal dialog").wait_for()
    page.screenshot(path=str(out / f"{prefix}16-assignments-dialog.png"))


def pick(k: dict) -> dict:
    """The demo tenant's users for the docs' flows: some without Office 365 E1 (8 seats
    left: ten of them are short) and one without Office 365 E3."""
    from licensing.models import DirectoryUser, Group, Product

    def without(sku: str, n: int) -> list[str]:
        return [
            str(u)
            for u in DirectoryUser.objects.filter(tenant__name="Contoso", soft_deleted_at=None)
            .exclude(licenses__product__sku_part_number=sku)
            .order_by("display_name")
            .values_list("public_id", flat=True)[:n]
        ]

    sku = {p.sku_part_number: str(p.sku_id) for p in Product.objects.all()}
    group = {g.name: str(g.public_id) for g in Group.objects.filter(tenant__name="Contoso")}
    return {
        **k,
        "sku": sku,
        "without_e1": without("STANDARDPACK", 10),
        "without_e3": without("ENTERPRISEPACK", 1),
        "security": group["Security admins"],
        "everyone": group["All staff"],
    }


def shoot_docs(page, base: str, k: dict, out: Path, prefix: str, assign_sku: str) -> None:
    """The flows of the README, in one language: Assign's review, enough and short; a group's
    outcome after Assign (``assign_sku`` to All staff, more members than seats); its error
    list, paged."""
    page.goto(base + "/accounts/login/")
    sign_in(page)
    security, everyone = k["security"], k["everyone"]
    e3, e1 = k["sku"]["ENTERPRISEPACK"], k["sku"]["STANDARDPACK"]
    page.goto(f"{base}/licenses/assign/?product={e3}&user={k['without_e3'][0]}&group={security}")
    page.screenshot(path=str(out / f"{prefix}assign-review-enough.png"), full_page=True)
    users = "&".join(f"user={u}" for u in k["without_e1"])
    page.goto(f"{base}/licenses/assign/?product={e1}&{users}")
    page.screenshot(path=str(out / f"{prefix}assign-review-short.png"), full_page=True)
    page.goto(f"{base}/licenses/assign/?product={k['sku'][assign_sku]}&group={everyone}")
    page.get_by_role("button", name="Toewijzen" if prefix else "Assign", exact=True).click()
    page.wait_for_url(lambda url: "/assign/" not in url)
    page.screenshot(path=str(out / f"{prefix}assign-group-outcome.png"))
    page.goto(f"{base}/groups/{everyone}/licenses/")
    page.screenshot(path=str(out / f"{prefix}group-error-list.png"), full_page=True)


def main(out: Path, docs: bool = False) -> None:
    out.mkdir(parents=True, exist_ok=True)
    k = ids()
    if docs:
        k = pick(k)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(base + "/accounts/login/")
        pages = {
            "01-sign-in": "/accounts/login/",
            "02-licenses-overview": "/licenses/",
            "03-all-products": "/licenses/products/",
            "04-product-licensed-users": f"/licenses/products/{k['e3']}/",
            "05-product-licensed-groups": f"/licenses/products/{k['e3']}/groups/",
            "06-product-service-plans": f"/licenses/products/{k['e3']}/plans/",
            "07-assign": f"/licenses/assign/?product={k['e3']}&user={k['user']}",
            "08-users": "/users/",
            "09-user-profile": f"/users/{k['user']}/",
            "10-user-licenses": f"/users/{k['user']}/licenses/",
            "11-deleted-user-licenses": f"/users/{k['deleted']}/licenses/",
            "12-groups": "/groups/",
            "13-group-members": f"/groups/{k['group']}/",
            "14-group-licenses": f"/groups/{k['group']}/licenses/",
            "15-audit-logs": "/audit/",
            "17-deleted-users": "/users/deleted/",
            "18-directory-sync": "/users/sync/",
            "19-group-processing": f"/groups/{k['busy']}/licenses/",
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            # Every page in English, then in Dutch (a browser asking for Dutch): nl-*.png.
            for language, prefix in (("en", ""), ("nl", "nl-")):
                context = browser.new_context(
                    viewport={"width": 1280, "height": 800},
                    extra_http_headers={"Accept-Language": language},
                )
                page = context.new_page()
                if docs:
                    sku = "AAD_PREMIUM" if language == "en" else "AAD_PREMIUM_P2"
                    shoot_docs(page, base, k, out, prefix, sku)
                else:
                    shoot(page, base, pages, k, out, prefix)
                context.close()
            browser.close()
        print(f"screenshots in {out}/")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    docs = "--docs" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--docs"]
    main(Path(args[0] if args else ("docs/screenshots" if docs else "screenshots")), docs)
