"""The seed articles 000, 002, 003 and 004, walked click by click in a real browser with
the articles' words, in English and in Vietnamese, against the demo merchant.

Controls are found by role and accessible name only, as a person reading the screen
(or a screen reader) finds them.
"""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

W = {
    "en": {
        "login": "Log in", "password": "Password", "contacts": "Contacts",
        "search": "Search contacts", "remove": "Remove {}", "save": "Save",
        "chips": "Available coupons", "points": "Points", "discount_codes": "Discount Codes",
        "available_codes": "Available Discount Codes", "past_codes": "Past Discount Codes",
        "more": "More actions for {}", "event_data": "Event Data", "reason": "Reason",
        "regenerate": "Delete and generate new", "activity": "Activity", "send_sms": "Send SMS",
        "add_note": "Add Note", "note": "Note", "save_note": "Save note",
        "leaderboard": "Rewards Leaderboard", "contact_points": "Contact Points",
        "create_contact": "Create Contact", "create": "Create", "first_name": "First name",
        "phone": "Phone", "add_points": "Add Points for {}", "give_points": "Give Points",
        "add": "Add", "points_dashboard": "Points Dashboard", "redeem": "Redeem Points",
        "claim": "Claim Reward {}", "membership": "Membership",
        "activate": "Activate member", "exclude": "Remove from program",
        "adjust": "Adjust points and tier", "delete_member": "Delete member",
        "members": "Members", "not_activated": "Not activated", "excluded": "Excluded",
        "percentage": "Percentage off", "available": "Available", "used": "Used",
        "activated": "Activated", "from_phone": "Move points and tier from the member with phone",
        "tier": "Tier", "refused": "cannot be deleted", "deleted": "Member deleted.",
        "points_label": "Points", "category": "Purchase",
    },
    "vi": {
        "login": "Đăng nhập", "password": "Mật khẩu", "contacts": "Khách hàng",
        "search": "Tìm khách hàng", "remove": "Gỡ {}", "save": "Lưu",
        "chips": "Mã giảm giá hiện có", "points": "Điểm", "discount_codes": "Mã giảm giá",
        "available_codes": "Mã giảm giá hiện có", "past_codes": "Mã giảm giá đã qua",
        "more": "Thao tác khác cho {}", "event_data": "Dữ liệu sự kiện", "reason": "Lý do",
        "regenerate": "Xóa và tạo mã mới", "activity": "Hoạt động", "send_sms": "Gửi SMS",
        "add_note": "Thêm ghi chú", "note": "Ghi chú", "save_note": "Lưu ghi chú",
        "leaderboard": "Bảng xếp hạng điểm thưởng", "contact_points": "Điểm khách hàng",
        "create_contact": "Tạo khách hàng", "create": "Tạo", "first_name": "Tên",
        "phone": "Số điện thoại", "add_points": "Thêm điểm cho {}", "give_points": "Tặng điểm",
        "add": "Thêm", "points_dashboard": "Bảng điểm", "redeem": "Đổi điểm",
        "claim": "Nhận ưu đãi {}", "membership": "Thành viên",
        "activate": "Kích hoạt thành viên", "exclude": "Loại khỏi chương trình",
        "adjust": "Điều chỉnh điểm và hạng thành viên", "delete_member": "Xóa thành viên",
        "members": "Khách hàng thành viên", "not_activated": "Chưa kích hoạt",
        "excluded": "Đã loại trừ", "percentage": "Giảm theo phần trăm",
        "available": "Có thể dùng", "used": "Đã dùng", "activated": "Đã kích hoạt",
        "from_phone": "Chuyển điểm và hạng từ thành viên có số điện thoại",
        "tier": "Hạng", "refused": "Không thể xóa", "deleted": "Đã xóa thành viên.",
        "points_label": "Điểm", "category": "Purchase",
    },
}  # fmt: skip
LANGUAGES = ["en", "vi"]


def log_in(page, demo, language):
    words = W[language]
    page.goto("/login/")
    if language != "en":
        page.get_by_label("Language").select_option(language)
        page.wait_for_load_state()
    page.get_by_label("Email").fill(demo.email)
    page.get_by_label(words["password"]).fill(demo.password)
    page.get_by_role("button", name=words["login"]).click()
    page.get_by_role("heading", name=words["contacts"]).wait_for()
    return words


def open_contact(page, words, query, name):
    page.get_by_role("navigation", name=re.compile("Main menu|Menu chính")).get_by_role(
        "link", name=words["contacts"], exact=True
    ).click()
    page.get_by_label(words["search"]).fill(query)
    link = page.get_by_role("table").get_by_role("link", name=name, exact=True)
    link.wait_for()
    link.click()
    page.get_by_role("heading", name=name, level=1).wait_for()


def available_points(page, words):
    page.get_by_role("link", name=words["points"], exact=True).click()
    return int(re.sub(r"\D", "", page.get_by_test_id("available").inner_text()) or 0)


def shows_number(number):
    """A pattern for a whole number as either language writes it (1,220 / 1.220 / 1220)."""
    digits = f"{number:,}".replace(",", r"[.,\s\u202f]?")
    return re.compile(rf"(?<![\d.,]){digits}(?![\d])")


def chip_labels(page, words):
    chips = page.get_by_role("list", name=words["chips"]).get_by_role("listitem")
    return [re.sub(r"\s*×\s*$", "", t).strip() for t in chips.all_inner_texts()]  # noqa: RUF001 (the chip's X)


@pytest.mark.parametrize("language", LANGUAGES)
def test_seed_000_remove_coupons_from_a_customer(page, demo, language):
    words = log_in(page, demo, language)
    open_contact(page, words, "Mark", "Mark Nguyen")
    # Step 2: the coupon tags in the upper left corner of the profile.
    labels = chip_labels(page, words)
    for label in ("Birthday Coupon", "Rewards Coupon", "Re-invitation Coupon"):
        assert any(label in chip for chip in labels), labels
    before = available_points(page, words)
    # Step 3: X next to the Rewards Coupon, then Save.
    page.get_by_role("button", name=words["remove"].format("Rewards Coupon")).click()
    dialog = page.get_by_role("dialog", name=words["remove"].format("Rewards Coupon"))
    dialog.get_by_role("button", name=words["save"]).click()
    # The form posts and comes back to the profile without the chip.
    expect(page.get_by_role("button", name=words["remove"].format("Rewards Coupon"))).to_have_count(
        0
    )
    # Step 4: refresh; the points are updated.
    page.reload()
    after = available_points(page, words)
    assert after != before
    # Step 5: the same for the Re-invitation Coupon.
    page.get_by_role("button", name=words["remove"].format("Re-invitation Coupon")).click()
    page.get_by_role("dialog", name=words["remove"].format("Re-invitation Coupon")).get_by_role(
        "button", name=words["save"]
    ).click()
    expect(
        page.get_by_role("button", name=words["remove"].format("Re-invitation Coupon"))
    ).to_have_count(0)
    page.reload()
    # Step 7: only the Birthday Coupon remains.
    labels = chip_labels(page, words)
    assert len(labels) == 1 and "Birthday Coupon" in labels[0]


@pytest.mark.parametrize("language", LANGUAGES)
def test_seed_002_discount_codes_tab(page, demo, language):
    words = log_in(page, demo, language)
    open_contact(page, words, "Mark", "Mark Nguyen")
    # By default the profile opens on Activity; then the Discount Codes tab.
    assert page.get_by_role("link", name=words["activity"]).get_attribute("aria-current") == "page"
    page.get_by_role("link", name=words["discount_codes"], exact=True).click()
    available = page.get_by_role("table", name=words["available_codes"])
    past = page.get_by_role("table", name=words["past_codes"])
    row = available.get_by_role("row").filter(has_text="Birthday Coupon")
    text = row.inner_text()
    assert "20%" in text and words["percentage"] in text and words["available"] in text
    assert words["used"] in past.inner_text()
    code = row.get_by_role("code").inner_text() if row.get_by_role("code").count() else ""
    code = code or re.search(r"BDAY[-\w]+", text).group(0)
    # The three dots: the full JSON event data.
    row.get_by_role("button", name=words["more"].format(code)).click()
    dialog = page.get_by_role("dialog", name=re.compile(re.escape(code)))
    assert '"type": "issued"' in dialog.get_by_label(words["event_data"]).inner_text()
    # Delete and generate new.
    dialog.get_by_label(words["reason"]).fill("Customer could not use it")
    dialog.get_by_role("button", name=words["regenerate"]).click()
    available = page.get_by_role("table", name=words["available_codes"])
    new_row = available.get_by_role("row").filter(has_text="Birthday Coupon")
    new_row.wait_for()
    assert code not in new_row.inner_text()
    assert code in page.get_by_role("table", name=words["past_codes"]).inner_text()
    new_code = re.search(r"BDAY[-\w]+", new_row.inner_text()).group(0)
    # Text the code with Send SMS on the Activity tab, then document it with Add Note.
    page.get_by_role("link", name=words["activity"], exact=True).click()
    send = page.get_by_text(words["send_sms"], exact=True).first
    send.click()
    page.get_by_role("textbox", name=re.compile("Message|Tin nhắn|Nội dung")).fill(
        f"Your new code: {new_code}"
    )
    with page.expect_response(lambda answer: "/sms/" in answer.url):
        page.get_by_role("button", name=words["send_sms"]).click()
    page.get_by_text(words["add_note"]).first.click()
    page.get_by_label(words["note"], exact=True).fill(f"Regenerated {code} as {new_code}")
    page.get_by_role("button", name=words["save_note"]).click()
    page.get_by_text(f"Regenerated {code} as {new_code}").first.wait_for()


@pytest.mark.parametrize("language", LANGUAGES)
def test_seed_003_give_and_redeem_points(page, demo, language):
    words = log_in(page, demo, language)
    page.get_by_role("link", name=words["leaderboard"], exact=True).click()
    page.get_by_role("link", name=words["contact_points"]).click()
    # Search by name finds an existing contact.
    page.get_by_label(words["search"]).fill("Mark")
    page.get_by_role("button", name=re.compile("^(Search|Tìm)$")).click()
    page.get_by_role("link", name="Mark Nguyen", exact=True).wait_for()
    # The contact does not exist: Create Contact.
    page.get_by_role("button", name=words["create_contact"]).click()
    dialog = page.get_by_role("dialog", name=words["create_contact"])
    dialog.get_by_label(words["first_name"]).fill("Quỳnh")
    dialog.get_by_label(words["phone"], exact=True).fill("0977 123 456")
    dialog.get_by_role("button", name=words["create"], exact=True).click()
    page.get_by_role("link", name=words["add_points"].format("Quỳnh")).click()
    # A POS-less manual contact is not a member yet: activate, then Give Points.
    page.get_by_role("link", name=words["membership"], exact=True).click()
    join = page.get_by_role("button", name=re.compile("Add to the loyalty program|Thêm vào"))
    if join.count():
        join.click()
    page.get_by_role("button", name=words["activate"]).click()
    # Activation may come with the program's sign-up bonus.
    before = available_points(page, words)
    page.get_by_role("button", name=words["give_points"]).click()
    give = page.get_by_role("dialog", name=words["give_points"])
    give.get_by_role("radio", name=words["category"]).check()
    give.get_by_label(words["points_label"], exact=True).fill("120")
    # The checkout line shows the resulting total before Add.
    total = before + 120
    expect(give.get_by_role("status")).to_contain_text(shows_number(total))
    give.get_by_role("button", name=words["add"], exact=True).click()
    expect(page.get_by_test_id("available").first).to_contain_text(shows_number(total))
    # The new points on the Points Dashboard.
    page.get_by_role("link", name=words["points_dashboard"], exact=True).click()
    latest = page.get_by_role("row").filter(has_text="Quỳnh").first
    assert "+120" in latest.inner_text()
    # Redeem Points lists what the balance affords; Claim Reward redeems.
    page.get_by_role("link", name="Quỳnh").first.click()
    page.get_by_role("button", name=words["redeem"], exact=True).click()
    redeem = page.get_by_role("dialog", name=words["redeem"], exact=True)
    # The balance affords the demo's cheapest reward, Free shipping for 100 points.
    redeem.get_by_role("button", name=words["claim"].format("Free shipping")).click()
    expect(page.get_by_test_id("available").first).to_contain_text(shows_number(total - 100))


@pytest.mark.parametrize("language", LANGUAGES)
def test_seed_004_member_states_phone_change_and_delete(page, demo, language):
    words = log_in(page, demo, language)
    # The Members lists by state; a Not activated member is activated.
    page.get_by_role("link", name=words["members"], exact=True).click()
    page.get_by_role("link", name=words["not_activated"]).click()
    first = page.get_by_role("table").get_by_role("link").first
    name = first.inner_text()
    first.click()
    page.get_by_role("button", name=words["activate"]).click()
    membership = page.get_by_role("region", name=words["membership"])
    expect(membership).to_contain_text(words["activated"])
    # Remove from program, with a reason.
    page.get_by_role("button", name=words["exclude"]).click()
    dialog = page.get_by_role("dialog", name=words["exclude"])
    dialog.get_by_label(words["reason"]).fill("Asked to leave")
    dialog.get_by_role("button", name=words["exclude"]).click()
    expect(membership).to_contain_text(words["excluded"])
    assert name
    # Customer A (0980.000.000) changes phone: a new, not activated member appears and
    # the old one keeps 1000 points and Diamond.
    open_contact(page, words, "0980000000", "Anh Trần")
    contact_url = page.url
    from django_scopes import scope

    from patron.contacts.models import Contact
    from patron.contacts.services import contact_update
    from patron.lib.actors import Actor

    with scope(merchant=demo.merchant):
        anh = Contact.objects.get(merchant=demo.merchant, phone="+84980000000")
        contact_update(
            merchant=demo.merchant, contact=anh, actor=Actor.system("POS"), phone="0980.000.001"
        )
    page.goto(contact_url.rstrip("/") + "/membership/")
    region = page.get_by_role("region", name=words["membership"])
    if not region.count():
        page.get_by_role("button", name=re.compile("Add to the loyalty program|Thêm vào")).click()
        region = page.get_by_role("region", name=words["membership"])
    assert "+84980000001" in region.inner_text()
    assert words["not_activated"] in region.inner_text()
    # Adjust points and tier: move them from the old number, with a reason.
    page.get_by_role("button", name=words["adjust"]).click()
    adjust = page.get_by_role("dialog", name=words["adjust"])
    adjust.get_by_label(words["from_phone"]).fill("0980.000.000")
    adjust.get_by_label(words["reason"]).fill("Customer changed phone")
    adjust.get_by_role("button", name=words["save"]).click()
    expect(page.get_by_role("region", name=words["membership"])).to_contain_text(shows_number(1000))
    # Delete member: refused while a contact has the number, allowed for the old one.
    page.get_by_role("button", name=words["delete_member"]).click()
    dialog = page.get_by_role("dialog", name=words["delete_member"])
    dialog.get_by_label(words["reason"]).fill("Duplicate")
    dialog.get_by_role("button", name=words["delete_member"]).click()
    page.get_by_text(re.compile(words["refused"])).first.wait_for()
    page.get_by_role("link", name=words["members"], exact=True).click()
    page.get_by_label(re.compile("Search members|Tìm thành viên")).fill("0980000000")
    page.get_by_role("button", name=re.compile("^(Search|Tìm)$")).click()
    page.get_by_role("table").get_by_role("link", name="+84980000000").click()
    page.get_by_role("button", name=words["delete_member"]).click()
    dialog = page.get_by_role("dialog", name=words["delete_member"])
    dialog.get_by_label(words["reason"]).fill("Old number, points moved")
    dialog.get_by_role("button", name=words["delete_member"]).click()
    page.get_by_text(words["deleted"]).wait_for()
