"""Take a PNG of every page of the demo tenant: `make screenshots` (writes screenshots/).

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


def shoot(page, base: str, pages: dict, k: dict, out: Path, prefix: str) -> None:
    for name, path in pages.items():
        if name == "02-licenses-overview":
            page.fill("#id_username", "support")
            page.fill("#id_password", "contoso-demo-2026")
            page.locator("button[type=submit]").click()
            page.wait_for_url("**/licenses/")
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


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    k = ids()
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
                shoot(page, base, pages, k, out, prefix)
                context.close()
            browser.close()
        print(f"{2 * (len(pages) + 2)} screenshots in {out}/")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots"))
