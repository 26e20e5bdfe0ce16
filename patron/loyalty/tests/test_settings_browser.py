"""Settings and the contact profile in a real browser, in English and in Vietnamese:
edit a tier and a reward, then change a contact's phone (seed 004: a new member)."""

import re

import pytest
from django_scopes import scope
from playwright.sync_api import expect

from patron.contacts.models import Contact
from patron.loyalty.models import Member, Tier
from patron.reports.tests.test_seed_walks import log_in, open_contact
from patron.rewards.models import Reward

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "edit": "Edit {}", "threshold": "Threshold", "benefits": "Benefits", "save": "Save",
        "tier_saved": "Tier saved.", "points_cost": "Points cost",
        "reward_saved": "Reward saved.", "edit_contact": "Edit contact", "phone": "Phone",
        "membership": "Membership", "not_activated": "Not activated",
        "contact_saved": "Contact saved.",
        "taken": "Another contact already has this phone number.",
    },
    "vi": {
        "edit": "Sửa {}", "threshold": "Ngưỡng", "benefits": "Ưu đãi hạng", "save": "Lưu",
        "tier_saved": "Đã lưu hạng thành viên.", "points_cost": "Số điểm cần đổi",
        "reward_saved": "Đã lưu ưu đãi.", "edit_contact": "Sửa thông tin khách hàng",
        "phone": "Số điện thoại", "membership": "Thành viên", "not_activated": "Chưa kích hoạt",
        "contact_saved": "Đã lưu khách hàng.",
        "taken": "Một khách hàng khác đã dùng số điện thoại này.",
    },
}  # fmt: skip


def edit_in_dialog(page, name, fields, words):
    page.get_by_role("button", name=words["edit"].format(name), exact=True).click()
    dialog = page.get_by_role("dialog", name=words["edit"].format(name))
    for label, value in fields.items():
        dialog.get_by_label(label, exact=True).fill(value)
    dialog.get_by_role("button", name=words["save"], exact=True).click()


@pytest.mark.parametrize("language", ["en", "vi"])
def test_edit_a_tier_a_reward_and_a_contacts_phone(page, demo, language):
    seeds = log_in(page, demo, language)
    words = WORDS[language]
    page.goto("/loyalty/settings/")
    edit_in_dialog(
        page, "Gold", {words["threshold"]: "600", words["benefits"]: "Free drink"}, words
    )
    expect(page.get_by_role("status")).to_contain_text(words["tier_saved"])
    edit_in_dialog(page, "Free shipping", {words["points_cost"]: "90"}, words)
    expect(page.get_by_role("status")).to_contain_text(words["reward_saved"])
    with scope(merchant=demo.merchant):
        gold = Tier.objects.get(merchant=demo.merchant, name="Gold")
        shipping = Reward.objects.get(merchant=demo.merchant, name="Free shipping")
        mark = Contact.objects.get(merchant=demo.merchant, first_name="Mark")
        other = Contact.objects.exclude(pk=mark.pk).filter(phone__isnull=False).first()
        old_phone = str(mark.phone)
    assert (gold.threshold, gold.benefits) == (600, "Free drink")
    assert shipping.points_cost == 90

    open_contact(page, seeds, "Mark", "Mark Nguyen")
    page.get_by_role("link", name=words["edit_contact"]).click()
    phone = page.get_by_label(words["phone"], exact=True)
    # Someone else's number is refused next to the field.
    phone.fill(str(other.phone))
    page.get_by_role("button", name=words["save"], exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(words["taken"])
    # A new number, typed the way the counter types it.
    page.get_by_label(words["phone"], exact=True).fill("0977.123.456")
    page.get_by_role("button", name=words["save"], exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(words["contact_saved"])
    expect(page.get_by_role("heading", name="Mark Nguyen", level=1)).to_be_visible()
    expect(page.get_by_text("+84977123456", exact=True)).to_be_visible()
    page.get_by_role("link", name=words["membership"], exact=True).click()
    expect(page.get_by_text(re.compile(words["not_activated"])).first).to_be_visible()
    with scope(merchant=demo.merchant):
        old = Member.objects.get(merchant=demo.merchant, phone=old_phone)
        new = Member.objects.get(merchant=demo.merchant, phone="+84977123456")
    assert old.contact_id is None and new.contact_id == mark.pk
    assert new.status == "not_activated"
