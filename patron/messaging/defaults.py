"""The message templates every merchant starts with, in English and Vietnamese.

The built-in workflows (patron/automations/templates.py) send these by key, so a
merchant rewords a message in Messaging > Templates without touching the workflow. The
texts are written out per language here (not through gettext): both languages are
installed for every merchant, and the merchant's language picks one when sending.
"""

from dataclasses import dataclass

WELCOME = "welcome"
BIRTHDAY_COUPON = "birthday_coupon"
REINVITATION_COUPON = "reinvitation_coupon"
POINTS_EXPIRING = "points_expiring"


@dataclass(frozen=True)
class DefaultTemplate:
    key: str
    channel: str
    language: str
    name: str
    body: str
    subject: str = ""
    marketing: bool = False


BUILT_IN: tuple[DefaultTemplate, ...] = (
    # Welcome (seed 001, "Add to the loyalty program"): a service message to a new member.
    DefaultTemplate(
        WELCOME,
        "sms",
        "en",
        "Welcome",
        "Hi {first_name}, welcome to the {merchant} loyalty program! You now earn points "
        "on every visit. Your points: {portal_link}",
    ),
    DefaultTemplate(
        WELCOME,
        "sms",
        "vi",
        "Chào mừng",
        "Chào {first_name}, chào mừng bạn đến với chương trình khách hàng thân thiết của "
        "{merchant}! Bạn được tích điểm mỗi lần ghé. Xem điểm: {portal_link}",
    ),
    DefaultTemplate(
        WELCOME,
        "email",
        "en",
        "Welcome",
        "Hi {first_name},\n\nYou are now a member of the {merchant} loyalty program. You "
        "earn points on every visit and can spend them on rewards. You have {points} "
        "points.\n\nSee your points and rewards: {portal_link}\n\nSee you soon!",
        subject="Welcome to the {merchant} loyalty program",
    ),
    DefaultTemplate(
        WELCOME,
        "email",
        "vi",
        "Chào mừng",
        "Chào {first_name},\n\nBạn đã là thành viên chương trình khách hàng thân thiết của "
        "{merchant}. Mỗi lần ghé bạn đều được tích điểm và có thể đổi điểm lấy quà. Bạn "
        "đang có {points} điểm.\n\nXem điểm và quà tặng: {portal_link}\n\nHẹn gặp lại bạn!",
        subject="Chào mừng bạn đến với chương trình khách hàng thân thiết của {merchant}",
    ),
    # Birthday coupon.
    DefaultTemplate(
        BIRTHDAY_COUPON,
        "sms",
        "en",
        "Birthday coupon",
        "Happy birthday {first_name}! A gift from {merchant}: your birthday discount code "
        "{coupon_code}.",
        marketing=True,
    ),
    DefaultTemplate(
        BIRTHDAY_COUPON,
        "sms",
        "vi",
        "Mã giảm giá sinh nhật",
        "Chúc mừng sinh nhật {first_name}! {merchant} gửi tặng bạn mã giảm giá sinh nhật: "
        "{coupon_code}.",
        marketing=True,
    ),
    DefaultTemplate(
        BIRTHDAY_COUPON,
        "email",
        "en",
        "Birthday coupon",
        "Hi {first_name},\n\nHappy birthday from all of us at {merchant}! To celebrate, "
        "here is your birthday discount code: {coupon_code}\n\nShow it at your next visit "
        "or use it when you order online.\n\n{portal_link}",
        subject="Happy birthday, {first_name}!",
        marketing=True,
    ),
    DefaultTemplate(
        BIRTHDAY_COUPON,
        "email",
        "vi",
        "Mã giảm giá sinh nhật",
        "Chào {first_name},\n\n{merchant} chúc bạn sinh nhật thật vui! Nhân dịp này, mã "
        "giảm giá sinh nhật của bạn là: {coupon_code}\n\nHãy đưa mã này ở lần ghé tới "
        "hoặc dùng khi đặt hàng trực tuyến.\n\n{portal_link}",
        subject="Chúc mừng sinh nhật {first_name}!",
        marketing=True,
    ),
    # Re-invitation coupon after N days without a visit.
    DefaultTemplate(
        REINVITATION_COUPON,
        "sms",
        "en",
        "Re-invitation coupon",
        "We miss you, {first_name}! Come back to {merchant} with this discount code: {coupon_code}",
        marketing=True,
    ),
    DefaultTemplate(
        REINVITATION_COUPON,
        "sms",
        "vi",
        "Mã giảm giá mời quay lại",
        "{merchant} nhớ bạn, {first_name}! Hãy quay lại và dùng mã giảm giá này: {coupon_code}",
        marketing=True,
    ),
    DefaultTemplate(
        REINVITATION_COUPON,
        "email",
        "en",
        "Re-invitation coupon",
        "Hi {first_name},\n\nIt has been a while since your last visit to {merchant}. "
        "Come back soon: this discount code is waiting for you: {coupon_code}\n\nYou also "
        "have {points} points to spend.\n\n{portal_link}",
        subject="We miss you at {merchant}",
        marketing=True,
    ),
    DefaultTemplate(
        REINVITATION_COUPON,
        "email",
        "vi",
        "Mã giảm giá mời quay lại",
        "Chào {first_name},\n\nĐã lâu rồi bạn chưa ghé {merchant}. Hãy quay lại nhé: mã "
        "giảm giá này đang chờ bạn: {coupon_code}\n\nBạn còn {points} điểm để sử "
        "dụng.\n\n{portal_link}",
        subject="{merchant} nhớ bạn",
        marketing=True,
    ),
    # Points-expiring reminder.
    DefaultTemplate(
        POINTS_EXPIRING,
        "sms",
        "en",
        "Points expiring reminder",
        "{first_name}, {expiring_points} of your {merchant} points expire on "
        "{points_expire_on}. Come and spend them!",
        marketing=True,
    ),
    DefaultTemplate(
        POINTS_EXPIRING,
        "sms",
        "vi",
        "Nhắc điểm sắp hết hạn",
        "{first_name} ơi, {expiring_points} điểm của bạn tại {merchant} sẽ hết hạn vào "
        "{points_expire_on}. Hãy ghé dùng điểm nhé!",
        marketing=True,
    ),
    DefaultTemplate(
        POINTS_EXPIRING,
        "email",
        "en",
        "Points expiring reminder",
        "Hi {first_name},\n\n{expiring_points} of your points at {merchant} expire on "
        "{points_expire_on}. You have {points} points in all: spend them on a reward "
        "before they go.\n\n{portal_link}",
        subject="Your {merchant} points expire soon",
        marketing=True,
    ),
    DefaultTemplate(
        POINTS_EXPIRING,
        "email",
        "vi",
        "Nhắc điểm sắp hết hạn",
        "Chào {first_name},\n\n{expiring_points} điểm của bạn tại {merchant} sẽ hết hạn "
        "vào {points_expire_on}. Bạn đang có tổng cộng {points} điểm: hãy đổi quà trước "
        "khi điểm hết hạn.\n\n{portal_link}",
        subject="Điểm của bạn tại {merchant} sắp hết hạn",
        marketing=True,
    ),
)
