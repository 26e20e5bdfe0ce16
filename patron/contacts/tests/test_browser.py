"""Seed walk for the foundation: log in, find a customer by a differently formatted
phone, open the profile and add a note, in English and in Vietnamese."""

import re

import pytest

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "login": "Log in", "email": "Email", "password": "Password", "contacts": "Contacts",
        "search": "Search contacts", "add_note": "Add Note", "note": "Note",
        "save_note": "Save note", "activity": "Activity",
    },
    "vi": {
        "login": "Đăng nhập", "email": "Email", "password": "Mật khẩu", "contacts": "Khách hàng",
        "search": "Tìm khách hàng", "add_note": "Thêm ghi chú", "note": "Ghi chú",
        "save_note": "Lưu ghi chú", "activity": "Hoạt động",
    },
}  # fmt: skip


def log_in(page, demo, language: str) -> dict[str, str]:
    words = WORDS[language]
    page.goto("/login/")
    if language != "en":
        page.get_by_label("Language").select_option(language)
        page.wait_for_load_state()
    page.get_by_label(words["email"]).fill(demo.email)
    page.get_by_label(words["password"]).fill(demo.password)
    page.get_by_role("button", name=words["login"]).click()
    page.get_by_role("heading", name=words["contacts"]).wait_for()
    return words


@pytest.mark.parametrize("language", ["en", "vi"])
def test_find_a_contact_by_phone_and_add_a_note(page, demo, language):
    words = log_in(page, demo, language)
    # Mark's number is stored from "0912 345 678"; staff type it another way.
    page.get_by_label(words["search"]).fill("+84 912-345-678")
    mark = page.get_by_role("link", name="Mark Nguyen")
    mark.wait_for()
    assert page.get_by_role("table").get_by_role("link").count() == 1
    mark.click()
    page.get_by_role("heading", name="Mark Nguyen").wait_for()
    assert page.get_by_role("link", name=words["activity"]).get_attribute("aria-current") == "page"
    page.get_by_text(words["add_note"]).click()
    page.get_by_label(words["note"], exact=True).fill("Customer called about the Rewards Coupon")
    page.get_by_role("button", name=words["save_note"]).click()
    timeline = page.get_by_role("list", name=words["activity"])
    timeline.get_by_text(re.compile("Customer called about the Rewards Coupon")).wait_for()
    assert "owner@demo.patron" in timeline.locator("li").first.inner_text()


def test_create_contact_dialog_then_select_it_with_its_checkbox(page, demo):
    log_in(page, demo, "en")
    page.get_by_role("button", name="Create Contact").click()
    dialog = page.get_by_role("dialog", name="Create Contact")
    dialog.get_by_label("First name").fill("Lan")
    dialog.get_by_label("Phone").fill("0988 777 666")
    dialog.get_by_role("button", name="Create").click()
    page.get_by_role("heading", name="Lan").wait_for()
    page.goto("/contacts/?q=0988777666")
    box = page.get_by_role("checkbox", name="Select Lan")
    box.check()
    assert box.is_checked()


def test_create_contact_dialog_shows_a_bad_phone_in_place(page, demo):
    log_in(page, demo, "en")
    page.get_by_role("button", name="Create Contact").click()
    dialog = page.get_by_role("dialog", name="Create Contact")
    dialog.get_by_label("First name").fill("Bad")
    dialog.get_by_label("Phone").fill("12")
    dialog.get_by_role("button", name="Create").click()
    dialog.get_by_role("alert").filter(has_text="not a valid phone number").wait_for()
