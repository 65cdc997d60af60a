"""Browser tests: Playwright driving Debian's Chromium against live_server on PostgreSQL.

They fail (never skip) when Chromium is missing: `make test` installs it.
"""

from __future__ import annotations

import contextlib
import inspect
import os

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    ElementHandle,
    Frame,
    Keyboard,
    Locator,
    Page,
    expect,
    sync_playwright,
)

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# there are still synchronous, so Django's async-safety check would misfire.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: run `make test`, which installs Debian's chromium.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def watched_page(browser, live_server, **options):
    """A page of a new browser context on the live server (``options`` for the context, such
    as a locale). The portal must work under its Content-Security-Policy: a blocked script
    or style, or any other error in the console, fails the test."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, **options
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.console_problems = problems  # a test expecting an error answer takes it out
    yield page
    context.close()
    assert problems == [], problems


@pytest.fixture
def page(browser, live_server):
    with watched_page(browser, live_server) as page:
        yield page


@pytest.fixture(autouse=True)
def _catalog(transactional_catalog):
    """Every browser test runs on the live server, so in a transaction of its own."""


@pytest.fixture
def signed_in(page, tenant):
    """sign_in(role): a new account with that role in the tenant, signed in through the form."""
    from tests.factories import AccountFactory, RoleAssignmentFactory

    def _sign_in(role: str = "GlobalAdministrator"):
        account = AccountFactory()
        RoleAssignmentFactory(account=account, tenant=tenant, role=role)
        page.goto("/accounts/login/")
        page.fill("#id_username", account.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/licenses/")
        return account

    return _sign_in


class Keystrokes:
    """The keys a test presses, counted: a key (or a chord such as Shift+Tab) is one, typed
    text one per character. ``count`` so far."""

    # The sync API's methods that press keys, and the argument that names them.
    METHODS = [
        (Keyboard, "press", "key"),
        (Keyboard, "down", "key"),
        (Keyboard, "type", "text"),
        (Keyboard, "insert_text", "text"),
        (Locator, "press", "key"),
        (Locator, "type", "text"),
        (Locator, "press_sequentially", "text"),
        (Page, "press", "key"),
        (Page, "type", "text"),
        (Frame, "press", "key"),
        (Frame, "type", "text"),
        (ElementHandle, "press", "key"),
        (ElementHandle, "type", "text"),
    ]

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        for cls, name, argument in self.METHODS:
            monkeypatch.setattr(cls, name, self._counting(getattr(cls, name), argument))

    def _counting(self, method, argument):
        signature = inspect.signature(method)

        def counted(*args, **kwargs):
            keys = signature.bind(*args, **kwargs).arguments[argument]
            self.count += 1 if argument == "key" else len(keys)
            return method(*args, **kwargs)

        return counted


KEYSTROKES: list[tuple[str, int]] = []  # (test, keys pressed), for the terminal summary


@pytest.fixture
def keystrokes(request, monkeypatch):
    """Counts the keys the test presses (Keystrokes); the count is printed, kept as the test's
    property ``keystrokes`` and listed at the end of the run."""
    counter = Keystrokes(monkeypatch)
    yield counter
    request.node.user_properties.append(("keystrokes", counter.count))
    KEYSTROKES.append((request.node.nodeid, counter.count))
    print(f"\n{request.node.nodeid}: {counter.count} keystrokes")


@pytest.fixture(autouse=True)
def _count_keystrokes(request):
    """The keyboard tests (test_keyboard*.py) count their keys."""
    if request.module.__name__.rpartition(".")[2].startswith("test_keyboard"):
        request.getfixturevalue("keystrokes")


def pytest_terminal_summary(terminalreporter):
    if KEYSTROKES:
        terminalreporter.section("keystrokes per keyboard test")
        for test, count in KEYSTROKES:
            terminalreporter.write_line(f"{count:5d}  {test}")


AXE = Axe()


def confirm(page, answer: str = "OK") -> None:
    """Answer the portal's confirmation dialog ("Remove …?"): a native <dialog>, modal."""
    dialog = page.locator("dialog#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=answer).click()
    expect(dialog).to_be_hidden()


def assert_accessible(page) -> None:
    """No serious or critical axe-core violations on the page as it is now."""
    results = AXE.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: " + "; ".join(bad)
