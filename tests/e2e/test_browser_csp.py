"""The browser enforces the Content-Security-Policy, and the `page` fixture notices breaches."""
from __future__ import annotations

from tests.factories import make_user


def test_inline_script_is_blocked_and_reported(page, live_server):
    """A page of ours with injected inline code: the script does not run, the listener sees it."""
    url = f"{live_server.url}/login"
    csp = page.request.get(url).headers["content-security-policy"]
    evil = ("<html><body><script>document.title = 'pwned'</script>"
            "<img src=x onerror=\"document.title='pwned'\"></body></html>")
    page.route(url, lambda route: route.fulfill(
        status=200, body=evil, headers={"Content-Type": "text/html",
                                        "Content-Security-Policy": csp}))
    page.goto(url)
    page.wait_for_load_state("load")
    assert page.title() != "pwned"
    page.wait_for_function("() => true")  # let the violation events arrive
    assert any("script-src" in v for v in page.csp_violations), page.csp_violations
    page.csp_violations.clear()  # provoked on purpose: the fixture must not fail this test


def test_the_static_script_runs_under_the_policy(page, live_server, login):
    with live_server.app.app_context():
        from engagement.extensions import db

        make_user(role="admin", email="csp-admin@example.org")
        db.session.commit()
    login(page, "csp-admin@example.org")
    ran = page.evaluate("() => [...document.scripts].map((s) => s.src)")
    assert any(src.endswith("/static/app.js") for src in ran)
    assert page.csp_violations == []
