"""Browser fixtures: the app served on a free local port, and Chromium driven by Playwright."""
from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engagement.extensions import db as _db
from tests.conftest import make_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@dataclass
class LiveServer:
    """A running app: its base URL and the Flask app (for setting up data)."""

    app: object
    url: str


@pytest.fixture
def live_server(sqlite_template, tmp_path) -> Iterator[LiveServer]:
    """A fresh app on its own SQLite copy, served by werkzeug in a daemon thread."""
    from werkzeug.serving import make_server

    db_file = tmp_path / "live.sqlite3"
    shutil.copy(sqlite_template, db_file)
    app = make_app(f"sqlite:///{db_file}", tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            _db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole session (Debian's package, no downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    playwright.stop()


# Reports every Content-Security-Policy violation of a page to the test (see `page`).
_REPORT_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
                        + ` at ${e.sourceFile || document.URL}:${e.lineNumber}`);
});
"""


def _is_csp_message(message) -> bool:
    text = message.text
    return message.type == "error" and ("Content Security Policy" in text
                                        or "Content-Security-Policy" in text)


@pytest.fixture
def page(browser):
    """A new browser context (own cookies) and page per test; English unless changed.

    The test fails if any page broke the Content-Security-Policy (a console error or a
    `securitypolicyviolation` event): blocked inline code means a broken page for users.
    `page.csp_violations` lists them; a test that provokes one on purpose clears it.
    """
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    violations: list[str] = []
    context.expose_function("__cspViolation", lambda text: violations.append(text))
    context.add_init_script(_REPORT_CSP)
    page = context.new_page()
    page.on("console", lambda msg: violations.append(msg.text) if _is_csp_message(msg) else None)
    page.csp_violations = violations
    page.set_default_timeout(10_000)
    yield page
    context.close()
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations))


@pytest.fixture
def login(live_server) -> Callable:
    """Sign a user in through the real login form: `login(page, email)`."""
    from tests.factories import PASSWORD

    def _login(page, email: str, password: str = PASSWORD) -> None:
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("form.card button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/login" not in page.url, f"sign-in failed for {email}"

    return _login


@pytest.fixture
def screenshot() -> Callable:
    """Save a full-page screenshot to screenshots/<name>.png (gitignored) for review."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def _shot(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot
