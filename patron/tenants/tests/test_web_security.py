"""Web security of the staff app: CSP, headers, CSRF on every form, deploy check.

The CSRF and template checks walk what exists (the URL configuration, the template
folders), so pages other apps add are held to the same rules without an edit here.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from patron.lib.urlwalk import staff_routes

TEMPLATE_ROOT = Path(settings.BASE_DIR) / "patron"
# An HTML attribute such as onclick= or onchange=, which a CSP without 'unsafe-inline'
# refuses to run. hx-on:* attributes are no better (htmx evaluates them with eval).
INLINE_HANDLER = re.compile(r"<[^>]*\s(on[a-z]+|hx-on[:\-][\w:\-]*)\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)(?![^>]*type=\"application/json\")"
)


def project_templates() -> list[Path]:
    return sorted(TEMPLATE_ROOT.glob("**/templates/**/*.html"))


def test_staff_pages_carry_a_content_security_policy_without_unsafe_scripts(trio):
    response = trio.login(trio.alice).get("/contacts/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'self'" in script_src
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy


def test_login_page_carries_security_headers(client):
    response = client.get("/login/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Content-Security-Policy" in response


def test_no_template_has_inline_event_handlers_or_inline_scripts():
    templates = project_templates()
    assert templates, "no templates found"
    offenders = []
    for template in templates:
        text = template.read_text()
        for match in INLINE_HANDLER.finditer(text):
            offenders.append(f"{template.relative_to(TEMPLATE_ROOT)}: {match.group(1)}=")
        if INLINE_SCRIPT.search(text):
            offenders.append(f"{template.relative_to(TEMPLATE_ROOT)}: inline <script>")
    assert offenders == [], "use data- attributes and patron/static/patron/app.js instead"


def test_every_staff_form_refuses_a_post_without_its_csrf_token(trio):
    client = Client(enforce_csrf_checks=True)
    client.force_login(trio.alice)
    checked = []
    for route in staff_routes():
        if getattr(route.callback, "csrf_exempt", False):
            continue  # webhooks signed by their sender, not browser forms
        url = route.fill(dict.fromkeys(route.kwargs, "1"))
        response = client.post(url, {"anything": "x"})
        assert response.status_code == 403, f"{url} accepted a POST without a CSRF token"
        checked.append(url)
    assert len(checked) >= 4


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    # The browser fixture sets DJANGO_ALLOW_ASYNC_UNSAFE for Playwright; no deployment has it.
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {
        **inherited,
        "HTTPS": "true",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "loyalty.example.com",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "PATRON_VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "patron", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_production_switch_turns_on_secure_cookies_redirect_and_hsts(tmp_path):
    code = (
        "from django.conf import settings as s; import django; django.setup();"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS)"
    )
    env = {
        **os.environ,
        "HTTPS": "true",
        "DJANGO_SETTINGS_MODULE": "patron.settings",
        "PATRON_VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["True", "True", "True", "31536000", "True"], done.stderr


@pytest.mark.browser
def test_staff_pages_raise_no_content_security_policy_violation(page, demo):
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto("/login/")
    page.get_by_label("Email").fill(demo.email)
    page.get_by_label("Password").fill(demo.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Contacts").wait_for()
    visited = 0
    for route in staff_routes():
        if route.kwargs or route.name in {"logout", "login"}:
            continue
        url = route.fill({})
        # Ask first with the page's cookies: POST-only routes answer 405 with no page.
        answer = page.request.get(url, max_redirects=0)
        if answer.status == 200 and answer.headers.get("content-type", "").startswith("text/html"):
            page.goto(url)
            visited += 1
    page.goto("/contacts/")
    page.get_by_role("button", name="Create Contact").click()
    page.get_by_role("dialog", name="Create Contact").get_by_role("button", name="Cancel").click()
    page.goto("/contacts/?q=Mark")
    page.get_by_role("link", name="Mark Nguyen").click()
    page.get_by_role("heading", name="Mark Nguyen").wait_for()
    page.wait_for_load_state()
    assert visited >= 1
    assert violations == []
