"""Every staff page renders for the demo merchant, and staff-role limits hold."""

from django.test import Client
from django_scopes import scope

from patron.contacts.models import Contact
from patron.coupons.models import Coupon
from patron.loyalty.models import Member
from patron.tenants.models import User


def staff_urls(merchant) -> list[str]:
    with scope(merchant=merchant):
        mark = Contact.objects.get(merchant=merchant, first_name="Mark")
        member = Member.objects.filter(merchant=merchant, contact=mark).first()
    urls = [
        "/contacts/",
        "/contacts/?state=active",
        f"/contacts/{mark.pk}/",
        f"/contacts/{mark.pk}/points/",
        f"/contacts/{mark.pk}/discount-codes/",
        f"/contacts/{mark.pk}/membership/",
        "/loyalty/members/",
        "/loyalty/members/?state=not_activated",
        "/loyalty/members/?state=excluded",
        "/reports/leaderboard/",
        "/reports/leaderboard/?period=month",
        "/reports/contact-points/",
        "/reports/contact-points/?q=Mark",
        "/reports/points/",
        "/reports/dashboard/",
        "/settings/",
        "/settings/staff/",
        "/settings/api-keys/",
        "/settings/language/",
        "/loyalty/settings/",
    ]
    if member:
        urls.append(f"/loyalty/members/{member.pk}/")
    return urls


def owner(demo) -> Client:
    client = Client()
    client.force_login(User.objects.get(email=demo.email))
    return client


def test_every_staff_page_renders_for_the_demo(demo):
    client = owner(demo)
    for url in staff_urls(demo.merchant):
        answer = client.get(url)
        assert answer.status_code == 200, url


def test_mark_has_his_three_coupons_as_chips_and_in_available_codes(demo):
    client = owner(demo)
    with scope(merchant=demo.merchant):
        mark = Contact.objects.get(merchant=demo.merchant, first_name="Mark")
        codes = list(
            Coupon.objects.filter(contact=mark, status="available").values_list("code", flat=True)
        )
    page = client.get(f"/contacts/{mark.pk}/discount-codes/").content.decode()
    for label in ("Birthday Coupon", "Rewards Coupon", "Re-invitation Coupon"):
        assert f"Remove {label}" in page
    for code in codes:
        assert code in page
    assert "Past Discount Codes" in page and "Event Data" in page


def test_staff_role_cannot_open_the_program_settings(demo):
    client = Client()
    client.force_login(User.objects.get(email="staff@demo.patron"))
    assert client.get("/loyalty/settings/").status_code == 403
    assert client.post("/loyalty/settings/", {"form": "tier", "name": "X"}).status_code == 403
