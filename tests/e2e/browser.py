"""How the browser tests start Debian's Chromium (installed by `make test` when missing)."""

from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from playwright.sync_api import sync_playwright

from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying hosts this closed network refuses.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "e2e"


@contextmanager
def chromium_page(live_server, *, login_as: str | None = None, password: str = PASSWORD):
    """A page of a fresh headless Chromium, logged in as ``login_as`` when given; the browser
    closes however the test ends."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            if login_as is not None:
                page.goto(f"{live_server.url}/accounts/login/")
                page.fill("input[name=username]", login_as)
                page.fill("input[name=password]", password)
                page.locator("form button[type=submit]").first.click()
                page.wait_for_url(f"{live_server.url}/projects/")
            yield page
        finally:
            browser.close()
