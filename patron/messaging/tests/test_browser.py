"""Seed 002 walk: text Mark his discount code from the Activity tab, then find the SMS in
the Outbox; a staff notification shows in the bell until it is read."""

import re

import pytest
from django_scopes import scope

from patron.messaging import services

pytestmark = pytest.mark.browser


def test_send_a_discount_code_by_sms_from_activity_and_see_it_in_the_outbox(page, demo):
    page.goto("/login/")
    page.get_by_label("Email").fill(demo.email)
    page.get_by_label("Password").fill(demo.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Contacts").wait_for()
    with scope(merchant=demo.merchant):
        services.notification_create(
            merchant=demo.merchant, text="Mark Nguyen was added to the loyalty program"
        )
    page.reload()
    bell = page.get_by_role("link", name=re.compile(r"Notifications, \d+ unread"))
    assert bell.get_attribute("aria-label") != "Notifications, 0 unread"

    page.get_by_label("Search contacts").fill("Mark")
    page.get_by_role("link", name="Mark Nguyen").click()
    page.get_by_role("heading", name="Mark Nguyen").wait_for()
    page.get_by_text("Send SMS", exact=True).first.click()
    page.get_by_label(re.compile("Message to")).fill("Here is the code you asked for")
    codes = page.get_by_label("Include a discount code")
    if codes.count():
        codes.select_option(index=1)
    page.get_by_role("button", name="Send SMS").click()
    page.get_by_role("status").filter(has_text="SMS queued.").wait_for()
    timeline = page.get_by_role("list", name="Activity")
    timeline.get_by_text(re.compile("Here is the code you asked for")).first.wait_for()

    page.get_by_role("link", name="Outbox").click()
    page.get_by_role("heading", name="Outbox").wait_for()
    outbox = page.get_by_role("table", name="Messages")
    outbox.get_by_text(re.compile("Here is the code you asked for")).wait_for()

    bell = page.get_by_role("link", name=re.compile(r"Notifications, \d+ unread"))
    bell.click()
    page.get_by_text("Mark Nguyen was added to the loyalty program").wait_for()
    assert page.get_by_role("link", name="Notifications, 0 unread").count() == 1
