"""Seed 001 walk: select Mark, Trigger Automation, name the action, find the green workflow
by typing "add", Add to Automation; the activity shows each stage, the outbox holds one SMS
and one email, and the bell shows the notification. In English and Vietnamese, and once
scheduled for a later time."""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django_scopes import scope

from patron.automations import engine
from patron.contacts.models import Contact
from patron.messaging import selectors as messaging_selectors

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "login": "Log in", "password": "Password", "contacts": "Contacts",
        "search": "Search contacts", "select": "Select Mark Nguyen",
        "trigger": "Trigger Automation", "action_name": "Action name",
        "search_workflows": "Search workflows", "add": "Add to Automation",
        "later": "At a date and time", "date": "Date and time", "activity": "Activity",
        "bell": r"Notifications, 1 unread",
    },
    "vi": {
        "login": "Đăng nhập", "password": "Mật khẩu", "contacts": "Khách hàng",
        "search": "Tìm khách hàng", "select": "Chọn Mark Nguyen",
        "trigger": "Kích hoạt tự động hóa", "action_name": "Tên hành động",
        "search_workflows": "Tìm quy trình", "add": "Thêm vào tự động hóa",
        "later": "Vào ngày giờ", "date": "Ngày và giờ", "activity": "Hoạt động",
        "bell": r"Thông báo, 1 chưa đọc",
    },
}  # fmt: skip
STAGES = ["Add to the loyalty program", "Send SMS", "Send email", "Notify staff"]


def log_in(page, demo, language):
    words = WORDS[language]
    page.goto("/login/")
    if language != "en":
        page.get_by_label("Language").select_option(language)
        page.wait_for_load_state()
    page.get_by_label("Email").fill(demo.email)
    page.get_by_label(words["password"]).fill(demo.password)
    page.get_by_role("button", name=words["login"]).click()
    page.get_by_role("heading", name=words["contacts"]).wait_for()
    return words


def trigger_for_mark(page, words, *, at: str = ""):
    page.get_by_label(words["search"]).fill("Mark")
    page.get_by_role("link", name="Mark Nguyen").wait_for()
    page.get_by_role("checkbox", name=words["select"]).check()
    page.get_by_role("button", name=words["trigger"]).click()
    dialog = page.get_by_role("dialog", name=words["trigger"])
    dialog.get_by_label(words["action_name"]).fill("Add to loyalty program LP")
    dialog.get_by_label(words["search_workflows"]).press_sequentially("add")
    # Only the matching workflow is left, shown green with its emoji.
    dialog.get_by_text("Birthday coupon").wait_for(state="detached")
    option = dialog.get_by_role("radio", name=re.compile("Add to the loyalty program"))
    assert "🟢" in option.locator("xpath=..").inner_text()
    option.check()
    if at:
        dialog.get_by_label(words["later"]).check()
        dialog.get_by_label(words["date"], exact=True).fill(at)
    dialog.get_by_role("button", name=words["add"]).click()
    dialog.get_by_role("status").wait_for()
    return dialog


def check_the_outcome(page, demo, words):
    assert engine.run_due_steps(worker="seed-001") == 4
    page.goto("/contacts/")
    page.get_by_label(words["search"]).fill("Mark")
    page.get_by_role("link", name="Mark Nguyen").click()
    page.get_by_role("heading", name="Mark Nguyen").wait_for()
    timeline = page.get_by_role("list", name=words["activity"])
    for stage in STAGES:
        timeline.get_by_text(re.compile(re.escape(f"{stage} —"))).first.wait_for()
    with scope(merchant=demo.merchant):
        mark = Contact.objects.get(merchant=demo.merchant, first_name="Mark")
        channels = sorted(
            m.channel for m in messaging_selectors.outbox(demo.merchant) if m.contact_id == mark.pk
        )
    assert channels == ["email", "sms"]
    bell = page.get_by_role("link", name=re.compile(words["bell"]))
    bell.click()
    page.get_by_text("Mark Nguyen was added to the loyalty program").wait_for()


@pytest.mark.parametrize("language", ["en", "vi"])
def test_seed_001_add_mark_to_the_loyalty_program(page, demo, language):
    words = log_in(page, demo, language)
    trigger_for_mark(page, words)
    check_the_outcome(page, demo, words)


def test_seed_001_scheduled_for_a_later_time(page, demo):
    words = log_in(page, demo, "en")
    zone = zoneinfo.ZoneInfo(demo.merchant.timezone)
    local = (datetime.datetime.now(zone) + datetime.timedelta(days=1)).replace(
        hour=9, minute=30, second=0, microsecond=0
    )
    dialog = trigger_for_mark(page, words, at=local.strftime("%Y-%m-%dT%H:%M"))
    assert "scheduled for" in dialog.inner_text()
    assert engine.run_due_steps(worker="seed-001") == 0
    with time_machine.travel(local - datetime.timedelta(minutes=1), tick=False):
        assert engine.run_due_steps(worker="seed-001") == 0
    with time_machine.travel(local, tick=True):
        check_the_outcome(page, demo, words)
